#!/usr/bin/env bash
# Installs what jobgroup needs to build, test and run, from Debian bookworm's
# packages. Used by the README quick start, .ci/run and the Dockerfile.
# Usage: scripts/install-deps.sh [build|test|all]   (default: all)
set -euo pipefail
what="${1:-all}"

build_pkgs=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev prometheus-cpp-dev libssl-dev libcurl4-openssl-dev
)
test_pkgs=(
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev
  clang-format procps curl openssl prometheus python3 nginx-light wrk
)

pkgs=("${build_pkgs[@]}")
if [[ "$what" == test || "$what" == all ]]; then pkgs+=("${test_pkgs[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node/npm may come from another packaging than Debian's; only ask for them when absent.
if [[ "$what" != build ]] && ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: all ${#pkgs[@]} packages present" >&2

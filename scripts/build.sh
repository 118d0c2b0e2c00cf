#!/usr/bin/env bash
# Configures and builds jobgroup into build/ (Release with debug info).
# Usage: scripts/build.sh [cmake targets...]   (default: everything)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${BUILD_DIR:-build}"
if [[ ! -f "$build_dir/build.ninja" ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    ${CMAKE_ARGS:-} >/dev/null
fi
cmake --build "$build_dir" -j "$(nproc)" ${1:+--target "$@"}

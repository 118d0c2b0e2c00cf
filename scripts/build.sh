#!/usr/bin/env bash
# Configures and builds jobgroup into build/ (Release with debug info).
# Usage: scripts/build.sh [cmake targets...]   (default: everything)
# JOBGROUP_TESTS=OFF / JOBGROUP_BENCH=OFF leave out the tests and the
# benchmarks (and their dependencies), as the quick start does.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${BUILD_DIR:-build}"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DJOBGROUP_TESTS="${JOBGROUP_TESTS:-ON}" -DJOBGROUP_BENCH="${JOBGROUP_BENCH:-ON}" \
  ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build_dir" -j "$(nproc)" ${1:+--target "$@"}

#!/usr/bin/env bash
# The README's second command (and CI's): installs what is missing, builds
# once, and runs every test: unit and integration tests (ctest), the core
# tests under ThreadSanitizer, the metrics/rules checks against a real
# Prometheus, the Kubernetes manifest checks and the container image test.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash scripts/install-deps.sh all || exit 1

declare -a stage_names=() stage_results=()
stage() {  # stage NAME COMMAND...
  local name=$1; shift
  echo "=== $name" >&2
  local start=$SECONDS
  if "$@"; then stage_results+=("ok"); else stage_results+=("FAILED"); fi
  stage_names+=("$name ($((SECONDS - start))s)")
}

stage build bash scripts/build.sh
stage ctest ctest --test-dir build --output-on-failure -j 2 --timeout 300
stage tsan-core bash -c '
  cmake -S . -B build-tsan -G Ninja -DJOBGROUP_CORE_ONLY=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_CXX_FLAGS="-fsanitize=thread -g" >/dev/null &&
  cmake --build build-tsan -j "$(nproc)" &&
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    ctest --test-dir build-tsan --output-on-failure --timeout 600'
for extra in tests/metrics/check_rules.sh tests/metrics/prometheus_e2e.sh \
             tests/interop/run.sh tests/deploy/check_manifests.sh \
             tests/deploy/image_test.sh; do
  if [[ -x $extra ]]; then
    stage "$extra" env JOBGROUPD="$root/build/jobgroupd" \
      JOBGROUP="$root/build/client/jobgroup" bash "$extra" "$root/build/jobgroupd"
  fi
done

echo
echo "=== summary"
passed=0; failed=0
for i in "${!stage_names[@]}"; do
  printf '  %-8s %s\n' "${stage_results[$i]}" "${stage_names[$i]}"
  if [[ ${stage_results[$i]} == ok ]]; then ((passed++)); else ((failed++)); fi
done
echo "stages: $passed passed, $failed failed"
((failed == 0))

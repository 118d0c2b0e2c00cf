#!/usr/bin/env bash
# The README's second command (and CI's): installs what is missing, builds
# once, and runs every test: unit and integration tests (ctest), the core
# tests under ThreadSanitizer, the metrics/rules checks against a real
# Prometheus, the Kubernetes manifest checks and the container image test.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash scripts/install-deps.sh all || exit 1
# Sanitizer reports with function names and lines: llvm-14's symbolizer
# (installed above), named explicitly since Debian ships it with a suffix.
symbolizer=/usr/bin/llvm-symbolizer-14
export ASAN_SYMBOLIZER_PATH=$symbolizer
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 external_symbolizer_path=$symbolizer"
export UBSAN_OPTIONS="print_stacktrace=1 external_symbolizer_path=$symbolizer"

# Each stage's output goes to the terminal and to a log of its own, so that
# the summary can repeat why a failed stage failed.
logs=$(mktemp -d "${TMPDIR:-/tmp}/jobgroup-test-logs.XXXXXX")
declare -a stage_names=() stage_results=() stage_logs=()
stage() {  # stage NAME COMMAND...
  local name=$1; shift
  echo "=== $name" >&2
  local start=$SECONDS log=$logs/$name.log
  # Not a pipe into tee: a process a stage leaves behind would hold the
  # pipe open and the script would wait for it.
  local status=0
  "$@" > >(tee "$log") 2>&1 || status=$?
  if ((status == 0)); then stage_results+=("ok"); else stage_results+=("FAILED"); fi
  stage_names+=("$name ($((SECONDS - start))s)")
  stage_logs+=("$log")
}

stage build bash scripts/build.sh
stage ctest ctest --test-dir build --output-on-failure -j 2 --timeout 300
stage tsan-core bash -c '
  cmake -S . -B build-tsan -G Ninja -DJOBGROUP_CORE_ONLY=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_CXX_FLAGS="-fsanitize=thread -g" >/dev/null &&
  cmake --build build-tsan -j "$(nproc)" &&
  ctest --test-dir build-tsan --output-on-failure --timeout 600'
# The whole suite again under AddressSanitizer and UndefinedBehaviorSanitizer
# (clang), which also builds the libFuzzer targets; each fuzzer then runs
# for a bounded time. Debian's libraries are not instrumented, so ASan's
# container-overflow check (which needs every library built with it) is off.
stage asan-ubsan bash -c '
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++ -DJOBGROUP_BENCH=OFF -DJOBGROUP_FUZZ=ON \
    -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
    >/dev/null &&
  cmake --build build-asan -j "$(nproc)" &&
  ASAN_OPTIONS=detect_container_overflow=0:detect_leaks=0 \
    ctest --test-dir build-asan --output-on-failure -j 2 --timeout 600'
stage fuzz bash -c 'ASAN_OPTIONS=detect_container_overflow=0 \
  bash tests/fuzz/run.sh build-asan "${FUZZ_SECONDS:-45}"'
stage benchmarks-quick bash bench/run_benchmarks.sh --quick
stage readme-commands bash tests/readme/run.sh
export JOBGROUPD="$root/build/jobgroupd" JOBGROUP="$root/build/client/jobgroup"
stage promtool bash tests/metrics/check_rules.sh
stage prometheus-e2e bash tests/metrics/prometheus_e2e.sh
stage interop bash tests/interop/run.sh "$JOBGROUPD"
stage k8s-manifests bash tests/deploy/check_manifests.sh "$JOBGROUPD"
stage container-image bash tests/deploy/image_test.sh "$JOBGROUP"

echo
echo "=== summary"
passed=0; failed=0
for i in "${!stage_names[@]}"; do
  printf '  %-8s %s\n' "${stage_results[$i]}" "${stage_names[$i]}"
  if [[ ${stage_results[$i]} == ok ]]; then ((passed++)); else ((failed++)); fi
done
# Why each failed stage failed: its failure lines (gtest's, ctest's, the
# scripts' FAIL lines, sanitizer summaries), then its last lines.
for i in "${!stage_names[@]}"; do
  [[ ${stage_results[$i]} == ok ]] && continue
  echo
  echo "=== why ${stage_names[$i]} failed"
  grep -aE '^\[  FAILED  \]|Failure$|^FAIL|\*\*\*Failed|\(Failed\)|Timeout|SUMMARY: |ERROR: |error: ' \
    "${stage_logs[$i]}" | head -n 30
  echo "--- its last lines:"
  tail -n 15 "${stage_logs[$i]}"
done
echo "stages: $passed passed, $failed failed"
((failed == 0))

#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time over its seed corpus, after
# replaying the kept crash inputs (regressions/<target>/*) 100 times each:
# one that shows a race (service) need not fail on every run.
# Usage: tests/fuzz/run.sh BUILD_DIR [SECONDS_PER_TARGET]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?build dir with the fuzz targets}
secs=${2:-60}
passed=0; failed=0
for t in validation params jsonl service; do
  bin="$build/tests/fuzz/${t}_fuzz"
  work=$(mktemp -d)
  regress=("$here/regressions/$t"/crash-*)
  if [[ -e ${regress[0]} ]]; then
    if "$bin" -runs=100 "${regress[@]}" >"$work/regress.log" 2>&1; then
      echo "ok    $t: ${#regress[@]} regression inputs"; ((passed++))
    else
      echo "FAIL  $t: a regression input crashes again"; tail -30 "$work/regress.log"
      ((failed++))
    fi
  fi
  # New inputs go to a scratch corpus; the committed seeds stay as they are.
  if "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$work/" "$work" "$here/corpus/$t" >"$work/fuzz.log" 2>&1; then
    echo "ok    $t: $(grep -oE 'Done [0-9]+ runs' "$work/fuzz.log" | tail -1) in ${secs}s"
    ((passed++))
  else
    echo "FAIL  $t: the fuzzer found a crash (keep it under regressions/$t/):"
    tail -40 "$work/fuzz.log"; ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* 2>/dev/null
    ((failed++))
  fi
  rm -rf "$work"
done
echo "fuzz: $passed passed, $failed failed"
((failed == 0))

#!/usr/bin/env bash
# Before and after: runs the same loads against a baseline jobgroupd and the
# current one, alternating (baseline, current, baseline, ...) so that both
# see the same machine, and prints a Markdown table of the medians and the
# current/baseline ratio. The clients come from the current build.
#
# Usage: bench/ab.sh BASELINE_JOBGROUPD [runs]
#   e.g.  git worktree add /tmp/base <commit> && (cd /tmp/base &&
#         BUILD_DIR=/tmp/base/build JOBGROUP_TESTS=OFF bash scripts/build.sh \
#         jobgroupd) && bench/ab.sh /tmp/base/build/jobgroupd
# Environment: BUILD_DIR (default build), DURATION of each timed load
# (default 5s).
set -euo pipefail
cd "$(dirname "$0")/.."
baseline=${1:?usage: bench/ab.sh BASELINE_JOBGROUPD [runs]}
runs=${2:-3}
build=${BUILD_DIR:-build}
current=$build/jobgroupd
e2e=$build/bench/e2e_bench
client=$build/client/jobgroup
duration=${DURATION:-5s}
for bin in "$baseline" "$current" "$e2e" "$client"; do
  [[ -x $bin ]] || { echo "ab: $bin is missing; build it first" >&2; exit 2; }
done

pid=
cleanup() { [[ -z $pid ]] || kill -9 "$pid" 2>/dev/null || true; }
trap cleanup EXIT

# start BINARY : starts a jobgroupd (metrics on) on a free port; sets PORT.
start() {
  local log
  log=$(mktemp)
  "$1" --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 2>"$log" &
  pid=$!
  for _ in $(seq 200); do
    PORT=$(grep -oP ' port=\K[0-9]+' "$log" | head -1 || true)
    [[ -n $PORT ]] && { rm -f "$log"; return 0; }
    sleep 0.05
  done
  echo "ab: $1 did not start: $(cat "$log")" >&2
  exit 2
}
stop() { kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
kv() { grep -oP "$1=\K[0-9.]+" <<<"$2"; }
js() { grep -oP "\"$1\":\K[0-9.]+" <<<"$2" | head -1; }

# Each load is a function of the port that prints one number.
load_echo() { kv jobs_per_second "$("$e2e" echo --target=127.0.0.1:$1 \
  --jobs=10000 --calls=200 --concurrency=2)"; }
load_sleep_wall() { kv wall_seconds "$("$e2e" sleeps --target=127.0.0.1:$1 \
  --jobs=100000 --ms=100 --pid="$pid")"; }
load_sleep_rss() { kv server_peak_rss_mb "$("$e2e" sleeps \
  --target=127.0.0.1:$1 --jobs=100000 --ms=100 --pid="$pid")"; }
load_small() { js calls_per_s "$("$client" bench --target 127.0.0.1:$1 \
  --jobs-per-call 10 --concurrency 32 --duration "$duration" --warmup 1s \
  --json)"; }
load_small_p99() { js p99 "$("$client" bench --target 127.0.0.1:$1 \
  --jobs-per-call 10 --rate "$half_peak" --duration "$duration" \
  --warmup 1s --json)"; }
load_process() { js jobs_per_s "$("$client" bench --target 127.0.0.1:$1 \
  --method process --jobs-per-call 100000 --concurrency 1 \
  --duration "$duration" --warmup 1s --json)"; }

rows=()
# measure LABEL LOAD : alternates baseline and current, $runs times each.
measure() {
  local label=$1 load=$2 b=() c=() i
  echo "ab: $label" >&2
  for ((i = 0; i < runs; i++)); do
    start "$baseline"; b+=("$($load "$PORT")"); stop
    start "$current"; c+=("$($load "$PORT")"); stop
  done
  local mb mc
  mb=$(median "${b[@]}"); mc=$(median "${c[@]}")
  last_current=$mc
  rows+=("$(printf '| %s | %s | %s | %s |' "$label" "$mb" "$mc" \
    "$(awk -v a="$mc" -v b="$mb" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')")")
}

measure "echo jobs/s, RunBatch 10,000-job calls, 2 in flight" load_echo
measure "100,000 sleep(100 ms) in one call: wall s" load_sleep_wall
measure "same: server peak RSS MB" load_sleep_rss
measure "10-job calls/s, 32 in flight" load_small
half_peak=$(awk -v r="$last_current" 'BEGIN { printf "%d", r / 2 }')
measure "10-job calls at $half_peak/s (half the current peak, open loop): p99 ms" \
  load_small_p99
measure "Process echo jobs/s, 100,000-job stream" load_process

cat <<EOF
| load (median of $runs, alternating) | baseline | current | current / baseline |
| --- | --- | --- | --- |
EOF
printf '%s\n' "${rows[@]}"

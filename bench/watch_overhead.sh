#!/usr/bin/env bash
# What serving the live views costs the job path: RunBatch echo throughput
# of one jobgroupd with nobody watching, against the same server with a
# `jobgroup top` (WatchServer every 100 ms) and the status page open
# (/statusz fetched every 2 s, as the page refreshes itself), both at
# the lowest CPU priority. The runs come in pairs on one server, in the
# order none-watched, then watched-none, and so on (so that a drift of the
# machine or the server over the runs favours neither), and prints a
# Markdown table of the medians and the median of the pairs' watched / none.
#
# Usage: bench/watch_overhead.sh [runs]   (default 5)
# Environment: BUILD_DIR (default build), DURATION of each run (default 5s).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
build=${BUILD_DIR:-build}
server=$build/jobgroupd
client=$build/client/jobgroup
e2e=$build/bench/e2e_bench
duration=${DURATION:-5s}
for bin in "$server" "$client" "$e2e"; do
  [[ -x $bin ]] || { echo "watch_overhead: $bin is missing; build it first" >&2; exit 2; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
echo "watch-overhead-admin-token" >"$work/admin"
"$server" --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --admin_tokens_file="$work/admin" 2>"$work/log" &
pids+=($!)
for _ in $(seq 200); do
  port=$(grep -oP ' port=\K[0-9]+' "$work/log" | head -1 || true)
  mport=$(grep -oP 'metrics_port=\K[0-9]+' "$work/log" | head -1 || true)
  [[ -n $port && -n $mport ]] && break
  sleep 0.05
done
[[ -n $port ]] || { echo "watch_overhead: jobgroupd did not start" >&2; cat "$work/log" >&2; exit 2; }

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
js() { grep -oP "\"$1\":\K[0-9.]+" <<<"$2" | head -1; }
kv() { grep -oP "$1=\K[0-9.]+" <<<"$2"; }
small() { js calls_per_s "$("$client" bench --target "127.0.0.1:$port" \
  --jobs-per-call 10 --concurrency 32 --duration "$duration" --warmup 1s --json)"; }
# Server CPU (user + system, from /proc) per call of a 10-job load without
# warm-up: what the views cost the server itself, whatever the watchers
# cost the machine.
cpu_ticks() { awk '{print $14 + $15}' "/proc/${pids[0]}/stat"; }
small_cpu() {
  local t0 t1 out
  t0=$(cpu_ticks)
  out=$("$client" bench --target "127.0.0.1:$port" --jobs-per-call 10 \
    --concurrency 32 --duration "$duration" --warmup 0 --json)
  t1=$(cpu_ticks)
  awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$(js calls_ended "$out")" \
    'BEGIN { printf "%.2f", d / hz * 1e6 / n }'
}
big() { kv jobs_per_second "$("$e2e" echo --target="127.0.0.1:$port" \
  --jobs=10000 --calls=200 --concurrency=2)"; }
# Server CPU per job of the 10,000-job load, in ns.
big_cpu() {
  local t0 t1
  t0=$(cpu_ticks)
  "$e2e" echo --target="127.0.0.1:$port" --jobs=10000 --calls=200 \
    --concurrency=2 >/dev/null
  t1=$(cpu_ticks)
  awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.1f", d / hz * 1e9 / (200 * 10000) }'
}

# The watchers run at the lowest priority: on a 2-core machine shared by the
# server and the load generator, their own CPU would otherwise be counted
# as the server's cost (an operator's `top` runs on another machine).
watch_on() {
  nice -n 19 "$client" --target "127.0.0.1:$port" top --interval 100ms \
    --admin-token-file "$work/admin" >/dev/null 2>&1 &
  watcher=$!
  (while true; do nice -n 19 curl -fsS "http://127.0.0.1:$mport/statusz" >/dev/null || true; sleep 2; done) &
  page=$!
  sleep 0.5
}
watch_off() { kill "$watcher" "$page" 2>/dev/null || true; wait "$watcher" "$page" 2>/dev/null || true; }

rows=()
measure() {  # measure LABEL LOAD
  local label=$1 load=$2 a=() b=() r=() i x y
  echo "watch_overhead: $label" >&2
  for ((i = 0; i < runs; i++)); do
    if ((i % 2 == 0)); then
      x=$($load)
      watch_on; y=$($load); watch_off
    else
      watch_on; y=$($load); watch_off
      x=$($load)
    fi
    a+=("$x"); b+=("$y")
    r+=("$(awk -v x="$y" -v y="$x" 'BEGIN { printf "%.4f", (y > 0 ? x / y : 0) }')")
    echo "watch_overhead:   pair $((i + 1)): none $x, watched $y" >&2
  done
  rows+=("$(printf '| %s | %s | %s | %.3f |' "$label" "$(median "${a[@]}")" \
    "$(median "${b[@]}")" "$(median "${r[@]}")")")
}
measure "RunBatch echo, 10-job calls, 32 in flight: calls/s" small
measure "RunBatch echo, 10,000-job calls, 2 in flight: jobs/s" big
measure "same 10-job load: server CPU µs per call" small_cpu
measure "same 10,000-job load: server CPU ns per job" big_cpu

cat <<EOF
| load ($runs pairs, alternating order; medians) | nobody watching | top at 100 ms + /statusz every 2 s | watched / none (median of pairs) |
| --- | --- | --- | --- |
EOF
printf '%s\n' "${rows[@]}"

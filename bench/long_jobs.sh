#!/usr/bin/env bash
# Long jobs beside short ones: with two compute jobs of 1e8 SHA-256 rounds
# running on a server of two workers (they take both), how long do other
# calls wait? Measures one-job echo calls and one-job sleep(1 ms) calls, one
# at a time, for DURATION each, while the compute call runs; then the same
# with nothing beside them. Prints p50/p99/max latency of each.
#
# Usage: bench/long_jobs.sh
# Environment:
#   BUILD_DIR  build directory (default build)
#   JOBGROUPD  jobgroupd binary (default $BUILD_DIR/jobgroupd)
#   DURATION   measured time of each load (default 5s)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/bench_lib.sh
build=${BUILD_DIR:-build}
client=$build/client/jobgroup
server=${JOBGROUPD:-$build/jobgroupd}
duration=${DURATION:-5s}
for bin in "$client" "$server"; do
  [[ -x $bin ]] || { echo "long_jobs: $bin is missing; build it first" >&2; exit 2; }
done
log=$(mktemp)
"$server" --listen=127.0.0.1:0 --metrics_listen= --workers=2 2>"$log" &
pid=$!
heavy=""
cleanup() {
  [[ -n $heavy ]] && kill -INT "$heavy" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT
port=""
for _ in $(seq 200); do
  port=$(grep -oP ' port=\K[0-9]+' "$log" | head -1 || true)
  [[ -n $port ]] && break
  sleep 0.05
done
[[ -n $port ]] || { echo "long_jobs: jobgroupd did not start: $(cat "$log")" >&2; exit 2; }
target=127.0.0.1:$port
measure() {  # LABEL ARGS...
  local label=$1 out
  shift
  out=$("$client" bench --target "$target" --jobs-per-call 1 --concurrency 1 \
        --duration "$duration" --warmup 200ms --json "$@") || true
  printf '%-36s calls %6s  p50 %7s ms  p99 %7s ms  max %7s ms\n' "$label" \
    "$(field calls_ended "$out")" "$(field p50 "$out")" "$(field p99 "$out")" \
    "$(field max "$out")"
}
echo "jobgroupd --workers=2 on $(nproc) cores; each load runs $duration"
measure "echo, nothing beside" --kind echo
measure "sleep 1 ms, nothing beside" --kind sleep --param ms=1
"$client" run --target "$target" --kind compute --param rounds=100000000 \
  --count 2 --deadline 10m -q >/dev/null 2>&1 &
heavy=$!
for _ in $(seq 500); do
  info=$("$client" info --target "$target" -o json 2>/dev/null || true)
  [[ $(grep -oP '"longRunning": *\K[0-9]+' <<<"$info" | head -1) == 2 ]] && break
  sleep 0.02
done
measure "echo, two 1e8-round computes beside" --kind echo
measure "sleep 1 ms, two computes beside" --kind sleep --param ms=1
info=$("$client" info --target "$target" -o json 2>/dev/null || true)
echo "while measuring: longRunning=$(grep -oP '"longRunning": *\K[0-9]+' <<<"$info" | head -1) threads=$(grep -oP '"threads": *\K[0-9]+' <<<"$info" | head -1) (compute still running: $(kill -0 "$heavy" 2>/dev/null && echo yes || echo no))"

#!/usr/bin/env bash
# Server instructions per call, counted exactly by callgrind (free of the
# machine's noise): starts jobgroupd under valgrind, warms it up with 3 s
# of `jobgroup bench` load, zeroes the counters, runs 10 s more of the same
# load, dumps, and divides the server's instructions (every thread, gRPC's
# included) by the calls that ended.
#
# Usage: bench/callgrind_per_call.sh [JOBGROUPD] [-- BENCH_ARGS...]
#   default JOBGROUPD: $BUILD_DIR/jobgroupd (BUILD_DIR default build);
#   default load: --jobs-per-call 10 --concurrency 8 (10-job RunBatch calls).
#   e.g. bench/callgrind_per_call.sh /tmp/base/build/jobgroupd
#   JOBGROUPD may be bench/null_service (gRPC and protobuf alone: the
#   ceiling), which takes only --listen.
# Environment: MEASURE, the measured load's duration (default 10s; calls
# of 10,000 jobs need 30s or more under valgrind); SERVER_FLAGS, more flags
# for jobgroupd (e.g. --backend=db=4); WATCH=1, the live views open while
# the load is measured: `jobgroup top --interval 100ms` (WatchServer) and
# /statusz fetched every 2 s. Under valgrind the server runs tens of times
# slower, so the views take that many more snapshots per call than they
# would at full speed: what they cost here is a bound on what they cost.
# CG_OUT=FILE keeps the callgrind dump there (for callgrind_annotate).
# Prints one line: calls=N instructions=I per_call=I/N (and per_job).
# Needs valgrind (Debian: apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
server=$build/jobgroupd
if [[ $# -gt 0 && $1 != -- ]]; then server=$1; shift; fi
[[ ${1:-} == -- ]] && shift
load=("$@")
((${#load[@]})) || load=(--jobs-per-call 10 --concurrency 8)
client=$build/client/jobgroup
for bin in "$server" "$client"; do
  [[ -x $bin ]] || { echo "callgrind_per_call: $bin is missing; build it first" >&2; exit 2; }
done
command -v valgrind >/dev/null || { echo "callgrind_per_call: valgrind is missing" >&2; exit 2; }
work=$(mktemp -d)
vpid=
watchers=()
cleanup() {
  for p in "${watchers[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -n $vpid ]] && kill "$vpid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
echo callgrind-per-call-admin-token >"$work/admin"
null=0
[[ $(basename "$server") == null_service ]] && null=1
if ((null)); then
  server_args=(--listen=127.0.0.1:0)
else
  # shellcheck disable=SC2206  # SERVER_FLAGS is a list of flags.
  server_args=(--listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0
    --admin_tokens_file="$work/admin" ${SERVER_FLAGS:-})
fi
valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$server" \
  "${server_args[@]}" 2>"$work/log" &
vpid=$!
port=
for _ in $(seq 240); do
  port=$(grep -oP ' port=\K[0-9]+' "$work/log" | head -1 || true)
  mport=$(grep -oP 'metrics_port=\K[0-9]+' "$work/log" | head -1 || true)
  [[ -n $port && ( -n $mport || $null == 1 ) ]] && break
  sleep 0.5
done
[[ -n $port ]] || { echo "callgrind_per_call: jobgroupd did not start" >&2; cat "$work/log" >&2; exit 2; }
bench() { "$client" --target "127.0.0.1:$port" bench "${load[@]}" --warmup 0 --json "$@"; }
bench --duration 3s >/dev/null 2>&1 || true  # Warm-up; slow under valgrind.
if [[ ${WATCH:-0} == 1 ]]; then
  "$client" --target "127.0.0.1:$port" top --interval 100ms \
    --admin-token-file "$work/admin" >/dev/null 2>&1 &
  watchers+=($!)
  (while true; do curl -fsS "http://127.0.0.1:$mport/statusz" >/dev/null || true; sleep 2; done) &
  watchers+=($!)
  sleep 2
fi
callgrind_control -z "$vpid" >/dev/null
calls=$(bench --duration "${MEASURE:-10s}" 2>/dev/null | grep -oP '"calls_ended":\K[0-9]+' || true)
[[ -n $calls && $calls -gt 0 ]] || { echo "callgrind_per_call: no call ended; give a longer MEASURE" >&2; exit 1; }
jobs_per_call=$(grep -oP -- '--jobs-per-call \K[0-9]+' <<<"${load[*]}" || echo 1)
callgrind_control -d "$vpid" >/dev/null
sleep 1
kill "$vpid"; wait "$vpid" 2>/dev/null || true; vpid=
[[ -n ${CG_OUT:-} ]] && cp "$work/cg.out.1" "$CG_OUT"
ir=$(callgrind_annotate --threshold=100 "$work/cg.out.1" 2>/dev/null |
  grep "PROGRAM TOTALS" | grep -oP '^[0-9,]+' | tr -d ,)
echo "calls=$calls instructions=$ir per_call=$((ir / calls)) per_job=$((ir / calls / jobs_per_call))"

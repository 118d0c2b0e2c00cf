#!/usr/bin/env bash
# Server CPU per job, for every load in one table: the figure that predicts
# what a job costs at scale. For each load, a fresh server (jobgroupd, and
# null_service for the echo loads: gRPC and protobuf alone, the ceiling)
# runs one `jobgroup bench` of DURATION with no warm-up; the server's CPU
# time (utime + stime from /proc/PID/stat, every thread) over the whole
# run, divided by the jobs that ran (every outcome the client received:
# calls started in the window run to their end), is its CPU per job.
#
# Usage: bench/cpu_per_job.sh [--quick]
#   --quick  short runs, to prove the script works
# Environment:
#   BUILD_DIR  build directory (default build)
#   JOBGROUPD  jobgroupd binary (default $BUILD_DIR/jobgroupd)
#   DURATION   each load's time (default 10s; --quick 1s)
#   RUNS       runs of each load, the servers alternating (default 3; the
#              table shows the median)
# Client and servers share this machine's cores; CPU per job counts the
# server's threads only.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/bench_lib.sh
quick=0
if [[ ${1:-} == --quick ]]; then quick=1; shift; fi
build=${BUILD_DIR:-build}
client=$build/client/jobgroup
null=$build/bench/null_service
server=${JOBGROUPD:-$build/jobgroupd}
for bin in "$client" "$null" "$server"; do
  [[ -x $bin ]] || { echo "cpu_per_job: $bin is missing; build it first" >&2; exit 2; }
done
if ((quick)); then duration=${DURATION:-1s}; runs=${RUNS:-1}; else
  duration=${DURATION:-10s}; runs=${RUNS:-3}; fi

pid=
log=$(mktemp)
cleanup() {
  [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -f "$log"
}
trap cleanup EXIT

# measure SERVER_KIND SERVER_FLAGS -- BENCH_ARGS... : one fresh server and
# one bench run; prints "CPU_US_PER_JOB JOBS_PER_S".
measure() {
  local which=$1 flags=$2
  shift 3
  local bin=$server
  local args=(--listen=127.0.0.1:0)
  if [[ $which == null ]]; then bin=$null; else
    # shellcheck disable=SC2206  # flags is a list.
    args+=(--metrics_listen= $flags)
  fi
  "$bin" "${args[@]}" 2>"$log" &
  pid=$!
  local port=
  for _ in $(seq 200); do
    port=$(grep -oP ' port=\K[0-9]+' "$log" | head -1 || true)
    [[ -n $port ]] && break
    sleep 0.05
  done
  [[ -n $port ]] || { echo "cpu_per_job: $which did not start: $(cat "$log")" >&2; exit 2; }
  local before after out
  before=$(cpu_seconds "$pid")
  out=$("$client" bench --target "127.0.0.1:$port" --duration "$duration" \
    --warmup 0 --json "$@" 2>/dev/null) || true
  after=$(cpu_seconds "$pid")
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=
  awk -v t="$after" -v t0="$before" -v n="$(outcomes_total "$out")" \
    -v r="$(field jobs_per_s "$out")" \
    'BEGIN { if (n > 0) printf "%.2f %.0f\n", (t - t0) * 1e6 / n, r + 0; else print "- -" }'
}

loads=(
  "RunBatch echo, 10,000-job calls, 2 in flight|echo||--jobs-per-call 10000 --concurrency 2"
  "RunBatch echo, 10-job calls, 16 in flight|echo||--jobs-per-call 10 --concurrency 16"
  "RunBatch echo, 10-job calls, 32 in flight|echo||--jobs-per-call 10 --concurrency 32"
  "StreamBatch echo, 10,000-job calls, 2 in flight|echo||--method stream --jobs-per-call 10000 --concurrency 2"
  "Process echo, 100,000-job streams, 1 at a time|echo||--method process --jobs-per-call 100000 --concurrency 1"
  "100,000 sleep(100 ms) in one call|only||--kind sleep --param ms=100 --jobs-per-call 100000 --max-concurrency 100000 --concurrency 1"
  "ETL shape: 5,000 sleep(2 ms) on db=10 per call, rounds of 100|only|--backend=db=10|--kind sleep --param ms=2 --backend db --jobs-per-call 5000 --batch-size 100 --concurrency 1"
  "compute, 1,000 SHA-256 rounds of 64 bytes, 1,000-job calls, 2 in flight|only||--kind compute --param rounds=1000 --payload 0123456789012345678901234567890123456789012345678901234567890123 --jobs-per-call 1000 --concurrency 2"
)
echo "| load | jobgroupd: server CPU µs per job | jobs/s | null_service: CPU µs per job | jobgroupd / null (CPU per job) |"
echo "| --- | --- | --- | --- | --- |"
for entry in "${loads[@]}"; do
  IFS='|' read -r label which flags bargs <<<"$entry"
  read -ra bench_args <<<"$bargs"
  [[ $which == echo ]] && bench_args+=(--kind echo --payload x)
  jg_cpu=() jg_rate=() null_cpu=()
  for ((i = 0; i < runs; i++)); do
    read -r c r < <(measure jobgroupd "$flags" -- "${bench_args[@]}")
    jg_cpu+=("$c") jg_rate+=("$r")
    if [[ $which == echo ]]; then
      read -r c _ < <(measure null "" -- "${bench_args[@]}")
      null_cpu+=("$c")
    fi
  done
  jc=$(median "${jg_cpu[@]}")
  jr=$(median "${jg_rate[@]}")
  nc=-
  ratio=-
  if ((${#null_cpu[@]})); then
    nc=$(median "${null_cpu[@]}")
    ratio=$(awk -v a="$jc" -v b="$nc" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
  fi
  echo "| $label | $jc (${jg_cpu[*]}) | $jr | $nc | $ratio |"
done

#!/usr/bin/env bash
# The ceiling: runs the same `jobgroup bench` loads against null_service (a
# JobService that does no job work: gRPC + protobuf alone) and against
# jobgroupd, one after the other on loopback, and prints jobgroupd's figures
# as ratios of the null service's.
#
# Usage: bench/null_bench.sh [--quick]
#   --quick  short runs, to prove the script works (CI)
# Environment:
#   BUILD_DIR  build directory (default build)
#   JOBGROUPD  jobgroupd binary (default $BUILD_DIR/jobgroupd)
#   DURATION   measured time of each load (default 10s; --quick 1s)
#   RATE       calls/s of the fixed-rate load (default: half of jobgroupd's
#              peak rate of 10-job calls, measured first)
#   VALUES_OUT file to write the key figures to as NAME=VALUE lines (for
#              bench/run_benchmarks.sh)
#
# Loads (every job is echo with a 1-byte payload):
#   1. RunBatch, 10,000 jobs per call, 2 calls in flight      -> jobs/s
#   2. RunBatch, 10 jobs per call, 32 calls in flight (peak)  -> calls/s
#   3. RunBatch, 10 jobs per call, open loop at RATE calls/s  -> latency
#   4. Process, 100,000 jobs per call, 1 stream at a time     -> jobs/s
#   5. 10-job calls with 256 in flight; then in an open loop at twice
#      jobgroupd's peak (the better of 2 and this) -> goodput (jobs that
#      succeeded per second) as a share of each server's own peak
#   6. calls of 10 sleep(10 s) jobs with a 500 ms deadline, 50 calls/s,
#      while load 1 runs beside them -> how late the answer comes after
#      the server's deadline for the call (the client's deadline less
#      --deadline_margin, 100 ms)
# Client, servers and everything else share this machine's cores.
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
  [[ -x $bin ]] || { echo "null_bench: $bin is missing; build it first" >&2; exit 2; }
done
if ((quick)); then duration=${DURATION:-1s}; warmup=200ms; else
  duration=${DURATION:-10s}; warmup=1s; fi

pids=()
logs=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -f "${logs[@]}"
}
trap cleanup EXIT

# start NAME BINARY ARGS... : starts a server on a free loopback port and
# sets PORT to it.
start() {
  local name=$1 log
  shift
  log=$(mktemp)
  logs+=("$log")
  "$@" 2>"$log" &
  pids+=("$!")
  for _ in $(seq 200); do
    PORT=$(grep -oP ' port=\K[0-9]+' "$log" | head -1 || true)
    [[ -n $PORT ]] && return 0
    sleep 0.05
  done
  echo "null_bench: $name did not start: $(cat "$log")" >&2
  exit 2
}

start null_service "$null" --listen=127.0.0.1:0
null_port=$PORT
start jobgroupd "$server" --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0
jobgroupd_port=$PORT

# bench PORT ARGS... : one `jobgroup bench --json` run; prints its JSON.
# Jobs that fail or calls that err do not stop the script: they are in the
# figures.
bench() {
  local port=$1
  shift
  local out
  out=$("$client" bench --target "127.0.0.1:$port" --kind echo --payload x \
        --duration "$duration" --warmup "$warmup" --json "$@") || true
  [[ -n $out ]] || { echo "null_bench: jobgroup bench $* failed" >&2; exit 2; }
  echo "$out"
}
errors() { grep -oP '"errors":\{\K[^}]*' <<<"$1"; }
error_count() { { errors "$1" || true; } | { grep -oP ':\K[0-9]+' || true; } |
  awk '{ n += $1 } END { print n + 0 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

rows=()
# row LABEL KEY NULL_JSON JOBGROUPD_JSON
row() {
  local a b
  a=$(field "$2" "$3")
  b=$(field "$2" "$4")
  rows+=("$(printf '| %s | %s | %s | %s |' "$1" "$a" "$b" "$(ratio "$b" "$a")")")
}
note_errors() {
  local e
  e=$(errors "$2")
  [[ -z $e ]] || echo "null_bench: $1: errors: $e" >&2
}

echo "1/6 RunBatch, 10,000 echo jobs per call, 2 in flight ($duration each)" >&2
n1=$(bench "$null_port" --jobs-per-call 10000 --concurrency 2)
j1=$(bench "$jobgroupd_port" --jobs-per-call 10000 --concurrency 2)
note_errors "load 1 null_service" "$n1"
note_errors "load 1 jobgroupd" "$j1"
row "RunBatch 10,000-job calls: jobs/s" jobs_per_s "$n1" "$j1"
row "  same: call p50 ms" p50 "$n1" "$j1"
row "  same: call p99 ms" p99 "$n1" "$j1"

echo "2/6 RunBatch, 10 echo jobs per call, 32 in flight (peak)" >&2
n2=$(bench "$null_port" --jobs-per-call 10 --concurrency 32)
j2=$(bench "$jobgroupd_port" --jobs-per-call 10 --concurrency 32)
note_errors "load 2 null_service" "$n2"
note_errors "load 2 jobgroupd" "$j2"
row "RunBatch 10-job calls, 32 in flight: calls/s" calls_per_s "$n2" "$j2"
row "  same: call p99 ms" p99 "$n2" "$j2"

rate=${RATE:-$(awk -v r="$(field calls_per_s "$j2")" 'BEGIN { printf "%d", r / 2 }')}
((rate > 0)) || rate=1
echo "3/6 RunBatch, 10 echo jobs per call, open loop at $rate calls/s" >&2
n3=$(bench "$null_port" --jobs-per-call 10 --rate "$rate")
j3=$(bench "$jobgroupd_port" --jobs-per-call 10 --rate "$rate")
note_errors "load 3 null_service" "$n3"
note_errors "load 3 jobgroupd" "$j3"
row "10-job calls at $rate calls/s (open loop): calls/s" calls_per_s "$n3" "$j3"
row "  same: call p50 ms" p50 "$n3" "$j3"
row "  same: call p90 ms" p90 "$n3" "$j3"
row "  same: call p99 ms" p99 "$n3" "$j3"
row "  same: call p99.9 ms" p99_9 "$n3" "$j3"
row "  same: calls started > 1 ms late" late_starts "$n3" "$j3"

echo "4/6 Process, 100,000 echo jobs per stream, 1 stream at a time" >&2
n4=$(bench "$null_port" --method process --jobs-per-call 100000 --concurrency 1)
j4=$(bench "$jobgroupd_port" --method process --jobs-per-call 100000 \
     --concurrency 1)
note_errors "load 4 null_service" "$n4"
note_errors "load 4 jobgroupd" "$j4"
row "Process 100,000-job streams: jobs/s" jobs_per_s "$n4" "$j4"

# The peak: the better of 32 and 256 calls in flight (more calls in flight
# can get more through than 32).
echo "5/6 RunBatch, 10 echo jobs per call, 256 in flight, then 2x the peak" >&2
n5p=$(bench "$null_port" --jobs-per-call 10 --concurrency 256)
j5p=$(bench "$jobgroupd_port" --jobs-per-call 10 --concurrency 256)
row "RunBatch 10-job calls, 256 in flight: calls/s" calls_per_s "$n5p" "$j5p"
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }
peak_n=$(max "$(field jobs_per_s "$n2")" "$(field jobs_per_s "$n5p")")
peak_j=$(max "$(field jobs_per_s "$j2")" "$(field jobs_per_s "$j5p")")
overload=$(awk -v r="$peak_j" 'BEGIN { printf "%d", r / 10 * 2 }')
((overload > 0)) || overload=2
n5=$(bench "$null_port" --jobs-per-call 10 --rate "$overload")
j5=$(bench "$jobgroupd_port" --jobs-per-call 10 --rate "$overload")
g5n=$(goodput "$n5"); g5j=$(goodput "$j5")
rows+=("$(printf '| 10-job calls at %s calls/s (2x jobgroupd peak, open loop): goodput jobs/s | %s | %s | %s |' \
  "$overload" "$g5n" "$g5j" "$(ratio "$g5j" "$g5n")")")
p2n=$peak_n; p2j=$peak_j
rows+=("$(printf '|   same: goodput / own peak goodput (best of 32 and 256 in flight) | %s | %s | |' \
  "$(ratio "$g5n" "$p2n")" "$(ratio "$g5j" "$p2j")")")
row "  same: call p99 ms" p99 "$n5" "$j5"

echo "6/6 deadline: 50 calls/s of 10 sleep(10 s) jobs, 500 ms deadline, beside load 1" >&2
"$client" bench --target "127.0.0.1:$jobgroupd_port" --kind echo --payload x \
  --jobs-per-call 10000 --concurrency 1 --duration "$duration" \
  --warmup "$warmup" >/dev/null 2>&1 &
background=$!
j6=$("$client" bench --target "127.0.0.1:$jobgroupd_port" --kind sleep \
     --param ms=10000 --jobs-per-call 10 --deadline 500ms --rate 50 \
     --duration "$duration" --warmup "$warmup" --json) || true
wait "$background" || true
[[ -n $j6 ]] || { echo "null_bench: deadline load failed" >&2; exit 2; }
note_errors "load 6 jobgroupd" "$j6"
# The server answers at the client's deadline less the margin (100 ms plus
# 2 us per job): lateness is the latency beyond that.
late() { awk -v l="$(field "$1" "$j6")" 'BEGIN { printf "%.2f", l - 400.02 }'; }
expired=$(grep -oP '"DEADLINE_EXCEEDED":\K[0-9]+' <<<"$j6")
rows+=("| 500 ms-deadline calls beside load 1: answer after the server's deadline, p50 ms | - | $(late p50) | |")
rows+=("|   same: p99 ms | - | $(late p99) | |")
rows+=("|   same: max ms | - | $(late max) | |")
rows+=("|   same: jobs ended DEADLINE_EXCEEDED / calls with errors | - | $expired / $(error_count "$j6") | |")

if [[ -n ${VALUES_OUT:-} ]]; then
  cat >"$VALUES_OUT" <<EOF
runbatch_jobs_per_s=$(field jobs_per_s "$j1")
null_runbatch_jobs_per_s=$(field jobs_per_s "$n1")
small_peak_calls_per_s=$(field calls_per_s "$j2")
half_peak_rate=$rate
half_peak_p99_ms=$(field p99 "$j3")
null_half_peak_p99_ms=$(field p99 "$n3")
overload_goodput_ratio=$(ratio "$g5j" "$p2j")
null_overload_goodput_ratio=$(ratio "$g5n" "$p2n")
deadline_late_p99_ms=$(late p99)
deadline_late_max_ms=$(late max)
EOF
fi

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
cat <<EOF

jobgroupd against the null service ($(nproc) cores, $cpu; client and
servers on one machine, loopback; $duration per load after $warmup of warmup):

| load | null_service | jobgroupd | jobgroupd / null |
| --- | --- | --- | --- |
EOF
printf '%s\n' "${rows[@]}"
if ((quick)); then echo "null_bench: quick run ok" >&2; fi

#!/usr/bin/env bash
# Runs the end-to-end benchmarks against fresh jobgroupd processes on
# loopback and writes BENCHMARKS.md (machine, commit, every figure).
# Usage: bench/run_benchmarks.sh [--quick] [output.md]
#   --quick  tiny sizes, to prove the benchmarks build and run (CI).
# Environment: BASELINE=path/to/an/older/jobgroupd adds a before/after
# table (bench/ab.sh); bench/profile_notes.md is appended as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
if [[ ${1:-} == --quick ]]; then quick=1; shift; fi
out=${1:-BENCHMARKS.md}
build=${BUILD_DIR:-build}
bench=$build/bench/e2e_bench
server=$build/jobgroupd
[[ -x $bench && -x $server ]] || bash scripts/build.sh jobgroupd e2e_bench

pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# start_server ARGS... : starts jobgroupd on a free port; sets PORT and PID.
start_server() {
  local log
  log=$(mktemp)
  "$server" --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 "$@" 2>"$log" &
  PID=$!
  pids+=("$PID")
  for _ in $(seq 200); do
    PORT=$(grep -oP ' port=\K[0-9]+' "$log" | head -1 || true)
    [[ -n $PORT ]] && return 0
    sleep 0.05
  done
  echo "jobgroupd did not start: $(cat "$log")" >&2
  return 1
}
stop_server() { kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; }

# median of the numbers given
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { grep -oP "$1=\K[0-9.]+" <<<"$2"; }

if ((quick)); then runs=1; echo_calls=4; sleeps=2000; tcalls=50; else
  runs=5; echo_calls=200; sleeps=100000; tcalls=2000; fi

# Metrics on and off alternate, so that both see the same machine: the
# cost of metrics is the median of the paired ratios.
echo "echo throughput (RunBatch, 10,000-job calls, 2 calls in flight), metrics on and off, x$runs pairs" >&2
echo_rates=(); echo_rates_off=(); echo_ratios=()
for _ in $(seq $runs); do
  start_server
  line=$("$bench" echo --target=127.0.0.1:$PORT --jobs=10000 \
         --calls=$echo_calls --concurrency=2)
  echo "  metrics on:  $line" >&2
  on=$(field jobs_per_second "$line")
  stop_server
  start_server --metrics_listen=
  line=$("$bench" echo --target=127.0.0.1:$PORT --jobs=10000 \
         --calls=$echo_calls --concurrency=2)
  echo "  metrics off: $line" >&2
  off=$(field jobs_per_second "$line")
  stop_server
  echo_rates+=("$on"); echo_rates_off+=("$off")
  echo_ratios+=("$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')")
done

echo "100,000 sleep(100 ms) jobs in one call, max_concurrency 100,000 x$runs" >&2
sleep_walls=(); sleep_rss=()
for _ in $(seq $runs); do
  start_server
  line=$("$bench" sleeps --target=127.0.0.1:$PORT --jobs=$sleeps --ms=100 \
         --pid=$PID)
  echo "  $line" >&2
  sleep_walls+=("$(field wall_seconds "$line")")
  sleep_rss+=("$(field server_peak_rss_mb "$line")")
  stop_server
done

echo "threads under $tcalls concurrent calls of 10 x sleep(200 ms) x$runs" >&2
thread_peaks=(); thread_before=()
for _ in $(seq $runs); do
  start_server
  line=$("$bench" threads --target=127.0.0.1:$PORT --calls=$tcalls --jobs=10 \
         --ms=200 --pid=$PID)
  echo "  $line" >&2
  thread_peaks+=("$(field server_threads_peak "$line")")
  thread_before+=("$(field server_threads_before "$line")")
  stop_server
done

core=$build/bench/core_bench
core_table=""
if [[ -x $core ]]; then
  echo "core micro-benchmarks" >&2
  if ((quick)); then min_time=0.01; else min_time=0.5; fi
  core_table=$("$core" --benchmark_min_time=$min_time --benchmark_format=csv \
    2>/dev/null | awk -F, 'NR > 1 && $1 != "" {
      gsub(/"/, "", $1);
      printf "| %s | %.1f %s | %s |\n", $1, $3, $5, ($7 != "" ? sprintf("%.0f", $7) : "") }')
fi

# The CLI's JSON Lines writer against protobuf's MessageToJsonString, CPU
# time per result (one thread, so CPU time is the cost on one core).
client=$build/bench/client_bench
client_table=""
if [[ -x $client ]]; then
  echo "client micro-benchmarks" >&2
  client_table=$("$client" --benchmark_min_time=${min_time:-0.5} --benchmark_format=csv \
    2>/dev/null | awk -F, 'NR > 1 && $1 != "" {
      gsub(/"/, "", $1);
      printf "| %s | %.0f %s | %.0f |\n", $1, $4, $5, 1e9 / $4 }')
fi

echo "Process echo throughput: 1 stream and 8 concurrent streams x$runs" >&2
cli=$build/client/jobgroup
if ((quick)); then pdur=1s; pjobs=10000; else pdur=10s; pjobs=100000; fi
proc1=(); proc8=()
for _ in $(seq $runs); do
  start_server
  for streams in 1 8; do
    line=$("$cli" bench --target 127.0.0.1:$PORT --method process --kind echo \
           --jobs-per-call $pjobs --concurrency $streams --duration $pdur \
           --warmup 1s --json)
    rate=$(grep -oP '"jobs_per_s":\s*\K[0-9.]+' <<<"$line" | head -1)
    echo "  process streams=$streams jobs_per_s=$rate" >&2
    if ((streams == 1)); then proc1+=("${rate%.*}"); else proc8+=("${rate%.*}"); fi
  done
  stop_server
done

echo "jobgroupd against the null gRPC service (bench/null_bench.sh)" >&2
if ((quick)); then
  BUILD_DIR=$build bash bench/null_bench.sh --quick >/dev/null
  BUILD_DIR=$build bash bench/cpu_per_job.sh --quick >/dev/null
  bash bench/http_bench.sh --quick "$server" "$cli" >/dev/null
  echo "bench: quick run ok (echo $(median "${echo_rates[@]}") jobs/s)"
  exit 0
fi
values=$(mktemp)
null_table=$(VALUES_OUT=$values BUILD_DIR=$build bash bench/null_bench.sh)
# shellcheck disable=SC1090
. "$values"
rm -f "$values"
inproc=$(grep -oP '^\| BM_InProcessDispatch\S* \| [^|]* \| \K[0-9]+' \
  <<<"$core_table" | head -1 || true)
ab_section=""
if [[ -n ${BASELINE:-} ]]; then
  echo "before/after against $BASELINE (bench/ab.sh)" >&2
  ab_section="## Before and after

\`bench/ab.sh $BASELINE\` (the baseline built from ${BASELINE_COMMIT:-an
earlier commit}); the loads alternate between the two servers, 3 runs
each, clients from the current build:

$(BUILD_DIR=$build bash bench/ab.sh "$BASELINE" 3)"
fi
# met VALUE OP LIMIT : "yes" or "no" (OP is <= or >=)
met() { awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
  ok = (op == "<=") ? (v <= l) : (v >= l); print (v == "" ? "-" : (ok ? "yes" : "no")) }'; }
echo "the http kind against a local nginx (bench/http_bench.sh)" >&2
http_section=$(bash bench/http_bench.sh "$server" "$cli")

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
cat >"$out" <<MD
# jobgroup benchmarks

Written by \`bench/run_benchmarks.sh\` on $(date -u +%Y-%m-%d) at commit
\`$(git rev-parse --short HEAD)\`. Machine: $(nproc) cores ($cpu),
$(free -g | awk '/Mem:/ {print $2}') GiB, $(. /etc/os-release; echo "$PRETTY_NAME").
Client and server on the same machine over loopback; each figure is the
median of $runs runs, each against a fresh jobgroupd (\`--workers\` = cores).
The machine is shared and noisy: compare figures within one run.

| benchmark | median | runs | target (issue 2; issue 8) |
| --- | --- | --- | --- |
| echo jobs/s through RunBatch, 10,000-job calls, 2 calls in flight | $(median "${echo_rates[@]}") | ${echo_rates[*]} | >= 250,000; >= 1,000,000 |
| same with metrics off (no /metrics endpoint, nothing recorded) | $(median "${echo_rates_off[@]}") | ${echo_rates_off[*]} | |
| metrics on / off, paired runs (each pair back to back) | $(median "${echo_ratios[@]}") | ${echo_ratios[*]} | >= 0.95 |
| 100,000 sleep(100 ms) jobs in one call (max_concurrency 100,000): wall s | $(median "${sleep_walls[@]}") | ${sleep_walls[*]} | <= 1.5; <= 0.5 |
| same: server peak RSS, MB (VmHWM) | $(median "${sleep_rss[@]}") | ${sleep_rss[*]} | <= 250; <= 150 |
| server threads, peak under 2,000 concurrent calls of 10 x sleep(200 ms) | $(median "${thread_peaks[@]}") | ${thread_peaks[*]} | < 64, flat |
| server threads before that load | $(median "${thread_before[@]}") | ${thread_before[*]} | |
| Process: echo jobs/s through one stream (100,000-job streams) | $(median "${proc1[@]}") | ${proc1[*]} | (issue 3) |
| Process: echo jobs/s through 8 concurrent streams | $(median "${proc8[@]}") | ${proc8[*]} | (issue 3) |

Reference from the issue: plain in-process asyncio takes 3.3 s and 225 MB
for the 100,000 sleeps on this machine.

## The targets of issue 8

| target | measured | met |
| --- | --- | --- |
| >= 1,000,000 echo jobs/s through RunBatch, 10,000-job calls | $(median "${echo_rates[@]}") (null_bench load 1: $runbatch_jobs_per_s; null service $null_runbatch_jobs_per_s) | $(met "$(median "${echo_rates[@]}")" ">=" 1000000) |
| >= 5,000,000 jobs/s dispatched in process | ${inproc:-?} | $(met "$inproc" ">=" 5000000) |
| 100,000 sleep(100 ms) in one call: <= 0.5 s wall | $(median "${sleep_walls[@]}") s | $(met "$(median "${sleep_walls[@]}")" "<=" 0.5) |
| same: <= 150 MB peak RSS | $(median "${sleep_rss[@]}") MB | $(met "$(median "${sleep_rss[@]}")" "<=" 150) |
| a call whose deadline expires answers within 10 ms of it, p99, under load | p99 $deadline_late_p99_ms ms, max $deadline_late_max_ms ms | $(met "$deadline_late_p99_ms" "<=" 10) |
| 10-echo-job calls at half the peak rate ($half_peak_rate calls/s): p99 <= 1 ms | $half_peak_p99_ms ms (null service: $null_half_peak_p99_ms ms) | $(met "$half_peak_p99_ms" "<=" 1) |
| 2x overload: >= 90% of peak goodput | $overload_goodput_ratio (null service: $null_overload_goodput_ratio) | $(met "$overload_goodput_ratio" ">=" 0.9) |
| metrics cost <= 5% (metrics on / off, paired) | $(median "${echo_ratios[@]}") | $(met "$(median "${echo_ratios[@]}")" ">=" 0.95) |

## Against the ceiling: a null gRPC service

\`bench/null_bench.sh\` runs the same \`jobgroup bench\` loads against
\`null_service\` (a JobService that copies each job into a result and does
nothing else: gRPC and protobuf alone) and against jobgroupd.
$null_table

$http_section

$ab_section

## Core micro-benchmarks

\`build/bench/core_bench\` (Google Benchmark), real time per operation; the
last column is items per second where the benchmark counts items.

| benchmark | real time per iteration | items/s |
| --- | --- | --- |
$core_table

## Client output

\`build/bench/client_bench\`: one echo job's result written as a JSON line
(\`jobgroup run|process -o jsonl\`) by the CLI's writer
(\`client/job_result_json.cc\`, byte-equal to protobuf's JSON mapping) and by
protobuf's reflective \`MessageToJsonString\`, which it replaced. CPU time per
result; the last column is results per second on one core.

| benchmark | CPU time per result | results/s |
| --- | --- | --- |
$client_table

Commands:

\`\`\`
bash bench/run_benchmarks.sh            # everything above, writes BENCHMARKS.md
build/bench/e2e_bench echo   --target=127.0.0.1:PORT --jobs=10000 --calls=200 --concurrency=2
build/bench/e2e_bench sleeps --target=127.0.0.1:PORT --jobs=100000 --ms=100 --pid=PID
build/bench/e2e_bench threads --target=127.0.0.1:PORT --calls=2000 --jobs=10 --ms=200 --pid=PID
bash bench/null_bench.sh                # the null-service table alone
bash bench/ab.sh OLD_JOBGROUPD          # before/after table alone
\`\`\`

$(cat bench/profile_notes.md 2>/dev/null || true)
MD
echo "wrote $out" >&2

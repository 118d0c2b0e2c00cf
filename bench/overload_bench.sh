#!/usr/bin/env bash
# Overload: goodput (jobs that succeeded per second) of 10-job RunBatch
# calls offered open loop at 2x and 10x jobgroupd's peak, with no limit, a
# static --max_inflight_jobs and --adaptive_limit, against the peak itself.
# Runs alternate between the three (none, static, adaptive, none, ...), each
# against a fresh jobgroupd; the table gives medians, and the CPU seconds the
# client and the server used, since they share the machine's cores.
#
# Usage: bench/overload_bench.sh [runs]   (default 3)
# Environment:
#   BUILD_DIR   build directory (default build)
#   DURATION    measured time of each run (default 10s, after 1s of warmup)
#   STATIC      the static limit, jobs (default 320: the jobs in flight of
#               the closed loop's 32 calls)
#   PEAK        the peak, calls/s (default: measured first, the better of 32
#               and 256 calls in flight, closed loop, median of the runs, by
#               the server's count of succeeded jobs, as the overloads)
#   EXTRA       more jobgroupd flags for every run
#   JOB         the job of every call (default "--kind echo --payload x")
#   LOAD        more `jobgroup bench` flags for every run (the peak's too),
#               e.g. "--connections 8 --deadline 200ms"
#   MULTS       the overloads, as multiples of the peak (default "2 10")
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/bench_lib.sh
runs=${1:-3}
build=${BUILD_DIR:-build}
server=$build/jobgroupd
client=$build/client/jobgroup
duration=${DURATION:-10s}
static=${STATIC:-320}
window_s=${duration%s}
for bin in "$server" "$client"; do
  [[ -x $bin ]] || { echo "overload_bench: $bin is missing; build it first" >&2; exit 2; }
done

pid=
log=$(mktemp)
tfile=$(mktemp)
cerr=$(mktemp)
cout=$(mktemp)
cleanup() { [[ -z $pid ]] || kill -9 "$pid" 2>/dev/null || true; rm -f "$log" "$tfile" "$cerr" "$cout"; }
trap cleanup EXIT

# start FLAGS... : a fresh jobgroupd on a free port; sets PORT.
start() {
  # shellcheck disable=SC2086
  "$server" --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 ${EXTRA:-} "$@" 2>"$log" &
  pid=$!
  for _ in $(seq 200); do
    # Whole numbers only (a space after them): the line may be half written.
    PORT=$(grep -oP ' port=\K[0-9]+(?= )' "$log" | head -1 || true)
    MPORT=$(grep -oP ' metrics_port=\K[0-9]+(?= )' "$log" | head -1 || true)
    [[ -n $PORT && -n $MPORT ]] && return 0
    sleep 0.05
  done
  echo "overload_bench: jobgroupd did not start: $(cat "$log")" >&2
  exit 2
}
# "SUCCEEDED REFUSED": jobs that succeeded and calls refused (any reason)
# so far, from the server's /metrics.
counts() {
  { curl -s "http://127.0.0.1:$MPORT/metrics" ||
    echo "overload_bench: /metrics on $MPORT did not answer" >&2; } |
    awk '/^jobgroup_jobs_total\{.*outcome="succeeded"/ { n += $2 }
         /^jobgroup_rejected_total\{/ { r += $2 }
         END { printf "%.0f %.0f", n, r }'
}
stop() { kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
errors_of() { grep -oP '"errors":\{\K[^}]*' <<<"$1" || true; }

# one FLAGS... -- BENCH_ARGS... : one run on a fresh server; sets OUT (the
# JSON), CLIENT_CPU and SERVER_CPU (seconds).
one() {
  local flags=()
  while [[ $1 != -- ]]; do flags+=("$1"); shift; done
  shift
  local before try
  for try in 1 2; do
    start "${flags[@]}"
    before=$(cpu_seconds "$pid")
    # shellcheck disable=SC2086
    /usr/bin/time -f '%U %S' -o "$tfile" "$client" bench \
      --target "127.0.0.1:$PORT" ${JOB:---kind echo --payload x} \
      --jobs-per-call 10 ${LOAD:-} --duration "$duration" --warmup 1s \
      --json "$@" >"$cout" 2>"$cerr" &
    local bench_pid=$! s0 s1
    # The server's count of succeeded jobs over the measured window (by the
    # clock: the window starts after the 1 s warmup).
    sleep 1; s0=$(counts)
    sleep "$window_s"; s1=$(counts)
    wait "$bench_pid" || true
    OUT=$(cat "$cout")
    SERVER_GOODPUT=$(awk -v a="${s0% *}" -v b="${s1% *}" -v w="$window_s" 'BEGIN { printf "%.0f", (b - a) / w }')
    SERVER_REFUSED=$(awk -v a="${s0#* }" -v b="${s1#* }" -v w="$window_s" 'BEGIN { printf "%.0f", (b - a) / w }')
    SERVER_CPU=$(awk -v a="$(cpu_seconds "$pid")" -v b="$before" 'BEGIN { printf "%.1f", a - b }')
    # The last line: before it, time may say the command exited non-zero.
    CLIENT_CPU=$(tail -n1 "$tfile" | awk '{ printf "%.1f", $1 + $2 }')
    stop
    [[ -n $OUT ]] && return 0
    echo "overload_bench: jobgroup bench $* printed nothing (try $try): $(tail -c 300 "$cerr")" >&2
  done
  exit 2
}

if [[ -z ${PEAK:-} ]]; then
  best=0
  for c in 32 256; do
    v=()
    for ((i = 0; i < runs; i++)); do
      one -- --concurrency "$c"
      # As the overloads are measured: the server's succeeded jobs / 10.
      v+=("$(awk -v g="$SERVER_GOODPUT" 'BEGIN { printf "%.1f", g / 10 }')")
      echo "overload_bench: peak, $c in flight: ${v[-1]} calls/s (client: $(field calls_per_s "$OUT"); client ${CLIENT_CPU}s, server ${SERVER_CPU}s CPU)" >&2
    done
    m=$(median "${v[@]}")
    echo "overload_bench: peak, $c in flight: median $m calls/s (${v[*]})" >&2
    best=$(awk -v a="$best" -v b="$m" 'BEGIN { print (b > a ? b : a) }')
  done
  PEAK=$best
fi
peak_jobs=$(awk -v p="$PEAK" 'BEGIN { printf "%.0f", p * 10 }')

configs=(none static adaptive)
flags_none=()
flags_static=("--max_inflight_jobs=$static")
flags_adaptive=(--adaptive_limit)

rows=()
for mult in ${MULTS:-2 10}; do
  rate=$(awk -v p="$PEAK" -v m="$mult" 'BEGIN { printf "%d", p * m }')
  declare -A good=() cgood=() ccpu=() scpu=() refused=() p99=()
  for ((i = 0; i < runs; i++)); do
    for cfg in "${configs[@]}"; do
      declare -n f="flags_$cfg"
      one "${f[@]}" -- --rate "$rate"
      g=$SERVER_GOODPUT
      cg=$(goodput "$OUT" %.0f)
      e=$(errors_of "$OUT")
      good[$cfg]+="$g "
      cgood[$cfg]+="$cg "
      ccpu[$cfg]+="$CLIENT_CPU "
      scpu[$cfg]+="$SERVER_CPU "
      refused[$cfg]+="$SERVER_REFUSED "
      p99[$cfg]+="$(grep -oP '"p99":\K[0-9.]+' <<<"$OUT" | head -1) "
      echo "overload_bench: ${mult}x ($rate calls/s) $cfg: goodput $g jobs/s (client's measure $cg), refused $SERVER_REFUSED calls/s, client errors {$e}, client ${CLIENT_CPU}s, server ${SERVER_CPU}s CPU" >&2
    done
  done
  for cfg in "${configs[@]}"; do
    # shellcheck disable=SC2086
    mg=$(median ${good[$cfg]})
    # shellcheck disable=SC2086
    rows+=("$(printf '| %sx (%s calls/s) | %s | %s | %s | %s | %s | %s | %s | %s | %s |' \
      "$mult" "$rate" "$cfg" "$mg" "${good[$cfg]% }" \
      "$(awk -v a="$mg" -v b="$peak_jobs" 'BEGIN { printf "%.2f", a / b }')" \
      "$(median ${cgood[$cfg]})" \
      "$(median ${refused[$cfg]})" "$(median ${p99[$cfg]})" \
      "$(median ${ccpu[$cfg]})" "$(median ${scpu[$cfg]})")")
  done
  unset good cgood ccpu scpu refused p99
done

cat <<EOF

Job: ${JOB:---kind echo --payload x}; bench flags: ${LOAD:-none}.
Peak: $PEAK calls/s of 10 jobs ($peak_jobs jobs/s), closed loop. Static
limit: --max_inflight_jobs=$static. $runs runs of each, alternating, fresh
jobgroupd each; $duration measured after 1s of warmup; $(nproc) cores shared
by client and server.

Goodput: jobs the server counted SUCCEEDED per second of the measured
window (jobgroup_jobs_total); "client's" is null_bench's measure (results
received in the window times the success share of the calls scheduled in
it), which is 0 when no call scheduled in the window could start. Refused:
calls/s the server refused (jobgroup_rejected_total, any reason).

| offered (open loop) | limit | goodput jobs/s, median | runs | / peak | client's goodput, median | refused calls/s | call p99 ms | client CPU s | server CPU s |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
EOF
printf '%s\n' "${rows[@]}"

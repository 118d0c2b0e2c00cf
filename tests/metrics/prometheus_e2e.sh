#!/usr/bin/env bash
# End-to-end check of jobgroup's metrics with a real Prometheus.
#
#   JOBGROUPD=build/jobgroupd JOBGROUP=build/client/jobgroup tests/metrics/prometheus_e2e.sh
#
# 1. Starts jobgroupd on free loopback ports (--backend=db=4,
#    --max_inflight_jobs=50) and Debian's prometheus scraping it every second
#    (evaluation every second) with deploy/prometheus/rules/*.yml loaded.
# 2. Drives a mixed load through the jobgroup CLI (--output jsonl), in two
#    rounds two scrapes apart, so that every job outcome, method and
#    metric appears: successes (echo via RunBatch, StreamBatch and Process,
#    compute, sleep on the db backend, fallbacks), failures (fail, COLLECT_ALL,
#    with retries), deadline expiries (sleep 2 s under a 300 ms deadline),
#    fail-fast cancellations (one fail among 20 sleeps), rejected jobs
#    (Process jobs with an unknown backend or kind: REJECTED results), refused
#    calls (a 100-job call past --max_inflight_jobs=50 while a 40-job call
#    runs: RESOURCE_EXHAUSTED), an invalid call (unknown kind:
#    INVALID_ARGUMENT) and GetServerInfo.
# 3. Checks:
#    - every CLI exit code (0 all succeeded, 1 some job did not, 2 error);
#    - the live /metrics page against the metrics contract (names, types,
#      labels, buckets: eval_queries.py check-metrics), every job outcome present;
#    - `promtool check metrics` on the live page: an exposition error fails;
#      lint findings (naming advice such as "counter metrics should have
#      _total suffix") are printed and fail too, except those matching the
#      regex PROMTOOL_LINT_ALLOW (default: none);
#    - sum by (outcome) (jobgroup_jobs_total) in Prometheus equals, outcome by
#      outcome, what the client counted from the JobResult lines; jobs of a
#      call refused as a whole (no JobResult lines, CLI exit 2) are not
#      counted by either side;
#    - every PromQL expression of deploy/grafana/jobgroup.json (variables
#      substituted: $__rate_interval/$__range/$__interval -> 5m, others -> .+)
#      and every template variable returns series;
#    - every rule of the rule files is loaded and healthy; every recording rule
#      returns series and its recorded series exists; every alert expression
#      is valid and, when not firing, each operand of its comparison returns
#      series (eval_queries.py documents it).
# Loopback only; every process it starts is killed on exit; bounded (a
# watchdog ends the run after E2E_TIME_LIMIT seconds, default 115; a normal
# run takes about 25 s). Last line:
#   prometheus-e2e: N passed, M failed
# KEEP_WORK=1 keeps the temp directory (logs, config, CLI output).
# Functions run from traps and pipelines look unreachable to shellcheck.
# shellcheck disable=SC2317
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
JOBGROUPD="${JOBGROUPD:-$root/build/jobgroupd}"
JOBGROUP="${JOBGROUP:-$root/build/client/jobgroup}"
PROMETHEUS="${PROMETHEUS:-prometheus}"
time_limit="${E2E_TIME_LIMIT:-115}"
# jobgroup_workers is a gauge by contract; promtool's naming advice
# about it is expected.
PROMTOOL_LINT_ALLOW="${PROMTOOL_LINT_ALLOW-}"
rules_dir="$root/deploy/prometheus/rules"
dashboard="$root/deploy/grafana/jobgroup.json"
eval_py="$here/eval_queries.py"

passed=0
failed=0
pids=()
work=""
finished=0

pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
say() { echo "prometheus-e2e: $*"; }

cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n "$work" && -d "$work" ]]; then
    if [[ "${KEEP_WORK:-0}" == 1 || $failed -gt 0 ]]; then
      say "logs kept in $work"
    else
      rm -rf "$work"
    fi
  fi
}

finish() {
  ((finished)) && return
  finished=1
  echo "prometheus-e2e: $passed passed, $failed failed"
}

# The summary is printed here, after cleanup, so that it is the last line.
# Fds 3 and 4 keep the script's own stdout and stderr: a signal may arrive
# while a step's output is redirected to a file.
exec 3>&1 4>&2
on_exit() {
  local rc=$?
  exec 1>&3 2>&4
  trap - EXIT INT TERM
  cleanup
  if ((rc != 0 && failed == 0)); then fail "aborted (exit $rc)"; fi
  finish
  if ((failed > 0)); then exit 1; fi
  exit 0
}
trap on_exit EXIT
trap 'exec 1>&3 2>&4; fail "interrupted or timed out (limit ${time_limit}s)"; exit 1' INT TERM

# Long steps run in the background and are waited with `wait`, which the
# watchdog's signal interrupts (a foreground command would delay the trap).
bg_wait() { "$@" & local p=$!; pids+=("$p"); wait "$p"; }

# ----------------------------------------------------------------- prerequisites
for b in "$JOBGROUPD" "$JOBGROUP"; do
  if [[ ! -x "$b" ]]; then
    fail "$b is not an executable (set JOBGROUPD and JOBGROUP)"
    exit 1
  fi
done
if ! type -P promtool >/dev/null 2>&1 || ! type -P "$PROMETHEUS" >/dev/null 2>&1; then
  say "installing Debian's prometheus package"
  export DEBIAN_FRONTEND=noninteractive
  if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq >/dev/null && "${sudo[@]}" apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  if ! type -P promtool >/dev/null 2>&1 || ! type -P "$PROMETHEUS" >/dev/null 2>&1; then
    fail "prometheus/promtool not available"
    exit 1
  fi
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/jobgroup-prom-e2e.XXXXXX")"
out="$work/out"
mkdir -p "$out"
(
  trap 'kill "$sp" 2>/dev/null; exit 0' TERM
  sleep "$time_limit" & sp=$!
  wait "$sp" || exit 0
  echo "prometheus-e2e: watchdog: $time_limit s passed" >&2
  kill -TERM $$ 2>/dev/null
) &
pids+=($!)

read -r grpc_port metrics_port prom_port < <(python3 - <<'EOF'
import socket
socks = []
for _ in range(3):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
)
target="127.0.0.1:$grpc_port"
metrics_url="http://127.0.0.1:$metrics_port/metrics"
prom_url="http://127.0.0.1:$prom_port"
say "jobgroupd gRPC $target, metrics $metrics_url, prometheus $prom_url, work dir $work"

# http_ok URL: true when URL answers 200.
http_ok() {
  python3 -c 'import sys,urllib.request
try:
    sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=2).status == 200 else 1)
except Exception:
    sys.exit(1)' "$1"
}
tcp_ok() { python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null; }
fetch() { python3 -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' "$1"; }
# wait_until SECONDS CMD...: polls CMD every 0.2 s.
wait_until() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@"; do
    ((SECONDS < end)) || return 1
    sleep 0.2
  done
}

# ----------------------------------------------------------------- jobgroupd
"$JOBGROUPD" --listen="$target" --metrics_listen="127.0.0.1:$metrics_port" \
  --backend=db=4 --max_inflight_jobs=50 >"$work/jobgroupd.log" 2>&1 &
jobgroupd_pid=$!
pids+=("$jobgroupd_pid")
if wait_until 20 http_ok "$metrics_url" && wait_until 10 tcp_ok "$grpc_port"; then
  pass "jobgroupd serves gRPC on $target and /metrics on 127.0.0.1:$metrics_port"
else
  fail "jobgroupd did not come up; its log:"
  sed 's/^/    /' "$work/jobgroupd.log" | tail -n 30
  exit 1
fi

# ---------------------------------------------------------------- prometheus
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $rules_dir/recording.yml
  - $rules_dir/alerts.yml
scrape_configs:
  - job_name: jobgroup
    static_configs:
      # The labels Kubernetes service discovery gives a pod's series, which
      # the dashboard's namespace and pod variables select on.
      - targets: ["127.0.0.1:$metrics_port"]
        labels:
          namespace: jobgroup-e2e
          pod: jobgroupd-e2e
EOF
if promtool check config "$work/prometheus.yml" >"$work/promtool-config.log" 2>&1; then
  pass "promtool check config (test config with the rule files)"
else
  fail "promtool check config:"; sed 's/^/    /' "$work/promtool-config.log"
fi
"$PROMETHEUS" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn \
  >"$work/prometheus.log" 2>&1 &
pids+=($!)
target_up() {
  python3 - "$prom_url" <<'EOF'
import json, sys, urllib.parse, urllib.request
q = urllib.parse.urlencode({"query": 'up{job="jobgroup"} == 1 and on () count(jobgroup_build_info) > 0'})
try:
    r = json.load(urllib.request.urlopen(sys.argv[1] + "/api/v1/query?" + q, timeout=2))
    sys.exit(0 if r["data"]["result"] else 1)
except Exception:
    sys.exit(1)
EOF
}
if wait_until 30 http_ok "$prom_url/-/ready" && wait_until 20 target_up; then
  pass "prometheus is ready and scrapes jobgroupd (up == 1, samples stored)"
else
  fail "prometheus did not start or scrape; its log:"
  sed 's/^/    /' "$work/prometheus.log" | tail -n 30
  exit 1
fi

# ---------------------------------------------------------------------- load
step=0
# run_cli NAME EXPECTED_EXIT_CODES SUBCOMMAND ARGS...: runs `jobgroup
# SUBCOMMAND --target T --output jsonl ARGS`, keeps its stdout (JobResult
# lines) for the count, checks the exit code.
run_cli() {
  local name="$1" want="$2" sub="$3"; shift 3
  step=$((step + 1))
  local f
  f="$out/$(printf '%02d' "$step")-$name"
  bg_wait timeout 30 "$JOBGROUP" "$sub" --target "$target" --output jsonl "$@" >"$f.jsonl" 2>"$f.err"
  local rc=$?
  echo "$rc" >"$f.rc"
  if [[ " $want " == *" $rc "* ]]; then
    pass "load $name: exit $rc ($(grep -c '"outcome"' "$f.jsonl") results)"
  else
    fail "load $name: exit $rc, want one of {$want}: $(head -c 600 "$f.err")"
  fi
  return 0
}

# Fail-fast: one failing job among 20 slow ones cancels them.
{
  echo '{"kind":"fail"}'
  for _ in $(seq 20); do echo '{"kind":"sleep","params":{"ms":"500"}}'; done
} >"$work/failfast.jsonl"
# Backend permits: 12 jobs on db (capacity 4) wait for permits.
for _ in $(seq 12); do echo '{"kind":"sleep","params":{"ms":"50"},"backend":"db"}'; done >"$work/db.jsonl"
# Per-job rejections (Process): an unknown backend, an unknown kind. The
# client gets a REJECTED result for each, so jobgroup_jobs_total must count
# each too (outcome="rejected"), the unknown kind included.
{
  echo '{"kind":"echo"}'
  echo '{"kind":"sleep","params":{"ms":"10"},"backend":"no_such_backend"}'
  echo '{"kind":"echo","backend":"no_such_backend"}'
  echo '{"kind":"no_such_kind"}'
} >"$work/process_rejects.jsonl"
# Fallbacks: a failing primary served by its echo fallback.
for _ in 1 2 3; do echo '{"kind":"fail","fallbacks":[{"kind":"echo"}]}'; done >"$work/fallback.jsonl"

load_round() {
  local r="r$1"
  local i
  for i in 1 2 3; do
    run_cli "$r-echo-$i" 0 run --kind echo --count 40
  done
  run_cli "$r-echo-stream" 0 run --stream --kind echo --count 30
  # Process needs a window under --max_inflight_jobs=50 (its default window,
  # --process_window, is 1024).
  run_cli "$r-echo-process" 0 process --kind echo --count 30 --max-concurrency 20
  # Process rejects bad jobs one by one (REJECTED) and runs the others.
  run_cli "$r-process-rejects" 1 process --max-concurrency 20 --jobs-file "$work/process_rejects.jsonl"
  run_cli "$r-compute" 0 run --kind compute --count 10
  run_cli "$r-fail-collect-all" 1 run --kind fail --count 5 --policy collect-all
  run_cli "$r-retries" 1 run --kind fail --count 2 --policy collect-all --max-attempts 3 --initial-backoff 10ms
  run_cli "$r-fallback" 0 run --jobs-file "$work/fallback.jsonl"
  run_cli "$r-deadline" 1 run --kind sleep --param ms=2000 --count 5 --deadline 300ms
  run_cli "$r-fail-fast" 1 run --jobs-file "$work/failfast.jsonl"
  run_cli "$r-db-backend" 0 run --jobs-file "$work/db.jsonl"

  # Rejection: 40 slow jobs hold the in-flight budget (50) while a 100-job
  # call arrives: it is refused (RESOURCE_EXHAUSTED, exit 2, or REJECTED
  # results, exit 1).
  step=$((step + 1))
  local hold
  hold="$out/$(printf '%02d' "$step")-$r-hold"
  timeout 30 "$JOBGROUP" run --target "$target" --output jsonl --kind sleep --param ms=1500 --count 40 \
    >"$hold.jsonl" 2>"$hold.err" &
  local hold_pid=$!
  pids+=("$hold_pid")
  sleep 0.4
  run_cli "$r-rejected" "1 2" run --kind sleep --param ms=100 --count 100
  wait "$hold_pid"
  local hold_rc=$?
  echo "$hold_rc" >"$hold.rc"
  if ((hold_rc == 0)); then
    pass "load $r-hold (40 sleeps of 1.5 s): exit 0"
  else
    fail "load $r-hold: exit $hold_rc: $(head -c 600 "$hold.err")"
  fi

  run_cli "$r-invalid-kind" "1 2" run --kind no_such_kind --count 1

  step=$((step + 1))
  if bg_wait timeout 10 "$JOBGROUP" info --target "$target" --output json >"$out/$(printf '%02d' "$step")-$r-info.json" 2>&1; then
    pass "load $r-info (GetServerInfo): exit 0"
  else
    fail "load $r-info: $(head -c 600 "$out/$(printf '%02d' "$step")-$r-info.json")"
  fi
}

# Two rounds, two scrapes apart: series created in the first round already
# exist when the second one moves them, so rates and quantiles are not 0/NaN.
load_round 1
sleep 2.5
load_round 2

python3 "$eval_py" count-outcomes "$out"/*.jsonl >"$work/client_counts.json"
say "client counted $(cat "$work/client_counts.json")"

# ------------------------------------------------------------- /metrics checks
count_lines() {  # count_lines OUTPUT: adds its PASS/FAIL lines to the totals
  passed=$((passed + $(grep -c '^PASS:' <<<"$1")))
  failed=$((failed + $(grep -c '^FAIL:' <<<"$1")))
}
if bg_wait fetch "$metrics_url" >"$work/metrics.txt" 2>"$work/metrics.err"; then
  pass "GET $metrics_url ($(wc -l <"$work/metrics.txt") lines)"
else
  fail "GET $metrics_url: $(cat "$work/metrics.err")"
fi
bg_wait timeout 30 python3 "$eval_py" check-metrics --metrics-url "$metrics_url" >"$work/check-metrics.log" 2>&1
res="$(cat "$work/check-metrics.log")"
echo "$res"
count_lines "$res"

promtool check metrics <"$work/metrics.txt" >"$work/promtool-metrics.log" 2>&1
rc=$?
if ((rc == 0)); then
  pass "promtool check metrics: no problems"
elif ((rc == 3)); then
  # Lint findings: "name: advice" lines.
  unexpected="$(grep -v '^[[:space:]]*$' "$work/promtool-metrics.log" |
    { if [[ -n "$PROMTOOL_LINT_ALLOW" ]]; then grep -Ev -- "$PROMTOOL_LINT_ALLOW"; else cat; fi; } || true)"
  sed 's/^/    /' "$work/promtool-metrics.log"
  if [[ -z "$unexpected" ]]; then
    pass "promtool check metrics: only allowed lint findings (PROMTOOL_LINT_ALLOW)"
  else
    fail "promtool check metrics: lint findings (above)"
  fi
else
  fail "promtool check metrics: exit $rc:"
  sed 's/^/    /' "$work/promtool-metrics.log"
fi

# ----------------------------------------------------- queries through Prometheus
bg_wait timeout 60 python3 "$eval_py" check-live --prom "$prom_url" --dashboard "$dashboard" \
  --rules "$rules_dir/recording.yml" "$rules_dir/alerts.yml" \
  --client-counts "$work/client_counts.json" --wait 20 --settle 3 >"$work/check-live.log" 2>&1
res="$(cat "$work/check-live.log")"
echo "$res"
count_lines "$res"
if ! grep -q '^PASS:\|^FAIL:' <<<"$res"; then fail "check-live printed no result"; fi

if kill -0 "$jobgroupd_pid" 2>/dev/null; then
  pass "jobgroupd still running after the load"
else
  fail "jobgroupd exited during the test; its log:"
  sed 's/^/    /' "$work/jobgroupd.log" | tail -n 30
fi

exit 0  # on_exit prints the summary and sets the exit code

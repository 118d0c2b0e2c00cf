#!/usr/bin/env bash
# Benchmarks the http job kind: jobgroupd fetching a small file from a local
# nginx, beside wrk against the same nginx (the ceiling: what nginx serves on
# this machine with no jobgroup in the way). Prints a Markdown section for
# BENCHMARKS.md on stdout; progress goes to stderr.
#
# Usage: bench/http_bench.sh [--quick] [JOBGROUPD] [JOBGROUP_CLI]
#   JOBGROUPD     default build/jobgroupd
#   JOBGROUP_CLI  default build/client/jobgroup
#   --quick       small sizes, to prove the script runs (CI)
# Environment: HTTP_BENCH_JOBS (jobs per call, default 50000),
#   HTTP_BENCH_RUNS (calls measured, default 3), HTTP_BENCH_CONCURRENCY
#   (requests in flight: wrk connections, the call's max_concurrency and
#   --http_max_per_host; default 64), HTTP_BENCH_SECONDS (wrk, default 10).
# Needs: nginx (Debian nginx-light or nginx), wrk, python3, curl.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
if [[ ${1:-} == --quick ]]; then quick=1; shift; fi
server=${1:-build/jobgroupd}
cli=${2:-build/client/jobgroup}
jobs=${HTTP_BENCH_JOBS:-50000}
runs=${HTTP_BENCH_RUNS:-3}
conc=${HTTP_BENCH_CONCURRENCY:-64}
secs=${HTTP_BENCH_SECONDS:-10}
if ((quick)); then jobs=500; runs=1; secs=2; fi

for tool in nginx wrk python3 curl; do
  if ! type -P "$tool" >/dev/null && [[ ! -x /usr/sbin/$tool ]]; then
    echo "http_bench: $tool is missing (apt-get install nginx-light wrk" \
         "python3 curl)" >&2
    exit 2
  fi
done
nginx_bin=$(type -P nginx || echo /usr/sbin/nginx)
[[ -x $server && -x $cli ]] || {
  echo "http_bench: need $server and $cli (build them first)" >&2
  exit 2
}

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- nginx serving a 100-byte file, keep-alive on ----
mkdir -p "$work/www" "$work/logs"
# nginx workers may run as another user (nobody): let them read the files.
chmod 755 "$work" "$work/www"
head -c 100 /dev/zero | tr '\0' 'x' >"$work/www/small.txt"
nginx_port=$(free_port)
# As root, keep nginx's workers root too: the package's user may not be able
# to reach $work (a clean root's / can be 0700).
cat >"$work/nginx.conf" <<EOF
$( ((EUID == 0)) && echo 'user root;')
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_timeout 60s;
  keepalive_requests 1000000;
  client_body_temp_path $work/tmp_body;
  proxy_temp_path $work/tmp_proxy;
  fastcgi_temp_path $work/tmp_fastcgi;
  uwsgi_temp_path $work/tmp_uwsgi;
  scgi_temp_path $work/tmp_scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/www;
  }
}
EOF
"$nginx_bin" -p "$work" -c "$work/nginx.conf" -g 'daemon off;' \
  2>"$work/logs/stderr" &
pids+=($!)
url="http://127.0.0.1:$nginx_port/small.txt"
for _ in $(seq 100); do
  curl -sf -o /dev/null "$url" && break
  sleep 0.05
done
curl -sf -o /dev/null "$url" || {
  echo "http_bench: nginx did not start: $(cat "$work/logs/"*)" >&2
  exit 1
}

# ---- the ceiling: wrk against nginx ----
echo "wrk -t2 -c$conc -d${secs}s $url" >&2
wrk_out=$(wrk -t2 -c"$conc" -d"${secs}s" --latency "$url")
echo "$wrk_out" | sed 's/^/  /' >&2
wrk_rps=$(awk '/Requests\/sec/ {print $2}' <<<"$wrk_out")
wrk_p50=$(awk '$1 == "50%" {print $2}' <<<"$wrk_out")
wrk_p99=$(awk '$1 == "99%" {print $2}' <<<"$wrk_out")

# ---- jobgroupd with the http kind ----
log=$work/jobgroupd.log
"$server" --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --http_allow=127.0.0.1:* --http_allow_private=127.0.0.1:* \
  --http_max_inflight="$conc" --http_max_per_host="$conc" 2>"$log" &
server_pid=$!
pids+=("$server_pid")
port=
for _ in $(seq 200); do
  port=$(grep -oP ' port=\K[0-9]+' "$log" | head -1 || true)
  [[ -n $port ]] && break
  sleep 0.05
done
[[ -n $port ]] || { echo "jobgroupd did not start: $(cat "$log")" >&2; exit 1; }

# One warm-up call, then $runs measured calls of $jobs jobs each; each call's
# results (JSON Lines) give per-job latency (queue + run time).
"$cli" run --target "127.0.0.1:$port" --kind http --param "url=$url" \
  --count 1000 --max-concurrency "$conc" --policy collect-all \
  --deadline 5m >/dev/null
rates=()
latencies=$work/latencies.txt
: >"$latencies"
for i in $(seq "$runs"); do
  out=$work/run$i.jsonl
  start=$(date +%s.%N)
  "$cli" run --target "127.0.0.1:$port" --kind http --param "url=$url" \
    --count "$jobs" --max-concurrency "$conc" --policy collect-all \
    --deadline 5m --output jsonl >"$out"
  end=$(date +%s.%N)
  read -r ok rate < <(python3 - "$out" "$start" "$end" "$latencies" <<'EOF'
import json, sys
path, start, end, lat = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
def secs(d):
    return float(d.rstrip("s")) if d else 0.0
ok = 0
with open(path) as f, open(lat, "a") as out:
    for line in f:
        r = json.loads(line)
        if r.get("outcome", "").endswith("SUCCEEDED"):
            ok += 1
        out.write("%f\n" % (secs(r.get("queueTime")) + secs(r.get("runTime"))))
print(ok, ok / (end - start))
EOF
  )
  echo "  call $i: $ok/$jobs succeeded, $rate jobs/s" >&2
  if ((ok != jobs)); then
    echo "http_bench: $((jobs - ok)) jobs did not succeed; see $out" >&2
    head -3 "$out" >&2
    exit 1
  fi
  rates+=("$rate")
done
kill -TERM "$server_pid"
wait "$server_pid" 2>/dev/null || true

read -r median_rate p50 p99 < <(python3 - "$latencies" "${rates[@]}" <<'EOF'
import sys
lat = sorted(float(x) for x in open(sys.argv[1]))
rates = sorted(float(x) for x in sys.argv[2:])
pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
print("%.0f %.2fms %.2fms" % (rates[len(rates) // 2], pct(0.50), pct(0.99)))
EOF
)

cat <<EOF
## http kind: jobgroupd vs wrk against the same local nginx

$(uname -srm), $(nproc) cores; nginx $("$nginx_bin" -v 2>&1 | sed 's/.*\///'), 1 worker, a 100-byte file, keep-alive;
$conc requests in flight ($conc wrk connections; the jobgroup call's max_concurrency, --http_max_inflight and --http_max_per_host).
jobgroup: \`jobgroup run --kind http --param url=... --count $jobs --max-concurrency $conc\`, median of $runs calls; latency per job = queue_time + run_time (from the backend permit wait to the response), all calls.

| client | requests/s | p50 | p99 |
| --- | ---: | ---: | ---: |
| wrk (ceiling) | ${wrk_rps} | ${wrk_p50} | ${wrk_p99} |
| jobgroupd http jobs | ${median_rate} | ${p50} | ${p99} |
EOF

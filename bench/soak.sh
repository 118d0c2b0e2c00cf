#!/usr/bin/env bash
# Soak: a moderate mixed load (an open loop of calls of sleeps on a db
# backend, echoes and failures) against one jobgroupd for a long time,
# sampling its resident memory and thread count; ends with whether both
# stayed flat. CI runs a short version as tests/integration (FaultsTest).
# Usage: bench/soak.sh [DURATION (default 10m)] [RATE calls/s (default 200)]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10m}
rate=${2:-200}
build=${BUILD_DIR:-build}
log=$(mktemp)
"$build/jobgroupd" --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --backend=db=16 2>"$log" &
pid=$!
trap 'kill -9 $pid $load_pids 2>/dev/null || true; rm -f "$log"' EXIT
load_pids=""
port=""
for _ in $(seq 200); do
  port=$(grep -oP ' port=\K[0-9]+' "$log" | head -1 || true)
  [[ -n $port ]] && break
  sleep 0.05
done
target=127.0.0.1:$port
jg="$build/client/jobgroup"
# Three loads at once, well under capacity: sleeps on db (rate/4 calls/s of
# 50 x 5 ms on 16 permits: ~40% of db at the default rate), echoes, and
# failing jobs (collect-all).
"$jg" bench --target "$target" --method run --rate $((rate / 4)) --duration "$duration" \
  --jobs-per-call 50 --kind sleep --param ms=5 --backend db >/tmp/soak-a.txt 2>&1 &
first_load=$!
load_pids="$load_pids $!"
"$jg" bench --target "$target" --method stream --rate "$rate" --duration "$duration" \
  --jobs-per-call 100 --kind echo >/tmp/soak-b.txt 2>&1 &
load_pids="$load_pids $!"
"$jg" bench --target "$target" --method run --rate $((rate / 4)) --duration "$duration" \
  --jobs-per-call 20 --kind fail --policy collect-all >/tmp/soak-c.txt 2>&1 &
load_pids="$load_pids $!"
sample() { awk '/VmRSS/ {r=$2} /Threads/ {t=$2} END {print r, t}' "/proc/$pid/status"; }
read -r rss0 thr0 < <(sleep 10; sample)
echo "after warm-up: rss ${rss0} kB, threads ${thr0}"
max_rss=$rss0; max_thr=$thr0
while kill -0 "$first_load" 2>/dev/null; do
  sleep 10
  read -r rss thr < <(sample)
  if ((rss > max_rss)); then max_rss=$rss; fi
  if ((thr > max_thr)); then max_thr=$thr; fi
  echo "$(date +%T) rss ${rss} kB threads ${thr}"
done
wait $load_pids || true
read -r rss1 thr1 < <(sample)
if ((rss1 > max_rss)); then max_rss=$rss1; fi
if ((thr1 > max_thr)); then max_thr=$thr1; fi
echo "end: rss ${rss1} kB (max ${max_rss}), threads ${thr1} (max ${max_thr})"
grep -hE "calls/s|jobs/s|p99" /tmp/soak-[abc].txt | head -12 || true
growth=$((rss1 - rss0))
if ((growth > 20480 || max_thr > thr0 + 4)); then
  echo "soak: RSS grew ${growth} kB or threads grew: NOT flat"; exit 1
fi
echo "soak: flat (RSS +${growth} kB, threads ${thr0} -> ${thr1})"

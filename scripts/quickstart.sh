#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, starts
# jobgroupd (embedded defaults plus a db backend of capacity 10) in the
# background, and runs the ETL example through the client: 50,000 jobs in
# rounds of 100 under a 30 s deadline. The server keeps running afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh build
JOBGROUP_TESTS=OFF JOBGROUP_BENCH=OFF bash scripts/build.sh jobgroupd jobgroup
target=127.0.0.1:50051
if ! build/client/jobgroup health --target "$target" >/dev/null 2>&1; then
  nohup build/jobgroupd --backend=db=10 >/tmp/jobgroupd.log 2>&1 &
  echo "started jobgroupd (pid $!), logs in /tmp/jobgroupd.log"
  for _ in $(seq 100); do
    build/client/jobgroup health --target "$target" >/dev/null 2>&1 && break
    sleep 0.1
  done
fi
build/client/jobgroup info --target "$target"
echo
echo "ETL example: 50,000 jobs, 10 database connections, rounds of 100, 30 s deadline"
build/client/jobgroup run --target "$target" --kind sleep --param ms=2 \
  --backend db --count 50000 --batch-size 100 --deadline 30s
echo
echo "jobgroupd is still running on $target (metrics on :9464/metrics)."
echo "Try: build/client/jobgroup --help     Stop it: pkill -TERM jobgroupd"

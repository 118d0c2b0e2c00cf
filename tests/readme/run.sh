#!/usr/bin/env bash
# Runs the README's "Try it" commands exactly as written against a fresh
# jobgroupd on loopback (the commands' localhost:50051 and :9464 become the
# test server's ports), checking each command's exit status: 0 unless its
# comment says "(exit N)".
# Usage: tests/readme/run.sh   (from anywhere; needs build/ built)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
log=$(mktemp); work=$(mktemp -d)
build/jobgroupd --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --backend=db=10 2>"$log" &
server=$!
disown "$server"  # No "Killed" notice when the trap ends it.
trap 'kill -9 $server 2>/dev/null; rm -rf "$log" "$work"' EXIT
port=""; mport=""
for _ in $(seq 200); do
  port=$(grep -oP ' port=\K[0-9]+' "$log" | head -1 || true)
  mport=$(grep -oP ' metrics_port=\K[0-9]+' "$log" | head -1 || true)
  [[ -n $port ]] && break
  sleep 0.05
done
[[ -n $port ]] || { echo "jobgroupd did not start: $(cat "$log")"; exit 1; }
export JOBGROUP_TARGET="127.0.0.1:$port"

# The commands: the sh block under "## Try it", continuation lines joined.
mapfile -t cmds < <(awk '/^## Try it/ {f=1} f && /^```sh/ {b=1; next}
  b && /^```/ {exit} b' README.md |
  sed -e "s/localhost:9464/127.0.0.1:$mport/; s/localhost:50051/127.0.0.1:$port/" |
  awk '{ if (sub(/\\$/, "")) { acc = acc $0; next } print acc $0; acc = "" }')

passed=0; failed=0
setup=""
for cmd in "${cmds[@]}"; do
  [[ -z ${cmd// } ]] && continue
  if [[ $cmd == jg=* ]]; then setup="jg=$root/${cmd#jg=}"; continue; fi
  want=0
  if [[ $cmd =~ \(exit\ ([0-9]+) ]]; then want=${BASH_REMATCH[1]}; fi
  (cd "$work" && ln -sfn "$root/build" build &&
   timeout 120 bash -c "$setup; $cmd" >"$work/out" 2>&1)
  got=$?
  if [[ $got == "$want" ]]; then
    echo "ok    (exit $got) $cmd"; ((passed++))
  else
    echo "FAIL  (exit $got, want $want) $cmd"; tail -15 "$work/out"; ((failed++))
  fi
done
echo "readme: $passed passed, $failed failed"
((failed == 0 && passed > 0))

#!/usr/bin/env bash
# Runs the README's "Try it" commands exactly as written against a fresh
# jobgroupd on loopback (the commands' localhost:50051 and :9464 become the
# test server's ports), checking each command's exit status: 0 unless its
# comment says "(exit N)", and the client's promise about stderr: with
# status 0 nothing on it, otherwise exactly one line saying why; a command
# with `-o json` prints one JSON document.
# Usage: tests/readme/run.sh   (from anywhere; needs build/ built, or the
# build directory named by $BUILD_DIR)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
build_dir=${BUILD_DIR:-build}
log=$(mktemp); work=$(mktemp -d)
"$build_dir"/jobgroupd --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
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
  if [[ $cmd == jg=build/* ]]; then
    setup="jg=$root/$build_dir/${cmd#jg=build/}"; continue
  fi
  want=0
  if [[ $cmd =~ \(exit\ ([0-9]+) ]]; then want=${BASH_REMATCH[1]}; fi
  (cd "$work" && ln -sfn "$root/$build_dir" build &&
   timeout 120 bash -c "$setup; $cmd" >"$work/out" 2>"$work/err")
  got=$?
  why=""
  if [[ $got != "$want" ]]; then
    why="exit $got, want $want"
  elif [[ $cmd == '$jg '* || $cmd == *'| $jg '* ]]; then
    # The CLI's stderr: empty on success, one "jobgroup ..." line otherwise.
    lines=$(wc -l <"$work/err")
    if [[ $got == 0 && $lines != 0 ]]; then
      why="exit 0 with stderr"
    elif [[ $got != 0 && ($lines != 1 || $(head -c 9 "$work/err") != "jobgroup ") ]]; then
      why="exit $got without one line on stderr"
    elif [[ " $cmd " =~ \ -o\ json\  && $cmd != *'>'* ]] &&
         ! python3 -c 'import json,sys; json.load(sys.stdin)' <"$work/out"; then
      why="-o json did not print one JSON document"
    fi
  fi
  if [[ -z $why ]]; then
    echo "ok    (exit $got) $cmd"; ((passed++))
  else
    echo "FAIL  ($why) $cmd"; tail -n 15 "$work/out" "$work/err"; ((failed++))
  fi
done
echo "readme: $passed passed, $failed failed"
((failed == 0 && passed > 0))

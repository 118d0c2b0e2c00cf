#!/usr/bin/env bash
# The container image, built and run for real, without a Docker engine:
#   1. checks that buildah and debootstrap are installed (install-deps.sh);
#   2. builds the debian base images locally (base_images.sh);
#   3. builds the root Dockerfile with buildah (chroot isolation, vfs
#      storage, no registry) as jobgroup:dev and records its size;
#   4. checks the image's configuration (non-root numeric user, tini
#      entrypoint, ports, HEALTHCHECK, OCI labels) and that every shared
#      library of both binaries resolves inside it;
#   5. runs the image's entrypoint (tini -> jobgroupd) on loopback ports,
#      probes it with the image's own HEALTHCHECK command, runs batches
#      against it with the host's client and checks every outcome;
#   6. sends SIGTERM while a batch is in flight: the server must go not
#      SERVING, finish that batch, refuse new ones and exit 0.
# Usage: tests/deploy/image_test.sh [PATH_TO_JOBGROUP_CLI]
#        (default build/client/jobgroup: the host's client; without one the
#        image's own client is used). Needs root. Idempotent: reuses the base
#        images, replaces the jobgroup:dev image, removes its containers.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
host_cli="${1:-$root/build/client/jobgroup}"
image=localhost/jobgroup:dev
# vfs storage for every buildah command: it needs no kernel overlay support,
# so it works inside any sandbox. (buildah 1.28 ignores $STORAGE_DRIVER.)
buildah() { command buildah --storage-driver vfs "$@"; }

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
finish() {
  echo "deploy: $passed passed, $failed failed"
  [[ $failed -eq 0 ]] && exit 0 || exit 1
}

tmp="$(mktemp -d /tmp/jobgroup-image-test.XXXXXX)"
containers=()
run_pid=""
server_pid=""
batch_pid=""
# kill_tree SIGNAL PID: the process and all its descendants, leaves first.
kill_tree() {
  local child
  for child in $(pgrep -P "$2"); do kill_tree "$1" "$child"; done
  kill "-$1" "$2" 2>/dev/null
}
cleanup() {
  [[ -n "$batch_pid" ]] && kill_tree KILL "$batch_pid"
  # The server: SIGTERM through tini first, so jobgroupd exits cleanly; then
  # whatever is left of buildah run and everything below it.
  if [[ -n "$run_pid" ]]; then
    [[ -z "$server_pid" ]] && server_pid="$(find_tini)"
    [[ -n "$server_pid" ]] && kill -TERM "$server_pid" 2>/dev/null
    for _ in $(seq 25); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.2; done
    kill_tree KILL "$run_pid"
    wait "$run_pid" 2>/dev/null
  fi
  for c in "${containers[@]}"; do buildah rm "$c" >/dev/null 2>&1; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # so that the EXIT trap runs on a signal too

# ---- 1. tools ----
# scripts/install-deps.sh test installs them. Asked of the files on PATH
# (type -P), since `buildah` is also the shell function above.
missing=()
for tool in buildah debootstrap node; do type -P "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  fail "not installed: ${missing[*]} (run: bash scripts/install-deps.sh test)"
  finish
fi
pass "buildah $(buildah --version | awk '{print $3}') and debootstrap present"

# ---- 2. base images ----
if bash "$here/base_images.sh"; then
  pass "base images debian:bookworm-slim and debian:bookworm present"
else
  fail "base images (tests/deploy/base_images.sh)"
  finish
fi

# ---- 3. build ----
revision="$(git -C "$root" rev-parse --verify -q HEAD || echo unknown)"
previous="$(buildah images --noheading --no-trunc --format '{{.ID}}' "$image" 2>/dev/null)"
started=$SECONDS
# --format docker keeps the HEALTHCHECK (the OCI format has no field for it).
# No --layers: with vfs every cached layer is a full copy of the tree (800 MB
# for the build stage), and the step it would save takes under a minute.
# --force-rm removes the build containers even when the build fails.
if buildah bud --isolation chroot --storage-driver vfs --pull=never --format docker --layers=false --force-rm \
     --build-arg BUILD_JOBS=2 --build-arg "REVISION=$revision" \
     --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
     -t "$image" -f "$root/Dockerfile" "$root" >"$tmp/build.log" 2>&1; then
  pass "image $image builds from the Dockerfile ($((SECONDS - started))s)"
else
  tail -40 "$tmp/build.log"
  fail "image build (buildah bud), $((SECONDS - started))s"
  finish
fi
# The previous build of the tag is now untagged: remove it, so that runs do
# not pile up images.
current="$(buildah images --noheading --no-trunc --format '{{.ID}}' "$image")"
[[ -n "$previous" && "$previous" != "$current" ]] && buildah rmi "$previous" >/dev/null 2>&1
size="$(buildah images --format '{{.Size}}' "$image")"
echo "image_test: image size of $image: $size"
pass "image size recorded: $size"

# ---- 4. configuration and libraries ----
# The Docker-format config (the OCI one has no Healthcheck).
buildah inspect --type image "$image" >"$tmp/inspect.json"
node -e 'const fs=require("fs"); fs.writeFileSync(process.argv[2], JSON.stringify(require(process.argv[1]).Docker.config))' \
  "$tmp/inspect.json" "$tmp/config.json"
config_check() {  # config_check DESCRIPTION JS-EXPRESSION-over-c
  if node -e "const c=require('$tmp/config.json'); process.exit(($2) ? 0 : 1)"; then pass "image config: $1"; else
    fail "image config: $1: $(cat "$tmp/config.json")"; fi
}
config_check "numeric non-root user 10001:10001" 'c.User === "10001:10001"'
config_check "exec-form entrypoint through tini" 'c.Entrypoint[0] === "/usr/bin/tini" && c.Entrypoint.includes("/usr/local/bin/jobgroupd")'
config_check "ports 50051 and 9464 exposed" '"50051/tcp" in c.ExposedPorts && "9464/tcp" in c.ExposedPorts'
config_check "HEALTHCHECK runs jobgroup health" 'c.Healthcheck && c.Healthcheck.Test[0] === "CMD" && c.Healthcheck.Test.includes("health")'
config_check "OCI labels" '["title","version","revision","created","description"].every(k => c.Labels["org.opencontainers.image." + k])'

ctr="$(buildah from --pull=never --name "jobgroup-image-test-$$" "$image")" || { fail "buildah from $image"; finish; }
containers+=("$ctr")
in_image() { buildah run --isolation chroot "$ctr" -- "$@"; }
if [[ "$(in_image id -u 2>&1)" == 10001 ]]; then pass "runs as uid 10001"; else fail "runs as uid $(in_image id -u 2>&1)"; fi
if in_image ldd /usr/local/bin/jobgroupd /usr/local/bin/jobgroup >"$tmp/ldd.txt" 2>&1 &&
   ! grep -q 'not found' "$tmp/ldd.txt"; then
  pass "every shared library of jobgroupd and jobgroup resolves in the image"
else
  fail "libraries missing in the image: $(grep 'not found' "$tmp/ldd.txt" | tr -s ' \t' ' ')"
fi
if out="$(in_image /usr/local/bin/jobgroupd --version 2>&1)"; then pass "jobgroupd --version: $out"; else fail "jobgroupd --version: $out"; fi
if out="$(in_image /usr/local/bin/jobgroup version 2>&1)"; then pass "jobgroup version: $out"; else fail "jobgroup version: $out"; fi

# ---- 5. serve ----
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
grpc_port="$(free_port)"
metrics_port="$(free_port)"
target="127.0.0.1:$grpc_port"
drain=10
if [[ -x "$host_cli" ]]; then
  cli=("$host_cli")
  echo "image_test: client: $host_cli (host)"
else
  cli=(buildah run --isolation chroot "$ctr" -- /usr/local/bin/jobgroup)
  echo "image_test: client: the image's /usr/local/bin/jobgroup (no host client at $host_cli)"
fi

# The image's own entrypoint, with loopback addresses: chroot isolation shares
# the host's network, and tests talk to loopback only.
mapfile -t entrypoint < <(node -e "console.log(require('$tmp/config.json').Entrypoint.join('\n'))")
buildah run --isolation chroot "$ctr" -- "${entrypoint[@]}" \
  --listen="$target" --metrics_listen="127.0.0.1:$metrics_port" --drain_timeout="${drain}s" \
  >"$tmp/server.log" 2>&1 &
run_pid=$!
# No PID namespace with chroot isolation: the container's first process
# (tini) is a host process, below buildah run -> chroot-runtime -> chroot-exec.
# Signals go to it directly: buildah run does not forward them.
find_tini() {
  local p
  for p in $(pgrep -x tini); do
    local a=$p
    while [[ $a -gt 1 ]]; do
      [[ $a -eq $run_pid ]] && { echo "$p"; return 0; }
      a="$(awk '{print $4}' "/proc/$a/stat" 2>/dev/null || echo 1)"
    done
  done
  return 1
}
up=""
for _ in $(seq 100); do
  [[ -z "$server_pid" ]] && server_pid="$(find_tini)"
  [[ -z "$up" ]] && "${cli[@]}" health --target "$target" >/dev/null 2>&1 && up=1
  [[ -n "$up" && -n "$server_pid" ]] && break
  kill -0 "$run_pid" 2>/dev/null || break
  sleep 0.2
done
if [[ -n "$up" && -n "$server_pid" ]]; then
  pass "jobgroupd from the image serves on $target (tini pid $server_pid)"
else
  fail "jobgroupd from the image did not come up: $(tail -20 "$tmp/server.log")"
  finish
fi
for service in "" jobgroup.v1.JobService; do
  if "${cli[@]}" health --target "$target" --service "$service" >/dev/null 2>&1; then
    pass "health service \"$service\" SERVING (the Kubernetes probes ask this)"
  else
    fail "health service \"$service\" not SERVING"
  fi
done

# The image's HEALTHCHECK command, pointed at this server's port.
mapfile -t hc < <(node -e "console.log(require('$tmp/config.json').Healthcheck.Test.slice(1).join('\n'))")
hc=("${hc[@]//127.0.0.1:50051/$target}")
if buildah run --isolation chroot "$ctr" -- "${hc[@]}" >"$tmp/hc.log" 2>&1; then
  pass "the image's HEALTHCHECK command succeeds: ${hc[*]}"
else
  fail "the image's HEALTHCHECK command: ${hc[*]}: $(cat "$tmp/hc.log")"
fi

# count_outcome FILE OUTCOME: JobResults (JSON Lines) with that outcome.
count_outcome() { grep -c "\"outcome\": *\"JOB_OUTCOME_$2\"" "$1"; }

"${cli[@]}" run --target "$target" --kind echo --count 100 --payload hi --output jsonl >"$tmp/echo.jsonl" 2>"$tmp/echo.err"
status=$?
ok="$(count_outcome "$tmp/echo.jsonl" SUCCEEDED)"
if [[ $status -eq 0 && "$ok" -eq 100 && $(wc -l <"$tmp/echo.jsonl") -eq 100 ]]; then
  pass "a batch of 100 echo jobs: 100 SUCCEEDED, exit 0"
else
  fail "a batch of 100 echo jobs: exit $status, $ok SUCCEEDED of $(wc -l <"$tmp/echo.jsonl") results: $(tail -3 "$tmp/echo.err")"
fi

# Failures are outcomes too: the client must say so with exit 1.
"${cli[@]}" run --target "$target" --kind fail --count 5 --policy collect-all --output jsonl >"$tmp/fail.jsonl" 2>"$tmp/fail.err"
status=$?
bad="$(count_outcome "$tmp/fail.jsonl" FAILED)"
if [[ $status -eq 1 && "$bad" -eq 5 ]]; then
  pass "a batch of 5 failing jobs (collect-all): 5 FAILED, exit 1"
else
  fail "a batch of 5 failing jobs: exit $status, $bad FAILED: $(tail -3 "$tmp/fail.err")"
fi

if node -e 'fetch(process.argv[1]).then(async r => { if (!r.ok) process.exit(1); process.stdout.write(await r.text()); }).catch(() => process.exit(1))' \
   "http://127.0.0.1:$metrics_port/metrics" >"$tmp/metrics.txt" && grep -q '^jobgroup_' "$tmp/metrics.txt"; then
  pass "metrics served at :$metrics_port/metrics ($(grep -c '^jobgroup_' "$tmp/metrics.txt") jobgroup_ samples)"
else
  fail "no jobgroup_ metrics at :$metrics_port/metrics"
fi

# ---- 6. SIGTERM with a batch in flight ----
# The batch's jobs sleep 3s; SIGTERM comes 1s in, so the server is draining,
# still up, for about 2s: the next two checks run in that window.
"${cli[@]}" run --target "$target" --kind sleep --count 4 --param ms=3000 --output jsonl \
  >"$tmp/drain.jsonl" 2>"$tmp/drain.err" &
batch_pid=$!
sleep 1
kill -TERM "$server_pid"
term_at=$SECONDS
sleep 0.2
# Exit 1 is the server answering NOT_SERVING (2 would be no answer at all).
"${cli[@]}" health --target "$target" >"$tmp/health.out" 2>&1
status=$?
if [[ $status -eq 1 ]]; then
  pass "health answers NOT_SERVING while draining"
else
  fail "health while draining: exit $status (want 1, NOT_SERVING): $(cat "$tmp/health.out")"
fi
if "${cli[@]}" run --target "$target" --kind echo --count 1 >"$tmp/late.out" 2>&1; then
  fail "a batch sent after SIGTERM was accepted"
else
  pass "a batch sent while draining is refused: $(grep -m1 -io 'unavailable.*' "$tmp/late.out")"
fi
wait "$batch_pid"
status=$?
batch_pid=""
ok="$(count_outcome "$tmp/drain.jsonl" SUCCEEDED)"
if [[ $status -eq 0 && "$ok" -eq 4 ]]; then
  pass "the in-flight batch finished during the drain: 4 SUCCEEDED, exit 0"
else
  fail "the in-flight batch: exit $status, $ok SUCCEEDED: $(tail -3 "$tmp/drain.err")"
fi
status=""
for _ in $(seq $(((drain + 5) * 5))); do
  if ! kill -0 "$run_pid" 2>/dev/null; then wait "$run_pid"; status=$?; break; fi
  sleep 0.2
done
if [[ "$status" == 0 ]]; then
  pass "jobgroupd drained and exited 0 through tini, $((SECONDS - term_at))s after SIGTERM"
  sed 's/^/  server log: /' "$tmp/server.log" | tail -3
  run_pid=""
  server_pid=""
else
  fail "after SIGTERM: ${status:-still running after ${drain}s + 5s}; log: $(tail -10 "$tmp/server.log")"
fi

finish

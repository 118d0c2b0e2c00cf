#!/usr/bin/env bash
# Renders every kustomize tree under deploy/k8s and checks it for real:
#   1. `kubectl kustomize` renders base, overlays/dev and overlays/prod;
#   2. validate.mjs checks every object against the Kubernetes, Prometheus
#      Operator and KEDA schemas (unknown fields included) and asserts what
#      kube-score and kube-linter would; selftest.mjs proves it catches faults;
#   3. the flags in each rendered ConfigMap flagfile are ones the real
#      jobgroupd accepts (`--helpfull`, then `--only_check_args`);
#   4. jobgroupd started with each rendering's flagfiles (listen addresses
#      moved to loopback) serves the health services the probes ask for, the
#      metrics path the scrape config reads, the metric names the autoscaler
#      queries, and exits 0 on SIGTERM.
# Usage: tests/deploy/check_manifests.sh [PATH_TO_JOBGROUPD]
#        (default build/jobgroupd; the jobgroup CLI is looked up beside it,
#        in client/jobgroup). Needs the kubectl that install-deps.sh pins
#        (or $KUBECTL) and node/npm; installs its npm packages with `npm ci`.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
jobgroupd="${1:-$root/build/jobgroupd}"
cli="$(dirname "$jobgroupd")/client/jobgroup"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
# Counts the PASS/FAIL lines a node checker printed (and shows them).
tally() {
  local line
  while IFS= read -r line; do
    case "$line" in
      PASS*) passed=$((passed + 1)); echo "$line" ;;
      FAIL*) failed=$((failed + 1)); echo "$line" ;;
      *": "*" passed, "*" failed") ;;  # the checker's own total; ours comes last
      *) echo "$line" ;;
    esac
  done
}
finish() {
  echo "deploy: $passed passed, $failed failed"
  [[ $failed -eq 0 ]] && exit 0 || exit 1
}

tmp="$(mktemp -d /tmp/jobgroup-manifests.XXXXXX)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill -KILL "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# ---- tools ----
# kubectl is the one scripts/install-deps.sh pins (KUBECTL overrides it), so
# that every machine renders the manifests with the same kustomize.
kubectl=${KUBECTL:-/opt/jobgroup-tools/kubectl-v1.32.3/kubectl}
if [[ ! -x $kubectl ]]; then
  fail "kubectl not found at $kubectl (run: bash scripts/install-deps.sh test)"
  finish
fi
if ! type -P npm >/dev/null || ! type -P node >/dev/null; then
  fail "node and npm are not installed (run: bash scripts/install-deps.sh test)"
  finish
fi
pass "$("$kubectl" version --client 2>/dev/null | tr '\n' ' ')"
if (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >"$tmp/npm.log" 2>&1); then
  pass "npm ci in tests/deploy"
else
  cat "$tmp/npm.log"
  fail "npm ci in tests/deploy"
  finish
fi

# ---- 1. render ----
declare -A tree=([base]=base [dev]=overlays/dev [prod]=overlays/prod)
rendered=()
for name in base dev prod; do
  if "$kubectl" kustomize "$root/deploy/k8s/${tree[$name]}" >"$tmp/$name.yaml" 2>"$tmp/$name.err"; then
    pass "$name: kubectl kustomize deploy/k8s/${tree[$name]}"
    rendered+=("$name=$tmp/$name.yaml")
  else
    fail "$name: kubectl kustomize deploy/k8s/${tree[$name]}: $(cat "$tmp/$name.err")"
  fi
done
[[ ${#rendered[@]} -eq 3 ]] || finish

# ---- 2. schemas and policy ----
node "$here/validate.mjs" "$tmp/facts" "${rendered[@]}" >"$tmp/validate.out" 2>&1
status=$?
tally <"$tmp/validate.out"
[[ $status -le 1 ]] || fail "validate.mjs crashed (exit $status)"
node "$here/selftest.mjs" "prod=$tmp/prod.yaml" >"$tmp/selftest.out" 2>&1
status=$?
tally <"$tmp/selftest.out"
[[ $status -le 1 ]] || fail "selftest.mjs crashed (exit $status)"

# ---- 3. flag names against the real jobgroupd ----
if [[ ! -x "$jobgroupd" ]]; then
  fail "jobgroupd not found at $jobgroupd: build it first (or pass its path)"
  finish
fi
# Only the output counts, not the exit status.
"$jobgroupd" --helpfull >"$tmp/helpfull.txt" 2>&1 || true
# jobgroupd's own help (server/flags/flag_help.h): a flag line is indented 2
# spaces, "  --name=DEFAULT  [$JOBGROUPD_NAME]"; its help text is indented 6.
sed -nE 's/^ {2}--([A-Za-z0-9_]+)=.*/\1/p' "$tmp/helpfull.txt" | sort -u >"$tmp/known-flags"
if [[ $(wc -l <"$tmp/known-flags") -gt 5 ]]; then
  pass "jobgroupd --helpfull lists $(wc -l <"$tmp/known-flags") flags"
else
  fail "jobgroupd --helpfull lists no flags: $(head -5 "$tmp/helpfull.txt")"
  finish
fi

flag_names() { node -e 'console.log(require(process.argv[1]).flagNames.join("\n"))' "$1"; }
for name in base dev prod; do
  facts="$tmp/facts/$name/facts.json"
  if [[ ! -f "$facts" ]]; then fail "$name: validate.mjs wrote no facts"; continue; fi
  unknown="$(flag_names "$facts" | sort -u | comm -23 - "$tmp/known-flags" | tr '\n' ' ')"
  if [[ -z "$unknown" ]]; then
    pass "$name: every flag in the flagfiles is one jobgroupd declares"
  else
    fail "$name: flags jobgroupd does not declare: $unknown"
  fi
  files=("$tmp/facts/$name"/flagfile.*)
  args=()
  for f in "${files[@]}"; do args+=("--flagfile=$f"); done
  # absl's own --only_check_args: parse everything, then exit.
  if out="$("$jobgroupd" "${args[@]}" --only_check_args 2>&1)"; then
    pass "$name: jobgroupd accepts the flagfiles' values (--only_check_args)"
  else
    fail "$name: jobgroupd rejects the flagfiles: $out"
  fi
done

# ---- 4. the live server, per rendering ----
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
# `facts NAME EXPR` evaluates EXPR over a rendering's facts.json (as f).
facts() { node -e "const f=require(process.argv[1]); console.log($2)" "$tmp/facts/$1/facts.json"; }

for name in base dev prod; do
  grpc_port="$(free_port)"
  metrics_port="$(free_port)"
  # The rendered flagfiles, with every listen address moved to loopback.
  args=()
  for f in "$tmp/facts/$name"/flagfile.*; do
    sed -E "s|^--listen=.*|--listen=127.0.0.1:$grpc_port|; s|^--metrics_listen=.*|--metrics_listen=127.0.0.1:$metrics_port|" \
      "$f" >"$f.local"
    args+=("--flagfile=$f.local")
  done
  "$jobgroupd" "${args[@]}" --listen="127.0.0.1:$grpc_port" --metrics_listen="127.0.0.1:$metrics_port" \
    >"$tmp/$name.server.log" 2>&1 &
  server_pid=$!

  mapfile -t services < <(facts "$name" 'f.probeServices.join("\n")')
  up=""
  for _ in $(seq 50); do
    if node "$here/health_probe.mjs" "127.0.0.1:$grpc_port" "${services[@]}" >"$tmp/$name.health" 2>&1; then
      up=1
      break
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.2
  done
  if [[ -n "$up" ]]; then
    pass "$name: jobgroupd with these flagfiles serves every probed health service ($(tr '\n' ' ' <"$tmp/$name.health"))"
  else
    fail "$name: probed health services not SERVING: $(tr '\n' ' ' <"$tmp/$name.health") log: $(tail -5 "$tmp/$name.server.log")"
    kill -KILL "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; server_pid=""
    continue
  fi

  if [[ -x "$cli" ]]; then
    # The flags in force are the ones the flagfiles say, later files winning.
    if "$cli" --target "127.0.0.1:$grpc_port" info --output json >"$tmp/$name.info.json" 2>&1; then
      node - "$tmp/facts/$name/facts.json" "$tmp/$name.info.json" "$name" <<'EOF_NODE' >"$tmp/$name.flags.out" 2>&1
const [facts, info, name] = process.argv.slice(2);
const v = require(facts).flagValues;
const i = require(info);
const seconds = (d) => String(d).replace(/s$/, "");
const absl = (d) => { let t = 0; for (const [, n, u] of d.matchAll(/(\d+)(ms|s|m|h)/g)) t += n * { ms: 0.001, s: 1, m: 60, h: 3600 }[u]; return t; };
const expect = [
  ["workers", () => String(i.workers.total), (x) => x],
  ["max_inflight_jobs", () => String(i.limits.maxInflightJobs), (x) => x],
  ["default_deadline", () => seconds(i.limits.defaultDeadline), (x) => String(absl(x))],
];
for (const [flag, got, want] of expect) {
  if (v[flag] === undefined) continue;
  const ok = got() === want(v[flag]);
  console.log(`${ok ? "PASS" : "FAIL"} ${name}: jobgroupd runs with --${flag}=${v[flag]} (info says ${got()})`);
}
EOF_NODE
      tally <"$tmp/$name.flags.out"
    else
      fail "$name: jobgroup info: $(tail -3 "$tmp/$name.info.json")"
    fi
    # A few jobs, so that every metric has a sample.
    if "$cli" run --target "127.0.0.1:$grpc_port" --kind echo --count 5 >"$tmp/$name.run" 2>&1; then
      pass "$name: a batch of 5 echo jobs succeeds"
    else
      fail "$name: a batch of 5 echo jobs: $(tail -3 "$tmp/$name.run")"
    fi
  else
    fail "$name: no jobgroup CLI at $cli (built with jobgroupd)"
  fi
  mapfile -t paths < <(facts "$name" 'f.metricsPaths.join("\n")')
  mapfile -t names < <(facts "$name" 'f.metricNames.join("\n")')
  for p in "${paths[@]}"; do
    if node -e 'fetch(process.argv[1]).then(async r => { if (!r.ok) process.exit(1); process.stdout.write(await r.text()); }).catch(() => process.exit(1))' \
      "http://127.0.0.1:$metrics_port$p" >"$tmp/$name.metrics"; then
      pass "$name: metrics served at $p"
      for m in "${names[@]}"; do
        [[ -n "$m" ]] || continue
        if grep -qE "^$m(\{| )" "$tmp/$name.metrics"; then
          pass "$name: metric $m (queried by the autoscaler) is exported"
        else
          fail "$name: metric $m (queried by the autoscaler) is not in $p"
        fi
      done
    else
      fail "$name: no metrics at $p"
    fi
  done

  drain="$(sed -nE 's/^--drain_timeout=([0-9]+)s$/\1/p' "$tmp/facts/$name"/flagfile.* | tail -1)"
  kill -TERM "$server_pid"
  status=""
  for _ in $(seq $(((${drain:-10} + 5) * 5))); do
    if ! kill -0 "$server_pid" 2>/dev/null; then wait "$server_pid"; status=$?; break; fi
    sleep 0.2
  done
  if [[ "$status" == 0 ]]; then
    pass "$name: jobgroupd exits 0 on SIGTERM"
  else
    fail "$name: jobgroupd on SIGTERM: ${status:-still running after the drain timeout}; log: $(tail -5 "$tmp/$name.server.log")"
    kill -KILL "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null
  fi
  server_pid=""
done

finish

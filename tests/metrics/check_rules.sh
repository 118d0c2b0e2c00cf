#!/usr/bin/env bash
# Static checks of jobgroup's Prometheus configuration, rules and dashboard:
#   promtool check config   deploy/prometheus/prometheus.yml (loads the rule files too)
#   promtool check rules    deploy/prometheus/rules/*.yml
#   promtool test rules     deploy/prometheus/tests/*.yml (every alert, firing and
#                           not firing, and every recording rule)
#   dashboard lint          deploy/grafana/jobgroup.json (eval_queries.py lint-dashboard)
# Needs no server. Installs Debian's prometheus package (for promtool) when
# promtool is missing. Last line: "promtool: N passed, M failed"; exit 1 on
# any failure.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
prom_dir="$root/deploy/prometheus"
dashboard="$root/deploy/grafana/jobgroup.json"

passed=0
failed=0

if ! type -P promtool >/dev/null 2>&1; then
  echo "check_rules: promtool missing, installing Debian's prometheus package" >&2
  export DEBIAN_FRONTEND=noninteractive
  if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq >/dev/null && "${sudo[@]}" apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  if ! type -P promtool >/dev/null 2>&1; then
    echo "check_rules: could not install promtool" >&2
    echo "promtool: 0 passed, 1 failed"
    exit 1
  fi
fi
echo "check_rules: $(promtool --version 2>&1 | head -n1)"

# check NAME CMD...: runs CMD in deploy/prometheus (paths in the configs are
# relative to it), shows its output indented, counts it.
check() {
  local name="$1"; shift
  local out rc
  out="$(cd "$prom_dir" && "$@" 2>&1)"; rc=$?
  if ((rc == 0)); then
    passed=$((passed + 1)); echo "PASS: $name"
  else
    failed=$((failed + 1)); echo "FAIL: $name (exit $rc)"
  fi
  # shellcheck disable=SC2001
  sed 's/^/    /' <<<"$out"
}

check "promtool check config prometheus.yml" promtool check config prometheus.yml

shopt -s nullglob
rule_files=("$prom_dir"/rules/*.yml)
test_files=("$prom_dir"/tests/*.yml)
if ((${#rule_files[@]} == 0)); then
  failed=$((failed + 1)); echo "FAIL: no rule files in $prom_dir/rules"
fi
if ((${#test_files[@]} == 0)); then
  failed=$((failed + 1)); echo "FAIL: no rule unit tests in $prom_dir/tests"
fi
for f in "${rule_files[@]}"; do
  check "promtool check rules rules/$(basename "$f")" promtool check rules "rules/$(basename "$f")"
done
for f in "${test_files[@]}"; do
  check "promtool test rules tests/$(basename "$f")" promtool test rules "tests/$(basename "$f")"
done

# Every alert must have a unit test where it fires and one where it does not,
# and every recording rule a promql_expr_test (one PASS/FAIL line each).
if ((${#rule_files[@]} && ${#test_files[@]})); then
  cov="$(python3 "$here/eval_queries.py" rule-coverage --rules "${rule_files[@]}" --tests "${test_files[@]}" 2>&1)"
  echo "$cov"
  passed=$((passed + $(grep -c '^PASS:' <<<"$cov")))
  failed=$((failed + $(grep -c '^FAIL:' <<<"$cov")))
  if ! grep -q '^PASS:' <<<"$cov" && ! grep -q '^FAIL:' <<<"$cov"; then
    failed=$((failed + 1)); echo "FAIL: rule coverage check did not run"
  fi
fi

if [[ -f "$dashboard" ]]; then
  check "dashboard lint deploy/grafana/jobgroup.json" python3 "$here/eval_queries.py" lint-dashboard "$dashboard"
else
  failed=$((failed + 1)); echo "FAIL: $dashboard missing"
fi

echo "promtool: $passed passed, $failed failed"
((failed == 0))

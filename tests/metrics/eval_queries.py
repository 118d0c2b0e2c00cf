#!/usr/bin/env python3
"""Checks jobgroup's dashboard and Prometheus rules (python3 standard library only).

Subcommands:
  lint-dashboard DASHBOARD.json
      Structure of the Grafana dashboard: variables, panel ids and grid,
      datasource references, targets. No server needed.
  rule-coverage --rules R.yml... --tests T.yml...
      Every alert has a promtool unit test where it fires and one where it
      does not; every recording rule is the expr of a promql_expr_test.
  count-outcomes FILE...
      Counts the outcomes of JobResult lines (protobuf JSON, one per line, as
      `jobgroup run --output jsonl` prints them); prints a JSON object.
  check-metrics --metrics-url URL
      Compares a live /metrics page with the metrics contract (names, types,
      label names and values, histogram buckets).
  check-live --prom URL --dashboard D --rules R.yml... [--client-counts F]
      Against a running Prometheus that scrapes jobgroupd and loads the rules:
      jobgroup_jobs_total by outcome equals the client's counts; every
      dashboard expression and template variable returns series; every rule
      is loaded, healthy, and returns series (alerts: see below).

Dashboard variables are substituted the way the e2e test documents:
$__rate_interval, $__interval and $__range become 5m; every other $var or
${var} becomes ".+" (they are only used as label regexes).

Alerts: an alert's expression returns nothing while it is not firing, so an
alert passes when its expression is valid and either returns series, or each
operand of its top-level comparisons / and / or / unless (for
`a > 0.9 and on (x) b > 0`: a and b) returns series, i.e. the metrics it
watches exist.

Every check prints one line starting with PASS:, FAIL: or NOTE:; the exit code
is 1 when any FAIL was printed.
"""

import argparse
import json
import math
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

FAILS = 0
PASSES = 0


def ok(msg):
    global PASSES
    PASSES += 1
    print("PASS: " + msg, flush=True)


def bad(msg):
    global FAILS
    FAILS += 1
    print("FAIL: " + msg, flush=True)


def note(msg):
    print("NOTE: " + msg, flush=True)


# --------------------------------------------------------------- substitution
GRAFANA_RANGE_VARS = re.compile(r"\$\{?__(?:rate_interval|interval|range)(?:_ms|_s)?\}?")
GRAFANA_VARS = re.compile(r"\$\{(\w+)(?::[\w]+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def substitute(expr):
    expr = GRAFANA_RANGE_VARS.sub("5m", expr)
    return GRAFANA_VARS.sub(".+", expr)


def variables_in(expr):
    expr = GRAFANA_RANGE_VARS.sub("", expr)
    return {next(g for g in m.groups() if g) for m in GRAFANA_VARS.finditer(expr)}


def balanced(expr):
    stack, quote = [], None
    pairs = {")": "(", "]": "[", "}": "{"}
    i = 0
    while i < len(expr):
        c = expr[i]
        if quote:
            if c == "\\" and quote != "`":
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
        elif c in "([{":
            stack.append(c)
        elif c in ")]}":
            if not stack or stack.pop() != pairs[c]:
                return False
        i += 1
    return not stack and quote is None


# ---------------------------------------------------------------- lint
def lint_dashboard(path):
    try:
        d = json.load(open(path))
    except Exception as e:  # noqa: BLE001
        bad("%s is not valid JSON: %s" % (path, e))
        return
    problems = []
    if not isinstance(d.get("schemaVersion"), int) or d["schemaVersion"] < 36:
        problems.append("schemaVersion %r (want an integer >= 36)" % d.get("schemaVersion"))
    for k in ("title", "uid"):
        if not d.get(k):
            problems.append("no %s" % k)
    if d.get("id") not in (None,):
        problems.append("id should be null so the dashboard imports anywhere")
    tvars = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    ds = tvars.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("no datasource variable of type datasource with query prometheus")
    for name in ("instance", "kind"):
        v = tvars.get(name)
        if not v or v.get("type") != "query":
            problems.append("no query variable %s" % name)
            continue
        if (v.get("datasource") or {}).get("uid") not in ("${datasource}", "$datasource"):
            problems.append("variable %s does not use ${datasource}" % name)
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if not q or not q.startswith("label_values("):
            problems.append("variable %s has no label_values query" % name)
    known_vars = set(tvars)
    ids = set()
    rects = []
    used_vars = set()
    n_targets = 0
    for p in d.get("panels", []):
        pid = p.get("id")
        title = p.get("title", "?")
        if pid in ids or not isinstance(pid, int):
            problems.append("panel %r: id %r missing or duplicated" % (title, pid))
        ids.add(pid)
        g = p.get("gridPos", {})
        if not all(isinstance(g.get(k), int) for k in ("h", "w", "x", "y")) or g.get("x", 0) + g.get("w", 0) > 24:
            problems.append("panel %r: bad gridPos %r" % (title, g))
        else:
            for (t2, g2) in rects:
                if g["x"] < g2["x"] + g2["w"] and g2["x"] < g["x"] + g["w"] and \
                        g["y"] < g2["y"] + g2["h"] and g2["y"] < g["y"] + g["h"]:
                    problems.append("panels %r and %r overlap" % (title, t2))
            rects.append((title, g))
        if p.get("type") == "row":
            continue
        if p.get("datasource") != {"type": "prometheus", "uid": "${datasource}"}:
            problems.append("panel %r: datasource %r is not ${datasource}" % (title, p.get("datasource")))
        targets = p.get("targets") or []
        if not targets:
            problems.append("panel %r has no targets" % title)
        refids = set()
        for t in targets:
            n_targets += 1
            expr = t.get("expr", "")
            if not expr.strip():
                problems.append("panel %r: empty expr" % title)
            if t.get("refId") in refids or not t.get("refId"):
                problems.append("panel %r: refId %r missing or duplicated" % (title, t.get("refId")))
            refids.add(t.get("refId"))
            if (t.get("datasource") or {}).get("uid") != "${datasource}":
                problems.append("panel %r target %s: datasource is not ${datasource}" % (title, t.get("refId")))
            if not balanced(expr):
                problems.append("panel %r target %s: unbalanced brackets or quotes" % (title, t.get("refId")))
            if '"$instance"' not in expr:
                problems.append("panel %r target %s: not filtered by instance=~\"$instance\"" % (title, t.get("refId")))
            used_vars |= variables_in(expr)
    for v in sorted(used_vars - known_vars):
        problems.append("expressions use undefined variable $%s" % v)
    for v in sorted({"instance", "kind"} - used_vars):
        problems.append("variable $%s is not used by any panel" % v)
    if problems:
        for pr in problems:
            bad("dashboard: " + pr)
    else:
        ok("dashboard %s: %d panels, %d queries, variables %s" % (
            path, len(d.get("panels", [])), n_targets, ", ".join(sorted(known_vars))))


# -------------------------------------------------------------- coverage
def rule_names(files):
    alerts, records = [], []
    for f in files:
        for line in open(f):
            m = re.match(r"\s*-\s*alert:\s*([A-Za-z0-9_:]+)", line)
            if m:
                alerts.append(m.group(1))
            m = re.match(r"\s*-\s*record:\s*([A-Za-z0-9_:]+)", line)
            if m:
                records.append(m.group(1))
    return alerts, records


def rule_coverage(rule_files, test_files):
    alerts, records = rule_names(rule_files)
    firing, quiet, exprs = set(), set(), []
    for f in test_files:
        lines = open(f).read().splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"\s*-?\s*alertname:\s*(\S+)", line)
            if m:
                for j in range(i + 1, min(i + 4, len(lines))):
                    e = re.match(r"\s*exp_alerts:\s*(.*)$", lines[j])
                    if e:
                        rest = e.group(1).strip()
                        if rest == "[]":
                            quiet.add(m.group(1))
                        elif rest == "" and j + 1 < len(lines) and lines[j + 1].strip().startswith("-"):
                            firing.add(m.group(1))
                        break
            m = re.match(r"\s*-?\s*expr:\s*(.+)$", line)
            if m:
                exprs.append(m.group(1))
    if not alerts:
        bad("no alerts found in %s" % ", ".join(rule_files))
    for a in alerts:
        missing = [w for w, s in (("firing", firing), ("not firing", quiet)) if a not in s]
        if missing:
            bad("alert %s has no unit test where it is %s" % (a, " or ".join(missing)))
        else:
            ok("alert %s is unit-tested firing and not firing" % a)
    for r in records:
        if any(re.search(r"(?<![\w:])%s(?![\w:])" % re.escape(r), e) for e in exprs):
            ok("recording rule %s is unit-tested" % r)
        else:
            bad("recording rule %s has no promql_expr_test" % r)


# -------------------------------------------------------------- outcomes
def count_outcomes(files):
    counts = {}
    for f in files:
        for line in open(f):
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            results = obj["results"] if isinstance(obj.get("results"), list) else [obj]
            for r in results:
                o = r.get("outcome")
                if o is None:
                    continue
                o = str(o).lower()
                if o.startswith("job_outcome_"):
                    o = o[len("job_outcome_"):]
                counts[o] = counts.get(o, 0) + 1
    return counts


# -------------------------------------------------------------- contract
GRPC_LABELS = {"grpc_service", "grpc_method", "grpc_type"}
RPC_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
               10, 30, 60, 120, 300]
JOB_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
               300, 600]
BATCH_JOBS_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000]
OUTCOMES = ["succeeded", "failed", "cancelled", "deadline_exceeded", "rejected"]
METHODS = ["RunBatch", "StreamBatch", "Process", "GetServerInfo"]
GRPC_CODES = ["OK", "Canceled", "Cancelled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
              "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted",
              "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"]
LABEL_VALUES = {
    "grpc_service": ["jobgroup.v1.JobService"],
    "grpc_method": METHODS,
    "grpc_type": ["unary", "server_stream", "bidi_stream", "client_stream"],
    "grpc_code": GRPC_CODES,
    "outcome": OUTCOMES,
    "method": ["RunBatch", "StreamBatch", "Process"],
    "result": ["ok", "failed", "deadline_exceeded", "cancelled"],
    # "other" is the server's catch-all for reasons outside the contract.
    "reason": ["inflight_limit", "adaptive_limit", "memory_budget", "draining", "invalid_argument", "unauthenticated", "open_streams", "stream_idle", "other"],
}
# name: (type, label names, buckets or None, required after the e2e load).
# prometheus-cpp exports a labelled family only once a child exists, so every
# family is required only because the e2e load exercises all of them
# (retries via --max-attempts, fallbacks via a jobs file).
CONTRACT = {
    "grpc_server_started_total": ("counter", GRPC_LABELS, None, True),
    "grpc_server_handled_total": ("counter", GRPC_LABELS | {"grpc_code"}, None, True),
    "grpc_server_handling_seconds": ("histogram", GRPC_LABELS, RPC_BUCKETS, True),
    "grpc_server_msg_received_total": ("counter", GRPC_LABELS, None, True),
    "grpc_server_msg_sent_total": ("counter", GRPC_LABELS, None, True),
    "jobgroup_jobs_total": ("counter", {"kind", "outcome"}, None, True),
    "jobgroup_job_run_seconds": ("histogram", {"kind"}, JOB_BUCKETS, True),
    "jobgroup_job_queue_wait_seconds": ("histogram", {"kind"}, JOB_BUCKETS, True),
    "jobgroup_jobs_in_flight": ("gauge", set(), None, True),
    "jobgroup_job_attempts_total": ("counter", {"kind"}, None, True),
    "jobgroup_job_retries_total": ("counter", {"kind"}, None, True),
    "jobgroup_fallbacks_served_total": ("counter", {"kind"}, None, True),
    "jobgroup_batches_total": ("counter", {"method", "result"}, None, True),
    "jobgroup_batch_jobs": ("histogram", {"method"}, BATCH_JOBS_BUCKETS, True),
    "jobgroup_batch_duration_seconds": ("histogram", {"method"}, RPC_BUCKETS, True),
    "jobgroup_deadline_expiries_total": ("counter", {"method"}, None, True),
    "jobgroup_failfast_cancellations_total": ("counter", {"method"}, None, True),
    "jobgroup_queue_depth": ("gauge", set(), None, True),
    "jobgroup_queue_parked": ("gauge", set(), None, True),
    "jobgroup_queue_capacity": ("gauge", set(), None, True),
    "jobgroup_workers_busy": ("gauge", set(), None, True),
    "jobgroup_workers": ("gauge", set(), None, True),
    "jobgroup_rejected_total": ("counter", {"reason"}, None, True),
    "jobgroup_backend_capacity": ("gauge", {"backend"}, None, True),
    "jobgroup_backend_in_use": ("gauge", {"backend"}, None, True),
    "jobgroup_backend_waiting": ("gauge", {"backend"}, None, True),
    "jobgroup_backend_wait_seconds": ("histogram", {"backend"}, JOB_BUCKETS, True),
    "process_cpu_seconds_total": ("counter", set(), None, True),
    "process_resident_memory_bytes": ("gauge", set(), None, True),
    "process_open_fds": ("gauge", set(), None, True),
    "process_start_time_seconds": ("gauge", set(), None, True),
    "process_threads": ("gauge", set(), None, True),
    "jobgroup_build_info": ("gauge", {"version"}, None, True),
}
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text):
    types, samples = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) >= 4:
                types[parts[2]] = parts[3]
            continue
        if not line.strip() or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
        if not m:
            continue
        labels = dict(LABEL_RE.findall(m.group(3) or ""))
        try:
            value = float(m.group(4))
        except ValueError:
            value = float("nan")
        samples.append((m.group(1), labels, value))
    return types, samples


def check_metrics(url, expect_outcomes=True):
    try:
        text = urllib.request.urlopen(url, timeout=10).read().decode()
    except Exception as e:  # noqa: BLE001
        bad("cannot read %s: %s" % (url, e))
        return
    types, samples = parse_exposition(text)
    for name, (typ, labels, buckets, required) in CONTRACT.items():
        got_type = types.get(name) or (types.get(name[:-6]) if name.endswith("_total") else None)
        if typ == "histogram":
            own = [s for s in samples if s[0] in (name + "_bucket", name + "_sum", name + "_count")]
        else:
            own = [s for s in samples if s[0] == name]
        if got_type is None and not own:
            (bad if required else note)("metric %s (%s) is missing from /metrics%s" % (
                name, typ, "" if required else " (only exported once it happened; the load did not exercise it)"))
            continue
        problems = []
        if got_type != typ:
            problems.append("TYPE is %s, want %s" % (got_type, typ))
        if not own:
            (bad if required else note)("metric %s has a TYPE line but no samples" % name)
            continue
        seen_values = {}
        for sname, slabels, _ in own:
            names = set(slabels) - ({"le"} if sname.endswith("_bucket") else set())
            if names != labels:
                problems.append("%s has labels {%s}, want {%s}" % (
                    sname, ",".join(sorted(names)), ",".join(sorted(labels))))
                break
            for k, v in slabels.items():
                seen_values.setdefault(k, set()).add(v)
                if k in LABEL_VALUES and v not in LABEL_VALUES[k]:
                    problems.append("label %s=%r is not one of %s" % (k, v, LABEL_VALUES[k]))
        if buckets:
            by_series = {}
            for sname, slabels, _ in own:
                if sname.endswith("_bucket"):
                    key = tuple(sorted((k, v) for k, v in slabels.items() if k != "le"))
                    by_series.setdefault(key, []).append(slabels.get("le"))
            for key, les in by_series.items():
                edges = sorted(float(x) for x in les if x not in ("+Inf",))
                if "+Inf" not in les or edges != sorted(float(b) for b in buckets):
                    problems.append("buckets %s for %s, want %s and +Inf" % (les, dict(key), buckets))
                    break
        if problems:
            bad("metric %s: %s" % (name, "; ".join(sorted(set(problems))[:5])))
        else:
            detail = ", ".join("%s=%s" % (k, "|".join(sorted(v))) for k, v in sorted(seen_values.items())
                               if k not in ("le",))
            ok("metric %s (%s)%s" % (name, typ, " {%s}" % detail if detail else ""))
    known = set(CONTRACT)
    extra = sorted({t for t in types if t not in known and t[:-6] not in known}
                   - {n + suffix for n in known for suffix in ("_bucket", "_sum", "_count")})
    if extra:
        note("metrics beyond the contract (not checked): %s" % ", ".join(extra))
    if expect_outcomes:
        # Series may be created up front at 0: an outcome counts once it is > 0.
        outcomes = {}
        for name, labels, value in samples:
            if name == "jobgroup_jobs_total":
                o = labels.get("outcome")
                outcomes[o] = outcomes.get(o, 0) + value
        missing = [o for o in OUTCOMES if not outcomes.get(o, 0) > 0]
        counts = ", ".join("%s=%g" % (o, outcomes.get(o, 0)) for o in OUTCOMES)
        if missing:
            bad("jobgroup_jobs_total is 0 for outcome(s) %s after the mixed load (%s)" % (", ".join(missing), counts))
        else:
            ok("jobgroup_jobs_total counts every outcome: %s" % counts)
    backends = {s[1].get("backend") for s in samples if s[0] == "jobgroup_backend_capacity"}
    if {"db"} <= backends:
        ok("jobgroup_backend_capacity has the backends %s" % ", ".join(sorted(b for b in backends if b)))
    else:
        bad("jobgroup_backend_capacity lacks backend db (--backend=db=4); has %s" % sorted(backends))


# ---------------------------------------------------------------- live
class Prom:
    def __init__(self, base):
        self.base = base.rstrip("/")

    def get(self, path, params=None):
        url = self.base + path
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(url, timeout=15) as r:
                return json.loads(r.read().decode())
        except urllib.error.HTTPError as e:
            try:
                return json.loads(e.read().decode())
            except ValueError:
                return {"status": "error", "error": "HTTP %d" % e.code}
        except Exception as e:  # noqa: BLE001
            return {"status": "error", "error": str(e)}

    def query(self, expr, t=None):
        params = {"query": expr}
        if t is not None:
            params["time"] = "%.3f" % t
        return self.get("/api/v1/query", params)


def result_series(resp):
    d = resp.get("data", {})
    rt, res = d.get("resultType"), d.get("result")
    if rt in ("vector", "matrix"):
        return res
    if rt == "scalar":
        return [{"metric": {}, "value": res}]
    return []


def show(series, n=3):
    out = []
    for s in series[:n]:
        m = s.get("metric", {})
        name = m.get("__name__", "")
        lbl = ",".join('%s="%s"' % (k, v) for k, v in sorted(m.items()) if k != "__name__")
        v = s.get("value", [None, "?"])[1]
        out.append("%s{%s}=%s" % (name, lbl, v))
    more = " ... (%d series)" % len(series) if len(series) > n else ""
    return "; ".join(out) + more


def eval_expr(prom, what, expr, t, allow_empty=False):
    """Returns the list of series, or None if the query failed (and says so)."""
    resp = prom.query(expr, t)
    if resp.get("status") != "success":
        bad("%s: invalid or failing query: %s\n      expr: %s" % (what, resp.get("error"), expr))
        return None
    series = result_series(resp)
    if not series and not allow_empty:
        bad("%s: returned no series\n      expr: %s" % (what, expr))
        return None
    return series


def all_nan(series):
    try:
        return bool(series) and all(math.isnan(float(s["value"][1])) for s in series)
    except (KeyError, ValueError, TypeError, IndexError):
        return False


def split_operands(expr):
    """Splits at top-level comparison and set operators; returns operand strings."""
    parts, cur, depth, quote, i = [], [], 0, None, 0
    n = len(expr)

    def word_at(j, w):
        return expr[j:j + len(w)].lower() == w and (j == 0 or not (expr[j - 1].isalnum() or expr[j - 1] in "_:")) \
            and (j + len(w) >= n or not (expr[j + len(w)].isalnum() or expr[j + len(w)] in "_:"))

    while i < n:
        c = expr[i]
        if quote:
            cur.append(c)
            if c == "\\" and quote != "`" and i + 1 < n:
                cur.append(expr[i + 1])
                i += 2
                continue
            if c == quote:
                quote = None
            i += 1
            continue
        if c in "\"'`":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if depth == 0:
            op = None
            for o in ("==", "!=", ">=", "<=", ">", "<"):
                if expr.startswith(o, i) and not (o in (">", "<") and expr.startswith("=", i + 1)):
                    op = o
                    break
            if op is None:
                for w in ("and", "or", "unless"):
                    if word_at(i, w):
                        op = w
                        break
            if op:
                parts.append("".join(cur))
                cur = []
                i += len(op)
                continue
        cur.append(c)
        i += 1
    parts.append("".join(cur))
    out = []
    for p in parts:
        p = p.strip()
        while True:
            m = re.match(r"(?is)^(bool\b|(?:on|ignoring|group_left|group_right)\s*\([^)]*\)|(?:group_left|group_right)\b)\s*", p)
            if not m:
                break
            p = p[m.end():].strip()
        if not p:
            continue
        if re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|[-+]?(Inf|NaN)", p, re.I):
            continue
        # A wholly parenthesised operand: look inside.
        if p.startswith("(") and p.endswith(")") and balanced(p[1:-1]):
            inner = split_operands(p[1:-1])
            if len(inner) > 1:
                out.extend(inner)
                continue
        out.append(p)
    return out


def wait_for_counts(prom, expected, timeout):
    """Waits until sum by (outcome) (jobgroup_jobs_total) equals expected; returns what it saw."""
    deadline = time.time() + timeout
    got = {}
    while True:
        resp = prom.query("sum by (outcome) (jobgroup_jobs_total)")
        if resp.get("status") == "success":
            got = {s["metric"].get("outcome", ""): int(float(s["value"][1])) for s in result_series(resp)}
            if {k: v for k, v in got.items() if v} == {k: v for k, v in expected.items() if v}:
                return got, True
        if time.time() > deadline:
            return got, False
        time.sleep(0.5)


def check_live(args):
    prom = Prom(args.prom)
    # 1. Accounting: the server's counters against the client's results.
    if args.client_counts:
        expected = json.load(open(args.client_counts))
        got, same = wait_for_counts(prom, expected, args.wait)
        line = "jobgroup_jobs_total by outcome %s; client counted %s" % (
            json.dumps(got, sort_keys=True), json.dumps(expected, sort_keys=True))
        if not same:
            diff = ["%s: server %d, client %d" % (o, got.get(o, 0), expected.get(o, 0))
                    for o in sorted(set(got) | set(expected)) if got.get(o, 0) != expected.get(o, 0)]
            line += " -- differ: " + "; ".join(diff)
        (ok if same else bad)(line)
        # Let every new series get two scrapes (rate() needs two samples) and
        # the rules a few evaluations.
        time.sleep(args.settle)
    t = time.time()

    # 2. Dashboard.
    d = json.load(open(args.dashboard))
    for p in d.get("panels", []):
        for tgt in p.get("targets", []):
            expr = substitute(tgt.get("expr", ""))
            what = "dashboard panel %r target %s" % (p.get("title"), tgt.get("refId"))
            series = eval_expr(prom, what, expr, t)
            if series is not None:
                ok("%s: %s%s" % (what, show(series), " (NaN: no observations in the window)" if all_nan(series) else ""))
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.fullmatch(r"\s*label_values\((.*),\s*([a-zA-Z_]\w*)\s*\)\s*", q or "")
        if not m:
            bad("dashboard variable %s: query %r is not label_values(selector, label)" % (v.get("name"), q))
            continue
        sel, label = substitute(m.group(1)), m.group(2)
        resp = prom.get("/api/v1/label/%s/values" % label, {"match[]": sel})
        vals = resp.get("data") if resp.get("status") == "success" else None
        if vals:
            ok("dashboard variable %s: %s" % (v.get("name"), ", ".join(vals)))
        else:
            bad("dashboard variable %s: label_values(%s, %s) gave %s" % (v.get("name"), sel, label, resp.get("error") or "nothing"))

    # 3. Rules, as Prometheus loaded them.
    alerts_in_files, records_in_files = rule_names(args.rules)
    resp = prom.get("/api/v1/rules")
    if resp.get("status") != "success":
        bad("GET /api/v1/rules: %s" % resp.get("error"))
        return
    loaded = [r for g in resp["data"]["groups"] for r in g["rules"]]
    names = sorted(r["name"] for r in loaded)
    want = sorted(alerts_in_files + records_in_files)
    if names == want:
        ok("Prometheus loaded all %d rules (%d recording, %d alerting)" % (len(want), len(records_in_files), len(alerts_in_files)))
    else:
        bad("Prometheus loaded rules %s, the files hold %s" % (names, want))
    for r in loaded:
        kind = "alert" if r["type"] == "alerting" else "recording rule"
        what = "%s %s" % (kind, r["name"])
        if r.get("health") != "ok" or r.get("lastError"):
            bad("%s: health %s, lastError %r" % (what, r.get("health"), r.get("lastError")))
            continue
        if r["type"] == "recording":
            series = eval_expr(prom, what, r["query"], t)
            if series is None:
                continue
            rec = eval_expr(prom, what + " (recorded series)", r["name"], t)
            if rec is not None:
                ok("%s: %s%s" % (what, show(rec), " (NaN)" if all_nan(rec) else ""))
            continue
        series = eval_expr(prom, what, r["query"], t, allow_empty=True)
        if series is None:
            continue
        if series:
            ok("%s: expression true now (state %s): %s" % (what, r.get("state"), show(series)))
            continue
        operands = split_operands(r["query"])
        good = True
        for o in operands:
            if eval_expr(prom, "%s operand" % what, o, t) is None:
                good = False
        if good:
            ok("%s: valid, not firing; its operands return series: %s" % (what, " | ".join(operands)))
    firing = prom.get("/api/v1/alerts").get("data", {}).get("alerts", [])
    if firing:
        note("alerts pending or firing after the load: %s" % ", ".join(
            "%s(%s)" % (a["labels"].get("alertname"), a.get("state")) for a in firing))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("lint-dashboard")
    p.add_argument("dashboard")
    p = sub.add_parser("rule-coverage")
    p.add_argument("--rules", nargs="+", required=True)
    p.add_argument("--tests", nargs="+", required=True)
    p = sub.add_parser("count-outcomes")
    p.add_argument("files", nargs="*")
    p = sub.add_parser("check-metrics")
    p.add_argument("--metrics-url", required=True)
    p.add_argument("--no-outcomes", action="store_true", help="do not require every job outcome")
    p = sub.add_parser("check-live")
    p.add_argument("--prom", required=True)
    p.add_argument("--dashboard", required=True)
    p.add_argument("--rules", nargs="+", required=True)
    p.add_argument("--client-counts")
    p.add_argument("--wait", type=float, default=20, help="seconds to wait for the counters to match")
    p.add_argument("--settle", type=float, default=3, help="seconds to wait after they match")
    a = ap.parse_args()
    if a.cmd == "lint-dashboard":
        lint_dashboard(a.dashboard)
    elif a.cmd == "rule-coverage":
        rule_coverage(a.rules, a.tests)
    elif a.cmd == "count-outcomes":
        print(json.dumps(count_outcomes(a.files), sort_keys=True))
    elif a.cmd == "check-metrics":
        check_metrics(a.metrics_url, expect_outcomes=not a.no_outcomes)
    elif a.cmd == "check-live":
        check_live(a)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())

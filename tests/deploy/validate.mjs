// Validates rendered kustomize output offline, the way CI must:
//   1. every object against its API's schema (kubernetes-models and the
//      Prometheus Operator and KEDA models: types, required fields, formats);
//   2. every object for unknown fields, by type-checking it as an object
//      literal against the same models' TypeScript interfaces (the schemas
//      above allow extra properties; TypeScript's excess-property check
//      does not), so a misspelt or misplaced field fails;
//   3. the checks kube-score and kube-linter would make, which cannot be
//      installed here, plus jobgroup's own consistency rules.
//
// Usage: node validate.mjs FACTS_DIR NAME=RENDERED.yaml...
// Prints one "PASS name: check" or "FAIL name: check: why" line per check and
// writes, per NAME, what the shell script checks against the real jobgroupd:
//   FACTS_DIR/NAME/flagfile.N   the flagfiles, in the order the args read them
//   FACTS_DIR/NAME/facts.json   ports, probe services, metrics path and names
// Exits 1 if any check failed.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import ts from "typescript";

const here = path.dirname(fileURLToPath(import.meta.url));
let passed = 0;
let failed = 0;

function check(scope, name, ok, why = "") {
  if (ok) {
    passed++;
    console.log(`PASS ${scope}: ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${scope}: ${name}${why ? `: ${why}` : ""}`);
  }
  return ok;
}

// apiVersion -> the module that models it. Anything else fails: an object
// nobody can validate is an error, not a pass.
function modelModule(apiVersion) {
  const builtin = new Set([
    "v1", "apps/v1", "policy/v1", "networking.k8s.io/v1", "autoscaling/v2",
    "rbac.authorization.k8s.io/v1", "batch/v1",
  ]);
  if (builtin.has(apiVersion)) return `kubernetes-models/${apiVersion}`;
  if (apiVersion === "monitoring.coreos.com/v1") {
    return "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
  }
  if (apiVersion === "keda.sh/v1alpha1") {
    return "@kubernetes-models/keda/keda.sh/v1alpha1";
  }
  return null;
}

const id = (o) => `${o.kind}/${o.metadata?.name}`;

// ---- 1. schemas ----
async function validateSchema(scope, obj) {
  const mod = modelModule(obj.apiVersion);
  if (!check(scope, `${id(obj)} has a known API (${obj.apiVersion})`, mod)) return;
  const Model = (await import(`${mod}/${obj.kind}`))[obj.kind];
  try {
    new Model(obj).validate();
    check(scope, `${id(obj)} matches the ${obj.apiVersion} schema`, true);
  } catch (e) {
    const details = (e.errors ?? []).map((x) => `${x.instancePath} ${x.message}`);
    check(scope, `${id(obj)} matches the ${obj.apiVersion} schema`, false,
      details.length ? details.join("; ") : e.message);
  }
}

// ---- 2. unknown fields, through the TypeScript interfaces ----
// Each object becomes a virtual file `const o: IKind = {...}` beside this
// script (so node_modules resolves); the compiler reports excess properties
// and type mismatches with their path in the object.
function checkUnknownFields(entries) {
  const files = new Map();
  for (const { scope, obj } of entries) {
    const mod = modelModule(obj.apiVersion);
    if (!mod) continue;
    const file = path.join(here, ".virtual",
      `${scope}.${obj.kind}.${obj.metadata?.name}.ts`.replace(/[^\w.-]/g, "_"));
    const text = `import type { I${obj.kind} } from "${mod}/${obj.kind}";\n` +
      `export const o: I${obj.kind} = ${JSON.stringify(obj, null, 2)};\n`;
    files.set(file, { text, scope, obj });
  }
  const options = {
    noEmit: true, strict: true, skipLibCheck: true, types: [],
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
  };
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (f) => files.has(f) || fileExists.call(host, f);
  host.readFile = (f) => files.get(f)?.text ?? readFile.call(host, f);
  host.getSourceFile = (f, lang, ...rest) => files.has(f)
    ? ts.createSourceFile(f, files.get(f).text, lang, true)
    : getSourceFile.call(host, f, lang, ...rest);
  const program = ts.createProgram([...files.keys()], options, host);
  const byFile = new Map([...files.keys()].map((f) => [f, []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, " ");
    const f = d.file?.fileName;
    if (f && byFile.has(f)) {
      // Name the offending line of the object (its JSON rendering).
      const { line } = d.file.getLineAndCharacterOfPosition(d.start);
      const text = files.get(f).text.split("\n")[line].trim();
      byFile.get(f).push(`at ${text}: ${msg.slice(0, 300)}`);
    } else {
      byFile.set("(setup)", [...(byFile.get("(setup)") ?? []), msg]);
    }
  }
  check("all", "TypeScript compiler set up", !byFile.has("(setup)"),
    (byFile.get("(setup)") ?? []).join("; "));
  for (const [f, { scope, obj }] of files) {
    const errs = byFile.get(f);
    // The compiler may stop at the first bad field of an object; fixing it
    // shows the next.
    check(scope, `${id(obj)} has no unknown or mistyped fields`, errs.length === 0,
      errs.slice(0, 5).join(" | "));
  }
}

// ---- 3. policy: kube-score / kube-linter and jobgroup's own rules ----
const matches = (selector = {}, labels = {}) =>
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels[k] === v);

// "--name=value" lines of an absl flagfile; '#' lines are comments.
function parseFlagfile(text) {
  const flags = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^--([A-Za-z0-9_]+)(?:=(.*))?$/.exec(line);
    flags.push(m ? { name: m[1], value: m[2] ?? "" } : { bad: line });
  }
  return flags;
}
const lastFlag = (flags, name) => flags.filter((f) => f.name === name).pop()?.value;
const portOf = (addr) => Number(/:(\d+)$/.exec(addr ?? "")?.[1]);
// absl durations used here: 20s, 5m, 1m30s, 500ms.
function seconds(d) {
  if (d === undefined) return NaN;
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let m;
  let seen = "";
  while ((m = re.exec(d))) {
    total += Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
    seen += m[0];
  }
  return seen === d ? total : NaN;
}

function checkPolicy(scope, objs, factsDir, expect) {
  const of = (kind) => objs.filter((o) => o.kind === kind);
  const deployments = of("Deployment");
  check(scope, "exactly one Deployment", deployments.length === 1, `${deployments.length}`);
  const dep = deployments[0];
  if (!dep) return;
  const pod = dep.spec.template;
  const podLabels = pod.metadata?.labels ?? {};
  const spec = pod.spec;
  const containers = [...(spec.initContainers ?? []), ...spec.containers];
  const podSc = spec.securityContext ?? {};

  check(scope, "Deployment selector matches its pod template",
    matches(dep.spec.selector?.matchLabels, podLabels));
  if (expect.namespace) {
    const wrong = objs.filter((o) => o.kind !== "Namespace" && o.metadata?.namespace !== expect.namespace);
    check(scope, `every object is in namespace ${expect.namespace}`, wrong.length === 0,
      wrong.map(id).join(", "));
    check(scope, `Namespace ${expect.namespace} is created`,
      of("Namespace").some((n) => n.metadata.name === expect.namespace));
  }

  for (const c of containers) {
    const sc = c.securityContext ?? {};
    const cs = `container ${c.name}`;
    check(scope, `${cs}: readiness and liveness probes present`, c.readinessProbe && c.livenessProbe);
    check(scope, `${cs}: readiness and liveness probes differ`,
      JSON.stringify(c.readinessProbe) !== JSON.stringify(c.livenessProbe));
    for (const what of ["requests", "limits"]) {
      for (const r of ["cpu", "memory"]) {
        check(scope, `${cs}: ${what}.${r} set`, c.resources?.[what]?.[r] !== undefined);
      }
    }
    check(scope, `${cs}: image has a tag, not latest`,
      /:[^/]+$/.test(c.image) && !c.image.endsWith(":latest"), c.image);
    const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
    const uid = sc.runAsUser ?? podSc.runAsUser;
    const gid = sc.runAsGroup ?? podSc.runAsGroup;
    check(scope, `${cs}: runAsNonRoot with a UID and GID > 10000`,
      nonRoot === true && uid > 10000 && gid > 10000, `runAsNonRoot=${nonRoot} uid=${uid} gid=${gid}`);
    check(scope, `${cs}: readOnlyRootFilesystem`, sc.readOnlyRootFilesystem === true);
    check(scope, `${cs}: allowPrivilegeEscalation false`, sc.allowPrivilegeEscalation === false);
    check(scope, `${cs}: not privileged`, sc.privileged !== true);
    check(scope, `${cs}: drops ALL capabilities, adds none`,
      (sc.capabilities?.drop ?? []).includes("ALL") && !(sc.capabilities?.add ?? []).length);
    check(scope, `${cs}: seccomp RuntimeDefault`,
      (sc.seccompProfile ?? podSc.seccompProfile)?.type === "RuntimeDefault");
  }
  check(scope, "no host network, PID or IPC", !spec.hostNetwork && !spec.hostPID && !spec.hostIPC);
  check(scope, "no hostPath volumes", !(spec.volumes ?? []).some((v) => v.hostPath));
  const sa = spec.serviceAccountName;
  check(scope, "service account exists and mounts no token",
    sa && of("ServiceAccount").some((s) => s.metadata.name === sa) &&
    spec.automountServiceAccountToken === false);
  for (const v of spec.volumes ?? []) {
    if (v.configMap) {
      check(scope, `volume ${v.name}: ConfigMap ${v.configMap.name} exists`,
        of("ConfigMap").some((c) => c.metadata.name === v.configMap.name));
    }
  }
  const tmp = containers[0].volumeMounts?.find((m) => m.mountPath === "/tmp");
  check(scope, "writable emptyDir at /tmp (the root filesystem is read-only)",
    tmp && (spec.volumes ?? []).find((v) => v.name === tmp.name)?.emptyDir);

  // Topology spread, PDB, NetworkPolicy, Services.
  const tsc = spec.topologySpreadConstraints ?? [];
  check(scope, "topology spread over nodes",
    tsc.some((t) => t.topologyKey === "kubernetes.io/hostname" && matches(t.labelSelector?.matchLabels, podLabels)));
  if (expect.zoneSpread) {
    check(scope, "topology spread over zones",
      tsc.some((t) => t.topologyKey === "topology.kubernetes.io/zone" && matches(t.labelSelector?.matchLabels, podLabels)));
  }
  const pdbs = of("PodDisruptionBudget").filter((p) => matches(p.spec.selector?.matchLabels, podLabels));
  check(scope, "a PodDisruptionBudget selects the pods", pdbs.length === 1);
  const nps = of("NetworkPolicy").filter((n) => matches(n.spec.podSelector?.matchLabels, podLabels));
  check(scope, "a NetworkPolicy selects the pods with Ingress and Egress rules",
    nps.some((n) => ["Ingress", "Egress"].every((t) => n.spec.policyTypes?.includes(t)) &&
      n.spec.ingress?.length && n.spec.egress?.length));
  const services = of("Service");
  for (const s of services) {
    check(scope, `Service ${s.metadata.name} selects the pods`, matches(s.spec.selector, podLabels));
    for (const p of s.spec.ports) {
      const target = p.targetPort ?? p.port;
      const ok = containers.some((c) => (c.ports ?? []).some((cp) =>
        typeof target === "string" ? cp.name === target : cp.containerPort === target));
      check(scope, `Service ${s.metadata.name} port ${p.name} targets a container port`, ok, `${target}`);
    }
  }
  check(scope, "a headless Service (client-side round_robin)",
    services.some((s) => s.spec.clusterIP === "None"));
  check(scope, "a ClusterIP Service",
    services.some((s) => s.spec.clusterIP !== "None" && (s.spec.type ?? "ClusterIP") === "ClusterIP"));

  // Replicas and autoscaling.
  const scaled = of("ScaledObject").filter((s) => s.spec.scaleTargetRef?.name === dep.metadata.name);
  if (expect.replicas !== undefined) {
    check(scope, `replicas = ${expect.replicas}`, dep.spec.replicas === expect.replicas, `${dep.spec.replicas}`);
  }
  if (expect.autoscaled) {
    check(scope, "a ScaledObject scales the Deployment", scaled.length === 1);
    check(scope, `autoscaler keeps at least ${expect.minReplicas} replicas`,
      scaled[0]?.spec.minReplicaCount >= expect.minReplicas);
    check(scope, "autoscaled Deployment sets no replicas (apply would reset them)",
      dep.spec.replicas === undefined);
  }

  // jobgroupd's flags: the flagfiles the args name, in order.
  const c = spec.containers.find((x) => x.name === "jobgroupd");
  if (!check(scope, "a container named jobgroupd", c)) return;
  const mountFor = (p) => c.volumeMounts?.find((m) => p.startsWith(m.mountPath + "/"));
  const flagfiles = [];
  for (const arg of c.args ?? []) {
    const m = /^--flagfile=(.+)$/.exec(arg);
    if (!m) continue;
    for (const p of m[1].split(",")) {
      const mount = mountFor(p);
      const vol = (spec.volumes ?? []).find((v) => v.name === mount?.name);
      const cm = of("ConfigMap").find((x) => x.metadata.name === vol?.configMap?.name);
      const key = p.slice(mount ? mount.mountPath.length + 1 : 0);
      const text = cm?.data?.[key];
      check(scope, `flagfile ${p} comes from a ConfigMap key`, text !== undefined);
      if (text !== undefined) flagfiles.push(text);
    }
  }
  check(scope, "jobgroupd reads its flags from a ConfigMap flagfile", flagfiles.length > 0);
  const flags = flagfiles.flatMap(parseFlagfile);
  const bad = flags.filter((f) => f.bad);
  check(scope, "every flagfile line is --flag=value or a comment", bad.length === 0,
    bad.map((f) => f.bad).join(" | "));

  // Ports: flags, containerPorts, probes, annotations, PodMonitor, NetworkPolicy.
  const grpcPort = portOf(lastFlag(flags, "listen") ?? "0.0.0.0:50051");
  const metricsPort = portOf(lastFlag(flags, "metrics_listen") ?? "0.0.0.0:9464");
  const named = (n) => c.ports?.find((p) => p.name === n)?.containerPort;
  check(scope, `containerPort grpc = --listen port ${grpcPort}`, named("grpc") === grpcPort, `${named("grpc")}`);
  check(scope, `containerPort metrics = --metrics_listen port ${metricsPort}`,
    named("metrics") === metricsPort, `${named("metrics")}`);
  const probes = { startup: c.startupProbe, readiness: c.readinessProbe, liveness: c.livenessProbe };
  const probeServices = [];
  for (const [kind, p] of Object.entries(probes)) {
    if (!p) continue;
    check(scope, `${kind} probe is a native gRPC probe on port ${grpcPort}`, p.grpc?.port === grpcPort,
      JSON.stringify(p.grpc ?? p));
    probeServices.push(p.grpc?.service ?? "");
  }
  const ann = pod.metadata?.annotations ?? {};
  check(scope, "prometheus.io/port annotation = metrics port",
    Number(ann["prometheus.io/port"]) === metricsPort, ann["prometheus.io/port"]);
  const monitors = [...of("PodMonitor"), ...of("ServiceMonitor")];
  if (expect.monitor !== false) check(scope, "a PodMonitor or ServiceMonitor", monitors.length > 0);
  check(scope, "prometheus.io/scrape annotation", ann["prometheus.io/scrape"] === "true");
  const metricsPaths = new Set([ann["prometheus.io/path"] ?? "/metrics"]);
  for (const pm of of("PodMonitor")) {
    check(scope, `PodMonitor ${pm.metadata.name} selects the pods`, matches(pm.spec.selector?.matchLabels, podLabels));
    for (const e of pm.spec.podMetricsEndpoints ?? []) {
      check(scope, `PodMonitor ${pm.metadata.name} scrapes the metrics port`, e.port === "metrics", e.port);
      metricsPaths.add(e.path ?? "/metrics");
    }
  }
  for (const n of nps) {
    const ports = (n.spec.ingress ?? []).flatMap((r) => (r.ports ?? []).map((p) => p.port));
    check(scope, `NetworkPolicy ${n.metadata.name} admits the gRPC and metrics ports`,
      ports.includes(grpcPort) && ports.includes(metricsPort), ports.join(","));
  }

  // Termination arithmetic: grace > preStop pause + drain (+ slack).
  const pre = c.lifecycle?.preStop;
  const pause = pre?.sleep?.seconds ??
    Number((pre?.exec?.command ?? []).join(" ").match(/sleep\s+(\d+)/)?.[1]);
  const drain = seconds(lastFlag(flags, "drain_timeout") ?? "10s");
  const grace = spec.terminationGracePeriodSeconds ?? 30;
  check(scope, "preStop pause of a few seconds", pause >= 2 && pause <= 15, `${pause}`);
  check(scope, `terminationGracePeriodSeconds ${grace} > preStop ${pause}s + drain ${drain}s`,
    grace > pause + drain);
  // jobgroupd's default for --default_deadline is 30s.
  const defaultDeadline = seconds(lastFlag(flags, "default_deadline") ?? "30s");
  check(scope, "--default_deadline fits in --drain_timeout (such calls finish during a rollout)",
    defaultDeadline <= drain, `${defaultDeadline}s > ${drain}s`);
  check(scope, "--max_connection_age is set (connections rebalance)", lastFlag(flags, "max_connection_age") !== undefined);
  check(scope, "--workers is set (the container's CPUs, not the node's)", lastFlag(flags, "workers") !== undefined);

  // Metric names the autoscaler queries, for the live check.
  const metricNames = new Set();
  for (const s of scaled) {
    for (const t of s.spec.triggers ?? []) {
      for (const m of (t.metadata?.query ?? "").matchAll(/\bjobgroup_[a-z0-9_]+/g)) metricNames.add(m[0]);
    }
  }

  const dir = path.join(factsDir, scope);
  fs.mkdirSync(dir, { recursive: true });
  flagfiles.forEach((text, i) => fs.writeFileSync(path.join(dir, `flagfile.${i}`), text));
  fs.writeFileSync(path.join(dir, "facts.json"), JSON.stringify({
    grpcPort, metricsPort, probeServices: [...new Set(probeServices)],
    metricsPaths: [...metricsPaths], metricNames: [...metricNames],
    flagNames: [...new Set(flags.filter((f) => f.name).map((f) => f.name))],
    flagValues: Object.fromEntries(flags.filter((f) => f.name).map((f) => [f.name, f.value])),
  }, null, 2));
}

// What each rendering must have beyond the common rules.
const EXPECT = {
  base: {},
  // dev drops the PodMonitor (no Prometheus Operator on a laptop cluster).
  dev: { namespace: "jobgroup-dev", replicas: 1, monitor: false },
  prod: { namespace: "jobgroup", autoscaled: true, minReplicas: 3, zoneSpread: true },
};

const [factsDir, ...inputs] = process.argv.slice(2);
if (!factsDir || inputs.length === 0) {
  console.error("usage: node validate.mjs FACTS_DIR NAME=RENDERED.yaml...");
  process.exit(2);
}
const all = [];
for (const input of inputs) {
  const [scope, file] = input.split("=");
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  const errors = docs.flatMap((d) => d.errors.map((e) => e.message));
  check(scope, "rendered YAML parses", errors.length === 0, errors.join("; "));
  const objs = docs.map((d) => d.toJS()).filter(Boolean);
  check(scope, "rendered something", objs.length > 0);
  for (const obj of objs) await validateSchema(scope, obj);
  all.push(...objs.map((obj) => ({ scope, obj })));
  checkPolicy(scope, objs, factsDir, EXPECT[scope] ?? {});
}
checkUnknownFields(all);
console.log(`validate: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

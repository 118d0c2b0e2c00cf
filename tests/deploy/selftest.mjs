// Proves validate.mjs is not vacuous: each mutation below breaks a rendered
// overlay in one way that CI must catch, and validate.mjs must fail on it
// with the expected check. Prints PASS/FAIL lines like validate.mjs.
// Usage: node selftest.mjs NAME=RENDERED.yaml   (an autoscaled overlay: prod)
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));
const [scope, file] = (process.argv[2] ?? "").split("=");
if (!file) {
  console.error("usage: node selftest.mjs NAME=RENDERED.yaml");
  process.exit(2);
}
const pristine = YAML.parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => d.toJS());
const find = (objs, kind) => objs.find((o) => o.kind === kind);
const jobgroupd = (objs) => find(objs, "Deployment").spec.template.spec.containers[0];

// [what is broken, how, the FAIL line it must cause]
const MUTATIONS = [
  ["misspelt probe field", (o) => {
    const g = jobgroupd(o).readinessProbe.grpc;
    g.servce = g.service;
    delete g.service;
  }, /Deployment\/jobgroup has no unknown or mistyped fields/],
  ["unknown field in a CRD object", (o) => { find(o, "ScaledObject").spec.pollingIntervall = 15; },
    /ScaledObject\/jobgroup has no unknown or mistyped fields/],
  ["port as a string", (o) => { jobgroupd(o).ports[0].containerPort = "50051"; },
    /Deployment\/jobgroup matches the apps\/v1 schema/],
  ["missing required field", (o) => { delete find(o, "Service").spec.ports[0].port; },
    /Service\/jobgroup matches the v1 schema/],
  ["writable root filesystem", (o) => { jobgroupd(o).securityContext.readOnlyRootFilesystem = false; },
    /readOnlyRootFilesystem/],
  ["no memory limit", (o) => { delete jobgroupd(o).resources.limits.memory; }, /limits\.memory set/],
  ["identical probes", (o) => { jobgroupd(o).livenessProbe = structuredClone(jobgroupd(o).readinessProbe); },
    /probes differ/],
  ["probe on the wrong port", (o) => { jobgroupd(o).livenessProbe.grpc.port = 9464; },
    /liveness probe is a native gRPC probe/],
  ["grace period shorter than preStop + drain", (o) => {
    find(o, "Deployment").spec.template.spec.terminationGracePeriodSeconds = 20;
  }, /terminationGracePeriodSeconds/],
  ["no PodDisruptionBudget", (o) => o.splice(o.indexOf(find(o, "PodDisruptionBudget")), 1),
    /a PodDisruptionBudget selects the pods/],
  ["NetworkPolicy without egress", (o) => {
    const n = find(o, "NetworkPolicy");
    n.spec.policyTypes = ["Ingress"];
    delete n.spec.egress;
  }, /NetworkPolicy selects the pods with Ingress and Egress/],
  ["no headless Service", (o) => o.filter((x) => x.kind === "Service").forEach((s) => delete s.spec.clusterIP),
    /a headless Service/],
  ["Service selecting nothing", (o) => { find(o, "Service").spec.selector = { app: "other" }; },
    /Service jobgroup selects the pods/],
  ["flagfile with a non-flag line", (o) => {
    const cm = find(o, "ConfigMap");
    cm.data["jobgroupd.flags"] += "workers=3\n";
  }, /every flagfile line is --flag=value/],
  ["replicas set beside an autoscaler", (o) => { find(o, "Deployment").spec.replicas = 3; },
    /autoscaled Deployment sets no replicas/],
];

let passed = 0;
let failed = 0;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "jobgroup-selftest-"));
try {
  for (const [what, mutate, expected] of MUTATIONS) {
    const objs = structuredClone(pristine);
    mutate(objs);
    const f = path.join(tmp, "mutated.yaml");
    fs.writeFileSync(f, objs.map((o) => YAML.stringify(o)).join("---\n"));
    const r = spawnSync(process.execPath, [path.join(here, "validate.mjs"), path.join(tmp, "facts"), `${scope}=${f}`],
      { encoding: "utf8" });
    const fails = r.stdout.split("\n").filter((l) => l.startsWith("FAIL"));
    const ok = r.status === 1 && fails.some((l) => expected.test(l));
    if (ok) passed++; else failed++;
    console.log(`${ok ? "PASS" : "FAIL"} selftest: validator rejects ${what}` +
      (ok ? "" : `: exit ${r.status}, FAIL lines: ${fails.join(" | ") || "none"} ${r.stderr}`));
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`selftest: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

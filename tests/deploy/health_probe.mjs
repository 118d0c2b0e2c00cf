// Asks a gRPC server's health service (grpc.health.v1.Health/Check) about
// each named service, as the kubelet's native grpc probe does, and prints
// "SERVICE STATUS" lines. Exits 0 only if every one is SERVING.
// Usage: node health_probe.mjs HOST:PORT [SERVICE...]   ("" = the server)
//
// The two messages are tiny, so they are encoded by hand rather than by
// loading health.proto:
//   HealthCheckRequest  { string service = 1; }   -> 0x0a LEN BYTES
//   HealthCheckResponse { ServingStatus status = 1; } -> 0x08 VARINT
import grpc from "@grpc/grpc-js";

const STATUS = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

function encodeRequest(service) {
  const name = Buffer.from(service, "utf8");
  if (name.length > 127) throw new Error("service name too long for this encoder");
  return name.length ? Buffer.concat([Buffer.from([0x0a, name.length]), name]) : Buffer.alloc(0);
}

function decodeStatus(buf) {
  // Field 1, varint; an empty message means status 0 (UNKNOWN).
  return buf.length >= 2 && buf[0] === 0x08 ? buf[1] : 0;
}

const [target, ...services] = process.argv.slice(2);
if (!target) {
  console.error("usage: node health_probe.mjs HOST:PORT [SERVICE...]");
  process.exit(2);
}
const client = new grpc.Client(target, grpc.credentials.createInsecure());
let allServing = true;
for (const service of services.length ? services : [""]) {
  const status = await new Promise((resolve) => {
    client.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      (x) => x, (x) => x, encodeRequest(service), new grpc.Metadata(),
      { deadline: Date.now() + 5000 },
      (err, res) => resolve(err ? `error ${grpc.status[err.code]}: ${err.details}` : STATUS[decodeStatus(res)] ?? "?"),
    );
  });
  console.log(`${JSON.stringify(service)} ${status}`);
  if (status !== "SERVING") allServing = false;
}
client.close();
process.exit(allServing ? 0 : 1);

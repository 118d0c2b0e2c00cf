// Interop test: a Node.js client (@grpc/grpc-js + @grpc/proto-loader, the
// proto loaded at run time, no generated code) against the real jobgroupd.
//
//   npm ci && node --test jobgroup.test.js
//
// JOBGROUPD names the server binary (default: ../../../build/jobgroupd
// relative to this file). The test starts it on a free loopback port, runs
// every RPC of jobgroup.v1.JobService and kills the server at the end, also
// when a test fails.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const REPO = path.resolve(__dirname, '../../..');
const JOBGROUPD = process.env.JOBGROUPD
  ? path.resolve(process.env.JOBGROUPD)
  : path.resolve(__dirname, '../../../build/jobgroupd');

const OUTCOMES = [
  'JOB_OUTCOME_SUCCEEDED',
  'JOB_OUTCOME_FAILED',
  'JOB_OUTCOME_CANCELLED',
  'JOB_OUTCOME_DEADLINE_EXCEEDED',
  'JOB_OUTCOME_REJECTED',
];
const SUMMARY_FIELD = {
  JOB_OUTCOME_SUCCEEDED: 'succeeded',
  JOB_OUTCOME_FAILED: 'failed',
  JOB_OUTCOME_CANCELLED: 'cancelled',
  JOB_OUTCOME_DEADLINE_EXCEEDED: 'deadline_exceeded',
  JOB_OUTCOME_REJECTED: 'rejected',
};

let server = null;   // the jobgroupd child process
let serverLog = '';  // its stderr, shown when something fails
let client = null;   // jobgroup.v1.JobService client

// Starts jobgroupd on free loopback ports and resolves with its gRPC port,
// read from the first log line ("... port=NNN ... metrics_port=MMM ...").
function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(JOBGROUPD, [
      '--listen=127.0.0.1:0',
      '--metrics_listen=127.0.0.1:0',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    server = child;
    const timer = setTimeout(() => {
      reject(new Error(`jobgroupd did not report its port in 10s:\n${serverLog}`));
    }, 10000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${JOBGROUPD}: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (server === child) server = null;
      reject(new Error(`jobgroupd exited (code ${code}, signal ${signal}):\n${serverLog}`));
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      serverLog += chunk;
      const m = / port=(\d+) .*metrics_port=(\d+)/.exec(serverLog);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
}

function stopServer() {
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill('SIGKILL');
  }
  server = null;
}
// Also on an uncaught error or an interrupted run: never leave it behind.
process.on('exit', stopServer);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    stopServer();
    process.exit(128 + require('node:os').constants.signals[signal]);
  });
}

before(async () => {
  const port = await startServer();
  const def = protoLoader.loadSync('jobgroup/v1/jobgroup.proto', {
    includeDirs: [path.join(REPO, 'proto')],
    keepCase: true,  // field names as in the .proto (snake_case)
    longs: Number,   // uint64 counts and indices as numbers
    enums: String,   // enum values by name
    defaults: true,  // absent scalars as their zero values
  });
  const pkg = grpc.loadPackageDefinition(def);
  client = new pkg.jobgroup.v1.JobService(
    `127.0.0.1:${port}`, grpc.credentials.createInsecure());
  await new Promise((resolve, reject) => {
    client.waitForReady(Date.now() + 10000, (err) => (err ? reject(err) : resolve()));
  });
});

after(() => {
  if (client) client.close();
  stopServer();
});

// --- helpers ---------------------------------------------------------------

function deadlineIn(ms) {
  return new Date(Date.now() + ms);
}

function runBatch(request, deadlineMs = 10000) {
  return new Promise((resolve, reject) => {
    client.RunBatch(request, { deadline: deadlineIn(deadlineMs) }, (err, res) => {
      if (err) reject(err); else resolve(res);
    });
  });
}

// Collects a server stream; each message gets the ms since the call began.
function collect(call) {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const messages = [];
    call.on('data', (msg) => messages.push({ at: Date.now() - start, msg }));
    call.on('error', reject);
    call.on('end', () => resolve(messages));
  });
}

function durationMs(d) {
  return d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : 0;
}

// The summary's counts add up to total, which is the number of jobs, and
// each count matches the outcomes of the results.
function checkSummary(summary, results, jobs) {
  assert.ok(summary, 'summary is set');
  assert.equal(summary.total, jobs, 'summary.total');
  let sum = 0;
  for (const outcome of OUTCOMES) {
    const field = SUMMARY_FIELD[outcome];
    const n = results.filter((r) => r.outcome === outcome).length;
    assert.equal(summary[field], n, `summary.${field}`);
    sum += summary[field];
  }
  assert.equal(sum, jobs, 'summary counts add up to the number of jobs');
}

// Every index 0..jobs-1 appears exactly once.
function checkIndices(results, jobs) {
  const seen = results.map((r) => r.index).sort((a, b) => a - b);
  assert.deepEqual(seen, Array.from({ length: jobs }, (_, i) => i),
    'every index exactly once');
}

// Flattens stream messages: the results, and the summary of the last message
// (which must be the only one that carries a summary).
function flatten(messages) {
  assert.ok(messages.length > 0, 'at least one message');
  const results = messages.flatMap((m) => m.msg.results);
  messages.slice(0, -1).forEach((m, i) =>
    assert.equal(m.msg.summary, null, `message ${i} (not the last) has no summary`));
  return { results, summary: messages[messages.length - 1].msg.summary };
}

// --- RunBatch --------------------------------------------------------------

test('RunBatch: echo jobs succeed with their payloads as outputs', async () => {
  const payloads = ['hello', 'wörld', '', 'x'.repeat(1000)];
  const res = await runBatch({
    jobs: payloads.map((p, i) => ({ id: `e${i}`, kind: 'echo', payload: Buffer.from(p) })),
  });
  assert.equal(res.results.length, payloads.length);
  res.results.forEach((r, i) => {
    assert.equal(r.index, i, 'results in request order');
    assert.equal(r.id, `e${i}`);
    assert.equal(r.outcome, 'JOB_OUTCOME_SUCCEEDED');
    assert.equal(r.output.toString(), payloads[i]);
    assert.equal(r.error, null, 'no error on success');
    assert.equal(r.attempts, 1);
    assert.equal(r.served_by, 0);
  });
  checkSummary(res.summary, res.results, payloads.length);
  assert.equal(res.summary.deadline_hit, false);
});

test('RunBatch: ids default to the index', async () => {
  const res = await runBatch({ jobs: [{ kind: 'echo' }, { kind: 'echo' }] });
  assert.deepEqual(res.results.map((r) => r.id), ['0', '1']);
});

test('RunBatch: fail is FAILED under COLLECT_ALL, siblings still run', async () => {
  const res = await runBatch({
    jobs: [
      { kind: 'echo', payload: Buffer.from('a') },
      { kind: 'fail', params: { message: 'boom' } },
      { kind: 'compute', params: { rounds: '1000' } },
      { kind: 'sleep', params: { ms: '50' } },
    ],
    options: { failure_policy: 'FAILURE_POLICY_COLLECT_ALL' },
  });
  assert.deepEqual(res.results.map((r) => r.outcome), [
    'JOB_OUTCOME_SUCCEEDED',
    'JOB_OUTCOME_FAILED',
    'JOB_OUTCOME_SUCCEEDED',
    'JOB_OUTCOME_SUCCEEDED',
  ]);
  assert.equal(res.results[0].output.toString(), 'a');
  assert.ok(res.results[1].error, 'FAILED carries an error');
  assert.match(res.results[1].error.message, /boom/);
  assert.notEqual(res.results[1].error.code, 0);
  checkSummary(res.summary, res.results, 4);
  assert.equal(res.summary.failed, 1);
});

test('RunBatch: under FAIL_FAST (the default) a failure cancels the rest', async () => {
  const res = await runBatch({
    jobs: [
      { kind: 'fail', params: { message: 'first' } },
      { kind: 'sleep', params: { ms: '5000' } },
    ],
  });
  assert.equal(res.results[0].outcome, 'JOB_OUTCOME_FAILED');
  assert.equal(res.results[1].outcome, 'JOB_OUTCOME_CANCELLED');
  checkSummary(res.summary, res.results, 2);
  assert.ok(durationMs(res.summary.elapsed) < 4000, 'the sleeper did not run to its end');
});

test('RunBatch: a short deadline gives partial results, not an error', async () => {
  const started = Date.now();
  const res = await runBatch({
    jobs: [
      { kind: 'echo', payload: Buffer.from('quick') },
      { kind: 'sleep', params: { ms: '10000' } },
      { kind: 'sleep', params: { ms: '10000' } },
    ],
    options: { failure_policy: 'FAILURE_POLICY_COLLECT_ALL' },
  }, 700);
  const took = Date.now() - started;
  assert.ok(took < 700, `reply came before the client's deadline (${took} ms)`);
  assert.equal(res.results.length, 3);
  assert.equal(res.results[0].outcome, 'JOB_OUTCOME_SUCCEEDED');
  assert.equal(res.results[0].output.toString(), 'quick');
  for (const r of res.results.slice(1)) {
    assert.equal(r.outcome, 'JOB_OUTCOME_DEADLINE_EXCEEDED');
    assert.ok(r.error, 'DEADLINE_EXCEEDED carries an error');
  }
  checkSummary(res.summary, res.results, 3);
  assert.equal(res.summary.deadline_exceeded, 2);
  assert.equal(res.summary.deadline_hit, true);
});

test('RunBatch: an empty batch is INVALID_ARGUMENT', async () => {
  await assert.rejects(runBatch({ jobs: [] }),
    (err) => err.code === grpc.status.INVALID_ARGUMENT);
});

// --- StreamBatch -------------------------------------------------------------

test('StreamBatch: results stream in, the last message carries the summary', async () => {
  const sleeps = [0, 0, 400, 400, 800];
  const jobs = sleeps.map((ms, i) => ({ id: `s${i}`, kind: 'sleep', params: { ms: String(ms) } }));
  jobs.push({ id: 'echo', kind: 'echo', payload: Buffer.from('streamed') });
  const call = client.StreamBatch({ jobs }, { deadline: deadlineIn(10000) });
  const messages = await collect(call);
  const { results, summary } = flatten(messages);

  assert.equal(results.length, jobs.length);
  checkIndices(results, jobs.length);
  for (const r of results) {
    assert.equal(r.outcome, 'JOB_OUTCOME_SUCCEEDED', `job ${r.id}`);
    assert.equal(r.id, jobs[r.index].id);
  }
  assert.equal(results.find((r) => r.id === 'echo').output.toString(), 'streamed');
  checkSummary(summary, results, jobs.length);

  // Streamed, not buffered: the quick results arrived well before the end.
  assert.ok(messages.length >= 2, `several messages (${messages.length})`);
  const firstAt = messages.find((m) => m.msg.results.length > 0).at;
  const lastAt = messages[messages.length - 1].at;
  assert.ok(lastAt - firstAt >= 300,
    `first results at ${firstAt} ms, the end at ${lastAt} ms`);
  // In completion order: the 800 ms sleeper is the last result.
  assert.equal(results[results.length - 1].id, 's4');
});

test('StreamBatch: deadline gives partial results and a summary', async () => {
  const jobs = [
    { kind: 'echo', payload: Buffer.from('a') },
    { kind: 'sleep', params: { ms: '10000' } },
  ];
  const call = client.StreamBatch(
    { jobs, options: { failure_policy: 'FAILURE_POLICY_COLLECT_ALL' } },
    { deadline: deadlineIn(600) });
  const { results, summary } = flatten(await collect(call));
  checkIndices(results, 2);
  const byIndex = Object.fromEntries(results.map((r) => [r.index, r.outcome]));
  assert.deepEqual(byIndex, { 0: 'JOB_OUTCOME_SUCCEEDED', 1: 'JOB_OUTCOME_DEADLINE_EXCEEDED' });
  checkSummary(summary, results, 2);
  assert.equal(summary.deadline_hit, true);
});

// --- Process -----------------------------------------------------------------

test('Process: jobs streamed in several messages, options first, half-close ends', async () => {
  const call = client.Process({ deadline: deadlineIn(15000) });
  const done = collect(call);
  const sent = [];
  const send = (msg) => { sent.push(...msg.jobs); call.write(msg); };
  const pause = (ms) => new Promise((r) => setTimeout(r, ms));

  // The first message carries the options (and a first job).
  send({
    options: { failure_policy: 'FAILURE_POLICY_COLLECT_ALL', max_concurrency: 4 },
    jobs: [{ id: 'p0', kind: 'echo', payload: Buffer.from('zero') }],
  });
  await pause(50);
  send({ jobs: [
    { id: 'p1', kind: 'sleep', params: { ms: '100' } },
    { id: 'p2', kind: 'fail', params: { message: 'expected failure' } },
  ] });
  await pause(50);
  const more = [];
  for (let i = 3; i < 20; ++i) {
    more.push({ id: `p${i}`, kind: i % 2 ? 'echo' : 'compute',
                payload: Buffer.from(`job ${i}`), params: { rounds: '100' } });
  }
  send({ jobs: more.slice(0, 8) });
  send({ jobs: more.slice(8) });
  call.end();  // half-close: no more jobs

  const { results, summary } = flatten(await done);
  assert.equal(results.length, sent.length);
  checkIndices(results, sent.length);
  for (const r of results) {
    assert.equal(r.id, sent[r.index].id, 'index is the order of arrival');
    const want = sent[r.index].kind === 'fail'
      ? 'JOB_OUTCOME_FAILED' : 'JOB_OUTCOME_SUCCEEDED';
    assert.equal(r.outcome, want, `job ${r.id}`);
    if (sent[r.index].kind === 'echo') {
      assert.equal(r.output.toString(), sent[r.index].payload.toString());
    }
  }
  checkSummary(summary, results, sent.length);
  assert.equal(summary.failed, 1, 'COLLECT_ALL from the first message was applied');
});

test('Process: half-close with no jobs ends with an empty summary', async () => {
  const call = client.Process({ deadline: deadlineIn(5000) });
  const done = collect(call);
  call.end();
  let messages;
  try {
    messages = await done;
  } catch (err) {
    // A server may also refuse an empty input outright; it must say why.
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT, String(err));
    return;
  }
  const { results, summary } = flatten(messages);
  assert.equal(results.length, 0);
  checkSummary(summary, results, 0);
});

// --- GetServerInfo -----------------------------------------------------------

test('GetServerInfo describes kinds, backends, queue, workers and limits', async () => {
  const info = await new Promise((resolve, reject) => {
    client.GetServerInfo({}, { deadline: deadlineIn(5000) },
      (err, res) => (err ? reject(err) : resolve(res)));
  });
  assert.ok(info.version.length > 0, 'version');
  const kinds = info.kinds.map((k) => k.name);
  for (const k of ['echo', 'sleep', 'compute', 'fail']) {
    assert.ok(kinds.includes(k), `kind ${k} in ${kinds}`);
  }
  for (const k of info.kinds) {
    assert.ok(info.backends.some((b) => b.name === k.backend),
      `backend ${k.backend} of kind ${k.name} is listed`);
  }
  for (const b of info.backends) assert.ok(b.capacity > 0, `backend ${b.name} capacity`);
  assert.ok(info.queue.capacity > 0, 'queue capacity');
  assert.ok(info.workers.total > 0, 'workers');
  assert.ok(info.limits.max_jobs_per_call > 0, 'max_jobs_per_call');
  assert.ok(durationMs(info.limits.default_deadline) > 0, 'default_deadline');
  assert.ok(durationMs(info.limits.max_deadline) >= durationMs(info.limits.default_deadline));
});

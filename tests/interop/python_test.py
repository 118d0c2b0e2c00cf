#!/usr/bin/python3
"""Interop test: Python grpcio (Debian's python3-grpcio) against jobgroupd.

    /usr/bin/python3 tests/interop/python_test.py [JOBGROUPD]

Generates the stubs with protoc + grpc_python_plugin into a temporary
directory (examples/python/gen_stubs.sh), starts jobgroupd on a free loopback
port, runs the example client (examples/python/client.py) and a few asserting
calls, and kills the server at the end, also when a test fails. The server
binary is argv[1], else $JOBGROUPD, else build/jobgroupd under the repo root.
"""

import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLE = os.path.join(REPO, "examples", "python", "client.py")
GEN_STUBS = os.path.join(REPO, "examples", "python", "gen_stubs.sh")
JOBGROUPD = os.path.abspath(
    sys.argv.pop(1) if len(sys.argv) > 1 and not sys.argv[1].startswith("-")
    else os.environ.get("JOBGROUPD", os.path.join(REPO, "build", "jobgroupd")))

# SIGTERM/SIGHUP (e.g. from timeout(1)) exit through atexit, which kills the
# server and removes the stubs.
for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, lambda signum, _frame: sys.exit(128 + signum))

# Generated stubs, importable from here on.
STUBS = tempfile.mkdtemp(prefix="jobgroup-pystubs.")
atexit.register(shutil.rmtree, STUBS, ignore_errors=True)
subprocess.run(["bash", GEN_STUBS, STUBS], check=True, stdout=subprocess.DEVNULL)
sys.path.insert(0, STUBS)

import grpc  # noqa: E402
from jobgroup.v1 import jobgroup_pb2 as pb  # noqa: E402
from jobgroup.v1 import jobgroup_pb2_grpc as pb_grpc  # noqa: E402


class Server:
    """jobgroupd on free loopback ports; its port is read from its first log line."""

    def __init__(self, binary):
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [binary, "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log)
        atexit.register(self.stop)
        self.port = None
        deadline = time.monotonic() + 10
        while self.port is None and time.monotonic() < deadline:
            m = re.search(r" port=(\d+) .*metrics_port=(\d+)", self.text())
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None:
                break
            else:
                time.sleep(0.02)
        if self.port is None:
            self.stop()
            raise RuntimeError(f"jobgroupd did not start:\n{self.text()}")

    def text(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class PythonInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(JOBGROUPD)
        cls.addClassCleanup(cls.server.stop)
        cls.target = f"127.0.0.1:{cls.server.port}"
        cls.channel = grpc.insecure_channel(cls.target)
        cls.addClassCleanup(cls.channel.close)
        grpc.channel_ready_future(cls.channel).result(timeout=10)
        cls.stub = pb_grpc.JobServiceStub(cls.channel)

    def check_summary(self, summary, results, jobs):
        self.assertEqual(summary.total, jobs)
        counts = {
            pb.JOB_OUTCOME_SUCCEEDED: summary.succeeded,
            pb.JOB_OUTCOME_FAILED: summary.failed,
            pb.JOB_OUTCOME_CANCELLED: summary.cancelled,
            pb.JOB_OUTCOME_DEADLINE_EXCEEDED: summary.deadline_exceeded,
            pb.JOB_OUTCOME_REJECTED: summary.rejected,
        }
        self.assertEqual(sum(counts.values()), jobs, "counts add up")
        for outcome, n in counts.items():
            self.assertEqual(n, sum(r.outcome == outcome for r in results),
                             pb.JobOutcome.Name(outcome))

    def test_example_client(self):
        env = dict(os.environ, PYTHONPATH=STUBS, JOBGROUP_TARGET=self.target)
        out = subprocess.run([sys.executable, EXAMPLE], env=env, timeout=30,
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("greet    SUCCEEDED", out.stdout)
        self.assertIn("oops     FAILED", out.stdout)
        self.assertIn(
            "summary: total=5 succeeded=4 failed=1 cancelled=0 "
            "deadline_exceeded=0 rejected=0", out.stdout)

    def test_run_batch_outcomes(self):
        request = pb.RunBatchRequest(
            jobs=[
                pb.Job(kind="echo", payload=b"py"),
                pb.Job(kind="fail", params={"message": "nope"}),
                pb.Job(kind="compute", params={"rounds": "100"}),
                pb.Job(kind="sleep", params={"ms": "10000"}),
            ],
            options=pb.BatchOptions(failure_policy=pb.FAILURE_POLICY_COLLECT_ALL))
        started = time.monotonic()
        response = self.stub.RunBatch(request, timeout=0.7)
        self.assertLess(time.monotonic() - started, 0.7)
        self.assertEqual(
            [r.outcome for r in response.results],
            [pb.JOB_OUTCOME_SUCCEEDED, pb.JOB_OUTCOME_FAILED,
             pb.JOB_OUTCOME_SUCCEEDED, pb.JOB_OUTCOME_DEADLINE_EXCEEDED])
        self.assertEqual([r.index for r in response.results], [0, 1, 2, 3])
        self.assertEqual(response.results[0].output, b"py")
        self.assertEqual(response.results[1].error.message, "nope")
        self.check_summary(response.summary, response.results, 4)
        self.assertTrue(response.summary.deadline_hit)

    def test_run_batch_fail_fast_cancels(self):
        response = self.stub.RunBatch(pb.RunBatchRequest(jobs=[
            pb.Job(kind="fail"), pb.Job(kind="sleep", params={"ms": "5000"})]),
            timeout=10)
        self.assertEqual([r.outcome for r in response.results],
                         [pb.JOB_OUTCOME_FAILED, pb.JOB_OUTCOME_CANCELLED])
        self.check_summary(response.summary, response.results, 2)

    def test_invalid_argument(self):
        with self.assertRaises(grpc.RpcError) as ctx:
            self.stub.RunBatch(pb.RunBatchRequest(jobs=[pb.Job(kind="no-such-kind")]),
                               timeout=10)
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_stream_batch(self):
        jobs = [pb.Job(id=f"s{i}", kind="sleep", params={"ms": str(ms)})
                for i, ms in enumerate([0, 0, 300, 300, 600])]
        jobs.append(pb.Job(id="e", kind="echo", payload=b"streamed"))
        messages = list(self.stub.StreamBatch(pb.StreamBatchRequest(jobs=jobs),
                                              timeout=10))
        self.assertGreaterEqual(len(messages), 2, "results are streamed")
        for m in messages[:-1]:
            self.assertFalse(m.HasField("summary"), "summary on the last message only")
        self.assertTrue(messages[-1].HasField("summary"))
        results = [r for m in messages for r in m.results]
        self.assertEqual(sorted(r.index for r in results), list(range(len(jobs))))
        for r in results:
            self.assertEqual(r.outcome, pb.JOB_OUTCOME_SUCCEEDED, r.id)
            self.assertEqual(r.id, jobs[r.index].id)
        self.assertEqual(results[-1].id, "s4", "completion order")
        self.check_summary(messages[-1].summary, results, len(jobs))


if __name__ == "__main__":
    unittest.main(verbosity=2)

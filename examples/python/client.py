#!/usr/bin/env python3
"""A small jobgroup client in Python: runs one batch and prints a summary.

The batch mixes every built-in kind: two echo jobs, a sleep, a compute job
and a job that fails on purpose. It runs with FAILURE_POLICY_COLLECT_ALL so
the failure does not cancel its siblings, and one call deadline bounds it all.

Setup (Debian: python3-grpcio, python3-protobuf, protobuf-compiler-grpc):

    export PYTHONPATH=$(examples/python/gen_stubs.sh)   # generated stubs
    python3 examples/python/client.py 127.0.0.1:50051

The target comes from the first argument, else $JOBGROUP_TARGET, else
localhost:50051. Exit status: 0 when the call succeeded (whatever the
outcomes of its jobs), 1 on a gRPC error.
"""

import argparse
import os
import sys

import grpc

from jobgroup.v1 import jobgroup_pb2 as pb
from jobgroup.v1 import jobgroup_pb2_grpc as pb_grpc


def build_request():
    """The jobs of the example batch and how they run."""
    jobs = [
        pb.Job(id="greet", kind="echo", payload=b"hello from python"),
        pb.Job(id="nap", kind="sleep", params={"ms": "100"}),
        pb.Job(id="crunch", kind="compute", params={"rounds": "10000"}),
        pb.Job(id="oops", kind="fail", params={"message": "failing on purpose"}),
        pb.Job(id="bye", kind="echo", payload=b"goodbye"),
    ]
    options = pb.BatchOptions(
        failure_policy=pb.FAILURE_POLICY_COLLECT_ALL,
        max_concurrency=4,
    )
    return pb.RunBatchRequest(jobs=jobs, options=options)


def outcome_name(value):
    """JOB_OUTCOME_SUCCEEDED -> SUCCEEDED."""
    return pb.JobOutcome.Name(value).removeprefix("JOB_OUTCOME_")


def print_response(response):
    for result in response.results:
        line = f"  [{result.index}] {result.id:<8} {outcome_name(result.outcome):<18}"
        if result.outcome == pb.JOB_OUTCOME_SUCCEEDED:
            output = result.output.decode("utf-8", errors="replace")
            if len(output) > 40:
                output = output[:37] + "..."
            line += f" output={output!r}"
        else:
            line += f" error={result.error.message!r} (code {result.error.code})"
        line += f" run={result.run_time.ToMilliseconds()}ms"
        print(line)

    s = response.summary
    print(
        f"summary: total={s.total} succeeded={s.succeeded} failed={s.failed} "
        f"cancelled={s.cancelled} deadline_exceeded={s.deadline_exceeded} "
        f"rejected={s.rejected} elapsed={s.elapsed.ToMilliseconds()}ms "
        f"deadline_hit={str(s.deadline_hit).lower()}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "target",
        nargs="?",
        default=os.environ.get("JOBGROUP_TARGET", "localhost:50051"),
        help="host:port of jobgroupd (default: $JOBGROUP_TARGET or localhost:50051)",
    )
    parser.add_argument(
        "--deadline", type=float, default=10.0,
        help="deadline of the whole batch, in seconds (default: 10)",
    )
    args = parser.parse_args(argv)

    request = build_request()
    print(f"running {len(request.jobs)} jobs on {args.target}")
    with grpc.insecure_channel(args.target) as channel:
        stub = pb_grpc.JobServiceStub(channel)
        try:
            response = stub.RunBatch(request, timeout=args.deadline)
        except grpc.RpcError as err:
            print(f"RunBatch failed: {err.code().name}: {err.details()}",
                  file=sys.stderr)
            return 1
    print_response(response)
    return 0


if __name__ == "__main__":
    sys.exit(main())

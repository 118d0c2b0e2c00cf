#!/usr/bin/env bash
# Generates the Python stubs of the jobgroup API into DIR (default: a new
# temporary directory) and prints DIR. Generated code is never committed.
#
#   export PYTHONPATH=$(examples/python/gen_stubs.sh)
#
# Needs protoc and grpc_python_plugin (Debian: protobuf-compiler,
# protobuf-compiler-grpc); the stubs run with python3-grpcio and
# python3-protobuf.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
proto=$here/../../proto
out=${1:-$(mktemp -d "${TMPDIR:-/tmp}/jobgroup-pystubs.XXXXXX")}
mkdir -p "$out"
protoc -I "$proto" \
  --python_out="$out" \
  --grpc_python_out="$out" \
  --plugin=protoc-gen-grpc_python="${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}" \
  jobgroup/v1/jobgroup.proto
echo "$out"

// Translation of a failed gRPC call into an absl::Status for the client
// library's callers, with a one-line message that says what went wrong and,
// when the server cannot be reached, what to check. Stateless; thread-safe.
#ifndef JOBGROUP_CLIENT_RPC_STATUS_H_
#define JOBGROUP_CLIENT_RPC_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"

namespace jobgroup::client {

// IsConnectionFailure() says whether `status` means the client never reached
// a server (connection refused, name not resolved, connection reset, TLS
// handshake failed) rather than a server that answered with an error.
bool IsConnectionFailure(const grpc::Status& status);

// FromGrpcStatus() maps `status` of a call of `method` to `target` to an
// absl::Status with the same code. A connection failure reads
//   cannot reach jobgroupd at localhost:50051: connection refused — is the
//   server running?
// (Unavailable; the advice after the dash fits the cause: a name that does
// not resolve, a TLS handshake...); any other error reads
// "<method>: <server's message>".
// An OK status maps to absl::OkStatus().
absl::Status FromGrpcStatus(const grpc::Status& status,
                            absl::string_view target, absl::string_view method);

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_RPC_STATUS_H_

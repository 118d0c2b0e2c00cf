// The one mapping between the core's types and jobgroup.v1's messages, and
// from absl::Status to grpc::Status (with google.rpc.BadRequest details for
// a validation error). Stateless functions; safe from any thread.
#ifndef JOBGROUP_SERVER_SERVICE_PROTO_MAPPING_H_
#define JOBGROUP_SERVER_SERVICE_PROTO_MAPPING_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "jobgroup/v1/jobgroup.pb.h"
#include "server/core/job.h"

namespace jobgroup {

// The gRPC status of `s`, with the same code and message. A status that
// carries a google.rpc.BadRequest payload (every validation error does, see
// InvalidField()) also carries it in the standard rich-error trailer
// (grpc-status-details-bin, a google.rpc.Status).
grpc::Status ToGrpc(const absl::Status& s);

void SetDuration(absl::Duration d, google::protobuf::Duration* out);

v1::JobOutcome ToProto(JobOutcome o);

// Fills `out` from `r` (whose output is moved); `id` is the client's job
// id, or empty for the default (the index).
void FillResult(JobResult& r, absl::string_view id, v1::JobResult* out);

void FillSummary(const BatchSummary& s, v1::BatchSummary* out);

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_PROTO_MAPPING_H_

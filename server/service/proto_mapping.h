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

// Fills `out` from `s`; `jobs_read` is the jobs the call read (for
// RunBatch and StreamBatch every job of the request).
void FillSummary(const BatchSummary& s, uint64_t jobs_read,
                 v1::BatchSummary* out);

// The wire form of a cancel cause.
v1::CancelCause ToProto(CancelCause cause);

// Bytes a BatchSummary takes in a reply message at most (its field tag and
// length included): nine counters of 11 bytes, two Durations of 24, two
// bools, a call id of up to 128 bytes (call_id.h) with its tag and length,
// the cancel cause, a cancel reason of up to kMaxCancelReasonBytes with its
// tag and length, and the summary's own tag and length, rounded up.
inline constexpr size_t kMaxCancelReasonBytes = 256;
inline constexpr uint64_t kSummaryBytesAtMost = 600;

// ResultBytesAtMost()
//
// An upper bound on the bytes a result takes in a reply message (its field
// tag and length included): its strings plus room for every other field at
// its largest. Cheap (no serialization), for cutting messages by size.
// index, outcome, attempts, served_by, error.code, queue_time, run_time,
// the tags and lengths of the strings and of the result: under 128.
inline constexpr uint64_t kResultFieldsBytesAtMost = 128;
inline uint64_t ResultBytesAtMost(const v1::JobResult& r) {
  return kResultFieldsBytesAtMost + r.id().size() + r.output().size() +
         r.error().message().size();
}
// The same for the result FillResult() makes of `r` and `id` (an empty id
// becomes the index, 20 digits at most).
inline uint64_t ResultBytesAtMost(const JobResult& r, absl::string_view id) {
  return kResultFieldsBytesAtMost + (id.empty() ? 20 : id.size()) +
         r.output.size() + r.error.message().size();
}

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_PROTO_MAPPING_H_

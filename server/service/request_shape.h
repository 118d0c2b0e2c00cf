// RequestShape: what a request's wire bytes hold (jobs, fallbacks, params,
// other fields), counted without parsing them, so that a request is
// refused before it is parsed when it is over the per-call limits or its
// parsed size would not fit the memory budget (memory_budget.h).
//
// Parsed, a message costs far more than its bytes: an empty Job is two
// bytes on the wire (`0a 00`) and a few hundred once parsed, so 64 MiB of
// them would take gigabytes. ScanJobsRequest() walks the bytes once, skips
// every string without copying it and allocates nothing per element.
//
// Stateless functions; thread-safe.
#ifndef JOBGROUP_SERVER_SERVICE_REQUEST_SHAPE_H_
#define JOBGROUP_SERVER_SERVICE_REQUEST_SHAPE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "grpcpp/support/byte_buffer.h"
#include "server/service/server_options.h"

namespace jobgroup {

struct RequestShape {
  uint64_t wire_bytes = 0;
  uint64_t jobs = 0;          // Top-level jobs.
  uint64_t job_messages = 0;  // Jobs and their fallbacks.
  uint64_t params = 0;        // Map entries on the wire, fallbacks' included.
  uint64_t other_fields = 0;  // Sub-messages and unknown fields.

  // RequestShape::ParsedBytesAtMost()
  //
  // A bound on the memory the request takes once parsed (on an arena) and
  // its wire bytes, which are held while it is parsed.
  uint64_t ParsedBytesAtMost() const;
};

// ScanJobsRequest()
//
// Scans `buffer`, a serialized message whose field `jobs_field` is
// `repeated Job jobs` (RunBatchRequest and StreamBatchRequest: 1,
// ProcessRequest: 2). INVALID_ARGUMENT naming the field and the limit when
// there are more than `options.max_jobs_per_call` jobs, or a job has more
// than `options.max_fallbacks` fallbacks or `options.max_params` params, or
// a fallback has fallbacks; the same words as RequestValidator's. Bytes that
// are not a well-formed message end the scan early with what was counted:
// the parse then refuses them. `buffer` is read, not changed.
absl::StatusOr<RequestShape> ScanJobsRequest(const grpc::ByteBuffer& buffer,
                                             int jobs_field,
                                             const ServerOptions& options);

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_REQUEST_SHAPE_H_

// Request validation: every malformed or oversized request is refused before
// anything runs, with an error that names the offending field
// ("jobs[3].params.ms: ..."). Validation also resolves each job's kind and
// backend. Stateless and thread-safe.
//
// The field travels as a typed value too: every validation error carries a
// google.rpc.BadRequest payload (kBadRequestPayload) naming the field, which
// ToGrpc() sends as the status's rich error detail. Nothing reads the field
// back out of the message text.
#ifndef JOBGROUP_SERVER_SERVICE_VALIDATION_H_
#define JOBGROUP_SERVER_SERVICE_VALIDATION_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/rpc/error_details.pb.h"
#include "jobgroup/v1/jobgroup.pb.h"
#include "server/core/backends.h"
#include "server/core/job_kind.h"
#include "server/core/task_group.h"
#include "server/service/kind_backends.h"
#include "server/service/server_options.h"

namespace jobgroup {

// The absl::Status payload (type URL) of a validation error: a serialized
// google.rpc.BadRequest with one field violation.
inline constexpr absl::string_view kBadRequestPayload =
    "type.googleapis.com/google.rpc.BadRequest";

// InvalidField()
//
// INVALID_ARGUMENT with the message "FIELD: WHAT" and a BadRequest payload
// whose violation has field FIELD and description WHAT. FIELD is cut to
// kMaxFieldBytes and WHAT to kMaxDescriptionBytes (a kind's validator may
// quote what it likes), so that the message plus the details trailer,
// which carries both twice more, stay within gRPC's default 8 KiB of
// metadata.
inline constexpr size_t kMaxFieldBytes = 256;
inline constexpr size_t kMaxDescriptionBytes = 1024;
absl::Status InvalidField(absl::string_view field, absl::string_view what);

// Quote()
//
// `value` in double quotes for an error or a log line, bounded: a value of
// more than kQuotedPrefixBytes bytes is cut to that prefix (at a UTF-8
// character boundary) and followed by its length, `"aaaa…" (2097152 bytes)`.
inline constexpr size_t kQuotedPrefixBytes = 64;
std::string Quote(absl::string_view value);

// BadRequestOf()
//
// The BadRequest that `s` carries as its payload, if any.
std::optional<google::rpc::BadRequest> BadRequestOf(const absl::Status& s);

class RequestValidator {
 public:
  // Every pointer must outlive the validator; `kind_backends` may be null
  // (then a job may name any configured backend).
  RequestValidator(const ServerOptions* options, const KindRegistry* kinds,
                   const BackendSet* backends,
                   const KindBackends* kind_backends = nullptr)
      : options_(options),
        kinds_(kinds),
        backends_(backends),
        kind_backends_(kind_backends) {}

  // RequestValidator::ValidateJobs()
  //
  // Checks the jobs of a RunBatch or StreamBatch request: count, ids, and
  // each job as ValidateJob(). Ids are unique among the jobs' ids, the
  // default one (the job's index) of a job without an id included.
  absl::Status ValidateJobs(
      const google::protobuf::RepeatedPtrField<v1::Job>& jobs) const;

  // Where a job is in its request: jobs[3], or its fallback
  // jobs[3].fallbacks[1]. Errors name it; it becomes text only then.
  struct JobPath {
    uint64_t index = 0;
    int64_t fallback = -1;  // -1: the job itself.
    std::string Name() const;
  };

  // RequestValidator::ValidateJob()
  //
  // Checks one job; `path` names it in errors.
  absl::Status ValidateJob(const v1::Job& job, JobPath path) const;

  // RequestValidator::ToBatchOptions()
  //
  // Checks BatchOptions and converts them (deadline not set).
  absl::StatusOr<TaskGroup::Options> ToBatchOptions(
      const v1::BatchOptions& options) const;

  // RequestValidator::ToJobSpec()
  //
  // Converts a validated job; `index` gives its default id; `traceparent`
  // (may be null) is the call's, for the job and its fallbacks.
  std::shared_ptr<JobSpec> ToJobSpec(
      const v1::Job& job, uint64_t index,
      const std::shared_ptr<const std::string>& traceparent = nullptr) const;

 private:
  void Resolve(const v1::Job& job, JobSpec& spec) const;

  const ServerOptions* const options_;
  const KindRegistry* const kinds_;
  const BackendSet* const backends_;
  const KindBackends* const kind_backends_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_VALIDATION_H_

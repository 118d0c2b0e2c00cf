// Names and mappings of the core job types.
#include "server/core/job.h"

#include <utility>

namespace jobgroup {

uint64_t HeldBytes(const JobSpec& spec) {
  uint64_t bytes = sizeof(JobSpec) + spec.id.capacity() + spec.kind.capacity() +
                   spec.payload.capacity() + spec.backend.capacity() +
                   spec.params.capacity() * sizeof(spec.params[0]) +
                   spec.fallbacks.capacity() * sizeof(JobSpec);
  for (const auto& [name, value] : spec.params) {
    bytes += name.capacity() + value.capacity();
  }
  for (const JobSpec& f : spec.fallbacks) bytes += HeldBytes(f) - sizeof(f);
  return bytes;
}

absl::string_view JobOutcomeName(JobOutcome outcome) {
  switch (outcome) {
    case JobOutcome::kSucceeded:
      return "succeeded";
    case JobOutcome::kFailed:
      return "failed";
    case JobOutcome::kCancelled:
      return "cancelled";
    case JobOutcome::kDeadlineExceeded:
      return "deadline_exceeded";
    case JobOutcome::kRejected:
      return "rejected";
  }
  return "unknown";
}

absl::string_view CancelCauseName(CancelCause cause) {
  switch (cause) {
    case CancelCause::kNone:
      return "none";
    case CancelCause::kClient:
      return "client";
    case CancelCause::kFailFast:
      return "fail_fast";
    case CancelCause::kDeadline:
      return "deadline";
    case CancelCause::kDrain:
      return "drain";
    case CancelCause::kShutdown:
      return "shutdown";
    case CancelCause::kOperator:
      return "operator";
  }
  return "unknown";
}

JobOutcome OutcomeForCancelCause(CancelCause cause) {
  return cause == CancelCause::kDeadline ? JobOutcome::kDeadlineExceeded
                                         : JobOutcome::kCancelled;
}

Cancellation Cancellation::Of(CancelCause cause, absl::Status status) {
  if (cause == CancelCause::kNone) cause = CancelCause::kClient;
  if (status.ok()) {
    switch (cause) {
      case CancelCause::kDeadline:
        status = absl::DeadlineExceededError("call deadline exceeded");
        break;
      case CancelCause::kClient:
        status = absl::CancelledError("the client cancelled the call");
        break;
      case CancelCause::kFailFast:
        status = absl::CancelledError("cancelled because a job failed");
        break;
      case CancelCause::kDrain:
        status = absl::CancelledError("the server is draining");
        break;
      case CancelCause::kOperator:
        status = absl::CancelledError("an operator cancelled the call");
        break;
      case CancelCause::kShutdown:
      case CancelCause::kNone:
        status = absl::CancelledError("the server is shutting down");
        break;
    }
  }
  Cancellation c;
  c.cause = cause;
  c.status = std::move(status);
  return c;
}

Cancellation Cancellation::FromStatus(absl::Status status) {
  return Of(absl::IsDeadlineExceeded(status) ? CancelCause::kDeadline
                                             : CancelCause::kClient,
            std::move(status));
}

JobOutcome OutcomeForCancellation(const absl::Status& reason) {
  return absl::IsDeadlineExceeded(reason) ? JobOutcome::kDeadlineExceeded
                                          : JobOutcome::kCancelled;
}

}  // namespace jobgroup

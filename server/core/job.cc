// Names and mappings of the core job types.
#include "server/core/job.h"

namespace jobgroup {

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

JobOutcome OutcomeForCancellation(const absl::Status& reason) {
  return absl::IsDeadlineExceeded(reason) ? JobOutcome::kDeadlineExceeded
                                          : JobOutcome::kCancelled;
}

}  // namespace jobgroup

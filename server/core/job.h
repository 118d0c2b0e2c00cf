// Core job types: what a job is, how it may end, and its one result. Plain
// values with no synchronization of their own; the service converts them to
// and from the protobuf API.
#ifndef JOBGROUP_SERVER_CORE_JOB_H_
#define JOBGROUP_SERVER_CORE_JOB_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace jobgroup {

class JobKind;
class Semaphore;

// One unit of work. Built by the service from the request and validated
// before it runs, then immutable.
struct JobSpec {
  std::string id;
  std::string kind;
  std::string payload;
  std::vector<std::pair<std::string, std::string>> params;
  std::string backend;  // Empty: the kind's default backend.
  absl::Duration timeout = absl::ZeroDuration();  // Zero: none.
  std::vector<JobSpec> fallbacks;
  // The W3C traceparent of the call the job came in, when its client sent
  // one (the http kind passes it on to its requests); null otherwise.
  std::shared_ptr<const std::string> traceparent;

  // Not OK: the job was refused before it ran (outcome REJECTED).
  absl::Status rejected;

  // Resolved at validation: never null once the job runs.
  const JobKind* resolved_kind = nullptr;
  Semaphore* resolved_backend = nullptr;

  // The value of param `name`, or `fallback` when absent.
  absl::string_view Param(absl::string_view name,
                          absl::string_view fallback = {}) const {
    for (const auto& [k, v] : params) {
      if (k == name) return v;
    }
    return fallback;
  }
  bool HasParam(absl::string_view name) const {
    for (const auto& [k, v] : params) {
      if (k == name) return true;
    }
    return false;
  }
};

// The bytes `spec` holds, about: its strings' contents and capacity, its
// params and fallbacks, and the struct itself (what a server counts for a
// job it has read and not yet answered).
uint64_t HeldBytes(const JobSpec& spec);

// How a job ended. Every job gets exactly one.
enum class JobOutcome {
  kSucceeded,
  kFailed,
  kCancelled,
  kDeadlineExceeded,
  kRejected,
};
inline constexpr int kJobOutcomeCount = 5;
absl::string_view JobOutcomeName(JobOutcome outcome);  // "succeeded", ...

// The outcome that a cancellation for `reason` gives a job that has not
// finished: DEADLINE_EXCEEDED for deadline reasons, CANCELLED otherwise.
JobOutcome OutcomeForCancellation(const absl::Status& reason);

enum class FailurePolicy { kFailFast, kCollectAll };
enum class FallbackMode { kSequential, kRace };

struct RetryPolicy {
  uint32_t max_attempts = 1;  // 1: no retry.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(10);
  double multiplier = 2.0;
  double jitter = 0.0;  // Fraction of each wait drawn at random.
  // An attempt that runs out of the job's timeout is a failed attempt:
  // retried, then handed to the fallbacks. True: it ends the job
  // DEADLINE_EXCEEDED at once.
  bool timeout_ends_job = false;
};

// The one result of one job.
struct JobResult {
  uint64_t index = 0;
  JobOutcome outcome = JobOutcome::kRejected;
  absl::Status error;  // OK when succeeded.
  std::string output;
  uint32_t attempts = 0;
  uint32_t served_by = 0;  // 0: the primary; k: the k-th fallback.
  absl::Duration queue_time = absl::ZeroDuration();
  absl::Duration run_time = absl::ZeroDuration();
  // The job's kind when it started; null for a job that never started.
  const JobKind* kind = nullptr;
};

// Why a call was cancelled: a typed value, so that nothing (metrics, the
// gRPC status) has to read the cause out of a message.
enum class CancelCause {
  kNone,      // Not cancelled.
  kClient,    // The client cancelled, went away or stopped reading.
  kFailFast,  // A job FAILED under FAIL_FAST.
  kDeadline,  // The call's deadline passed.
  kDrain,     // The server drained and ended the calls still running.
  kShutdown,  // The server is shutting down.
  kOperator,  // An operator cancelled the call (AdminService.CancelCall).
};
absl::string_view CancelCauseName(CancelCause cause);  // "none", "client", ...

// The outcome of a job that a cancellation for `cause` ends before it
// finished: DEADLINE_EXCEEDED for kDeadline, CANCELLED otherwise.
JobOutcome OutcomeForCancelCause(CancelCause cause);

// The cancellation of a call: its cause, the status each job it ends gets
// (the message is for people, never parsed), and for kFailFast the job
// whose failure caused it. A plain value.
struct Cancellation {
  CancelCause cause = CancelCause::kNone;
  absl::Status status;                       // OK for kNone.
  std::optional<uint64_t> failed_job_index;  // kFailFast only.

  // A cancellation for `cause` (not kNone) with `status`; an OK `status`
  // gets the cause's standard one (e.g. DEADLINE_EXCEEDED "call deadline
  // exceeded").
  static Cancellation Of(CancelCause cause,
                         absl::Status status = absl::OkStatus());
  // The cause that a bare status stands for, for callers that have only a
  // status: kDeadline for DEADLINE_EXCEEDED, kClient otherwise.
  static Cancellation FromStatus(absl::Status status);

  bool cancelled() const { return cause != CancelCause::kNone; }
  JobOutcome outcome() const { return OutcomeForCancelCause(cause); }
};

// Counts of the outcomes of one call.
struct BatchSummary {
  uint64_t total = 0;
  uint64_t counts[kJobOutcomeCount] = {};
  absl::Duration elapsed = absl::ZeroDuration();
  bool deadline_hit = false;  // cancel_cause == CancelCause::kDeadline.
  // Why the call was cancelled; kNone when it was not.
  CancelCause cancel_cause = CancelCause::kNone;
  // kFailFast: the index of the job whose failure cancelled the call.
  std::optional<uint64_t> failed_job_index;
  // The status the cancellation gave the jobs it ended, OK when the call
  // was not cancelled. For people: read cancel_cause, not its message.
  absl::Status cancel_reason;

  uint64_t count(JobOutcome o) const { return counts[static_cast<int>(o)]; }
  void Add(JobOutcome o) {
    ++counts[static_cast<int>(o)];
    ++total;
  }
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_JOB_H_

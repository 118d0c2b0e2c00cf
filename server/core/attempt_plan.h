// Attempt decisions: what a job does when one of its attempts ends (settle,
// retry the same candidate, or give that candidate up) and which candidates
// start when one is given up. Plain functions of the attempt's end, the
// policy and the time left: no state, no locks, no clock. TaskGroup applies
// them; attempt_plan_test.cc checks them as a table.
//
// Thread-safe: pure functions.
#ifndef JOBGROUP_SERVER_CORE_ATTEMPT_PLAN_H_
#define JOBGROUP_SERVER_CORE_ATTEMPT_PLAN_H_

#include <cstdint>

#include "absl/container/inlined_vector.h"
#include "absl/time/time.h"
#include "server/core/job.h"

namespace jobgroup {

// How one attempt ended, as the decisions see it.
enum class AttemptEnd {
  kSucceeded,
  kFailed,     // The handler returned an error or threw.
  kTimedOut,   // The job's own timeout ended it, before the call's deadline.
  kCancelled,  // Cancelled (a sibling, the client, a drain): not retried.
  kOutOfTime,  // The call's deadline ended it: not retried.
};

struct AttemptDecision {
  enum class Action {
    kSettle,           // The job ends now with `outcome`.
    kRetry,            // The same candidate again, after `backoff`.
    kGiveUpCandidate,  // This candidate failed for good.
  };
  Action action = Action::kSettle;
  JobOutcome outcome = JobOutcome::kSucceeded;    // kSettle only.
  absl::Duration backoff = absl::ZeroDuration();  // kRetry only.
  // kGiveUpCandidate: the policy allowed a retry, but its wait would pass
  // the call's deadline.
  bool retry_past_deadline = false;
};

// DecideAfterAttempt()
//
// After try `try_number` (from 1) of one candidate ended with `end`.
// `backoff` is the wait before the next try (drawn by the caller, jitter
// included); `time_left` is what remains before the call's deadline.
AttemptDecision DecideAfterAttempt(AttemptEnd end, uint32_t try_number,
                                   const RetryPolicy& policy,
                                   absl::Duration backoff,
                                   absl::Duration time_left);

struct CandidateDecision {
  absl::InlinedVector<uint32_t, 4> start;  // Candidates to start now.
  bool all_failed = false;                 // None left to try: the job fails.
};

// DecideAfterCandidate()
//
// After `candidate` (0: the primary, k: the k-th of `fallbacks`) was given
// up. `race_given_up` is how many fallbacks of a RACE have been given up,
// this one included.
CandidateDecision DecideAfterCandidate(uint32_t candidate, uint32_t fallbacks,
                                       FallbackMode mode,
                                       uint32_t race_given_up);

// The outcome of a job whose every candidate failed, from how the attempt
// that ended last ended: DEADLINE_EXCEEDED when it timed out, else FAILED.
JobOutcome OutcomeWhenAllFailed(AttemptEnd last);

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_ATTEMPT_PLAN_H_

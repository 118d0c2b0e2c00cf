// Implementation of the attempt decisions.
#include "server/core/attempt_plan.h"

namespace jobgroup {

AttemptDecision DecideAfterAttempt(AttemptEnd end, uint32_t try_number,
                                   const RetryPolicy& policy,
                                   absl::Duration backoff,
                                   absl::Duration time_left) {
  AttemptDecision d;
  switch (end) {
    case AttemptEnd::kSucceeded:
      d.outcome = JobOutcome::kSucceeded;
      return d;
    case AttemptEnd::kCancelled:
      d.outcome = JobOutcome::kCancelled;
      return d;
    case AttemptEnd::kOutOfTime:
      d.outcome = JobOutcome::kDeadlineExceeded;
      return d;
    case AttemptEnd::kTimedOut:
      if (policy.timeout_ends_job) {
        d.outcome = JobOutcome::kDeadlineExceeded;
        return d;
      }
      break;  // A failed attempt.
    case AttemptEnd::kFailed:
      break;
  }
  if (try_number >= policy.max_attempts) {
    d.action = AttemptDecision::Action::kGiveUpCandidate;
  } else if (backoff < time_left) {
    d.action = AttemptDecision::Action::kRetry;
    d.backoff = backoff;
  } else {
    d.action = AttemptDecision::Action::kGiveUpCandidate;
    d.retry_past_deadline = true;
  }
  return d;
}

CandidateDecision DecideAfterCandidate(uint32_t candidate, uint32_t fallbacks,
                                       FallbackMode mode,
                                       uint32_t race_given_up) {
  CandidateDecision d;
  if (candidate == 0 && fallbacks > 0) {
    if (mode == FallbackMode::kRace) {
      for (uint32_t k = 1; k <= fallbacks; ++k) d.start.push_back(k);
    } else {
      d.start.push_back(1);
    }
  } else if (mode == FallbackMode::kRace && candidate > 0) {
    d.all_failed = race_given_up >= fallbacks;
  } else if (candidate < fallbacks) {
    d.start.push_back(candidate + 1);
  } else {
    d.all_failed = true;
  }
  return d;
}

JobOutcome OutcomeWhenAllFailed(AttemptEnd last) {
  return last == AttemptEnd::kTimedOut ? JobOutcome::kDeadlineExceeded
                                       : JobOutcome::kFailed;
}

}  // namespace jobgroup

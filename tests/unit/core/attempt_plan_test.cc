// The attempt decisions as tables: for each way an attempt can end, under
// each policy and time left, what the job does next; and which candidates
// start when one is given up.
#include "server/core/attempt_plan.h"

#include <vector>

#include "gtest/gtest.h"

namespace jobgroup {
namespace {

using Action = AttemptDecision::Action;

struct AttemptRow {
  const char* what;
  AttemptEnd end;
  uint32_t try_number;
  uint32_t max_attempts;
  bool timeout_ends_job;
  absl::Duration backoff;
  absl::Duration time_left;
  // Expected:
  Action action;
  JobOutcome outcome;  // For kSettle.
  bool retry_past_deadline;
};

TEST(AttemptPlanTest, AfterAttempt) {
  const absl::Duration ms = absl::Milliseconds(1);
  const absl::Duration inf = absl::InfiniteDuration();
  const std::vector<AttemptRow> rows = {
      {"success settles", AttemptEnd::kSucceeded, 1, 5, false, ms, inf,
       Action::kSettle, JobOutcome::kSucceeded, false},
      {"success on a retry settles", AttemptEnd::kSucceeded, 3, 5, false, ms,
       inf, Action::kSettle, JobOutcome::kSucceeded, false},
      {"a cancel is never retried", AttemptEnd::kCancelled, 1, 5, false, ms,
       inf, Action::kSettle, JobOutcome::kCancelled, false},
      {"the call's deadline is never retried", AttemptEnd::kOutOfTime, 1, 5,
       false, ms, inf, Action::kSettle, JobOutcome::kDeadlineExceeded, false},
      {"a failure with tries left retries", AttemptEnd::kFailed, 1, 2, false,
       ms, inf, Action::kRetry, JobOutcome::kSucceeded, false},
      {"a failure on the last try gives up", AttemptEnd::kFailed, 2, 2, false,
       ms, inf, Action::kGiveUpCandidate, JobOutcome::kSucceeded, false},
      {"no retry policy gives up at once", AttemptEnd::kFailed, 1, 1, false, ms,
       inf, Action::kGiveUpCandidate, JobOutcome::kSucceeded, false},
      {"a retry whose wait passes the deadline gives up", AttemptEnd::kFailed,
       1, 5, false, absl::Seconds(2), absl::Seconds(1),
       Action::kGiveUpCandidate, JobOutcome::kSucceeded, true},
      {"a wait ending exactly at the deadline gives up", AttemptEnd::kFailed, 1,
       5, false, absl::Seconds(1), absl::Seconds(1), Action::kGiveUpCandidate,
       JobOutcome::kSucceeded, true},
      {"a timeout with tries left retries", AttemptEnd::kTimedOut, 1, 3, false,
       ms, inf, Action::kRetry, JobOutcome::kSucceeded, false},
      {"a timeout on the last try gives up", AttemptEnd::kTimedOut, 3, 3, false,
       ms, inf, Action::kGiveUpCandidate, JobOutcome::kSucceeded, false},
      {"timeout_ends_job settles a timeout", AttemptEnd::kTimedOut, 1, 3, true,
       ms, inf, Action::kSettle, JobOutcome::kDeadlineExceeded, false},
      {"timeout_ends_job leaves failures retried", AttemptEnd::kFailed, 1, 3,
       true, ms, inf, Action::kRetry, JobOutcome::kSucceeded, false},
  };
  for (const AttemptRow& row : rows) {
    RetryPolicy policy;
    policy.max_attempts = row.max_attempts;
    policy.timeout_ends_job = row.timeout_ends_job;
    AttemptDecision d = DecideAfterAttempt(row.end, row.try_number, policy,
                                           row.backoff, row.time_left);
    EXPECT_EQ(d.action, row.action) << row.what;
    if (row.action == Action::kSettle) {
      EXPECT_EQ(d.outcome, row.outcome) << row.what;
    }
    if (row.action == Action::kRetry) {
      EXPECT_EQ(d.backoff, row.backoff) << row.what;
    }
    EXPECT_EQ(d.retry_past_deadline, row.retry_past_deadline) << row.what;
  }
}

struct CandidateRow {
  const char* what;
  uint32_t candidate;
  uint32_t fallbacks;
  FallbackMode mode;
  uint32_t race_given_up;
  // Expected:
  std::vector<uint32_t> start;
  bool all_failed;
};

TEST(AttemptPlanTest, AfterCandidate) {
  const auto seq = FallbackMode::kSequential;
  const auto race = FallbackMode::kRace;
  const std::vector<CandidateRow> rows = {
      {"no fallback: the job fails", 0, 0, seq, 0, {}, true},
      {"no fallback, race: the job fails", 0, 0, race, 0, {}, true},
      {"sequential: the first fallback next", 0, 3, seq, 0, {1}, false},
      {"sequential: the next fallback", 1, 3, seq, 0, {2}, false},
      {"sequential: the last fallback failed", 3, 3, seq, 0, {}, true},
      {"race: every fallback at once", 0, 3, race, 0, {1, 2, 3}, false},
      {"race: others still running", 2, 3, race, 1, {}, false},
      {"race: the last runner failed", 1, 3, race, 3, {}, true},
  };
  for (const CandidateRow& row : rows) {
    CandidateDecision d = DecideAfterCandidate(row.candidate, row.fallbacks,
                                               row.mode, row.race_given_up);
    EXPECT_EQ(std::vector<uint32_t>(d.start.begin(), d.start.end()), row.start)
        << row.what;
    EXPECT_EQ(d.all_failed, row.all_failed) << row.what;
  }
}

TEST(AttemptPlanTest, AJobIsDeadlineExceededOnlyWhenItsLastAttemptTimedOut) {
  EXPECT_EQ(OutcomeWhenAllFailed(AttemptEnd::kTimedOut),
            JobOutcome::kDeadlineExceeded);
  EXPECT_EQ(OutcomeWhenAllFailed(AttemptEnd::kFailed), JobOutcome::kFailed);
}

}  // namespace
}  // namespace jobgroup

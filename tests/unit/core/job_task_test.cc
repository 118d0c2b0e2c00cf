// Tests of JobTask: retries with backoff, fallbacks in sequence and in a
// race, timed-out attempts as failed ones, and what is never retried or
// handed to fallbacks.
#include "server/core/job_task.h"

#include <atomic>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/core/notification.h"
#include "tests/unit/core/test_env.h"

namespace jobgroup {
namespace {

using testing::TestEnv;

struct Outcome {
  Notification done;
  JobResult result;
};

std::shared_ptr<JobTask> StartTask(TestEnv& env, std::shared_ptr<JobSpec> job,
                                   JobTask::Options o, Outcome* out) {
  auto task = std::make_shared<JobTask>(&env.executor(), job, o);
  task->Start([out](JobResult r) {
    out->result = std::move(r);
    out->done.Notify();
  });
  return task;
}

TEST(JobTaskTest, SequentialFallbacksStopAtTheFirstSuccess) {
  TestEnv env;
  auto job = env.Job("fail", {{"message", "primary down"}});
  job->fallbacks.push_back(*env.Job("fail", {{"message", "mirror down"}}));
  job->fallbacks.push_back(*env.Job("sleep", {{"ms", "1"}}));
  job->fallbacks.push_back(*env.Job("fail"));
  env.Resolve(*job);
  Outcome out;
  auto task = StartTask(env, job, {}, &out);
  ASSERT_TRUE(out.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_EQ(out.result.outcome, JobOutcome::kSucceeded);
  EXPECT_EQ(out.result.served_by, 2u);
  EXPECT_EQ(out.result.attempts, 3u);
  EXPECT_EQ(env.fail_runs.load(), 2);  // The third fallback never ran.
}

TEST(JobTaskTest, AllFailedListsEveryError) {
  TestEnv env;
  auto job = env.Job("fail", {{"message", "a"}});
  job->fallbacks.push_back(*env.Job("fail", {{"message", "b"}}));
  env.Resolve(*job);
  Outcome out;
  auto task = StartTask(env, job, {}, &out);
  ASSERT_TRUE(out.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_EQ(out.result.outcome, JobOutcome::kFailed);
  EXPECT_EQ(out.result.error.message(), "primary: a; fallback 1: b");
}

TEST(JobTaskTest, RaceStartsFallbacksTogetherAndCancelsTheLosers) {
  TestEnv env;
  auto job = env.Job("fail");
  job->fallbacks.push_back(*env.Job("sleep", {{"ms", "5000"}}));
  job->fallbacks.push_back(*env.Job("sleep", {{"ms", "20"}}));
  job->fallbacks.push_back(*env.Job("sleep", {{"ms", "5000"}}));
  env.Resolve(*job);
  JobTask::Options o;
  o.fallback_mode = FallbackMode::kRace;
  Outcome out;
  absl::Time start = absl::Now();
  auto task = StartTask(env, job, o, &out);
  ASSERT_TRUE(out.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  // The winner sleeps 20 ms: well before the 5 s losers could end.
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(2500));
  EXPECT_EQ(out.result.outcome, JobOutcome::kSucceeded);
  EXPECT_EQ(out.result.served_by, 2u);
  // Both losers were told to stop, from inside their handlers' view.
  absl::Time give_up = absl::Now() + absl::Seconds(2);
  while (env.cancelled_handlers.load() < 2 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(env.cancelled_handlers.load(), 2);
  EXPECT_EQ(env.backends().Find("local")->in_use(), 0);
}

TEST(JobTaskTest, FailedAttemptsAreRetriedWithBackoff) {
  TestEnv env;
  auto job = env.Job("fail", {{"message", "flaky"}});
  JobTask::Options o;
  o.retry.max_attempts = 4;
  o.retry.initial_backoff = absl::Milliseconds(20);
  o.retry.multiplier = 10;
  o.retry.max_backoff = absl::Milliseconds(50);
  Outcome out;
  absl::Time start = absl::Now();
  auto task = StartTask(env, job, o, &out);
  ASSERT_TRUE(out.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  absl::Duration took = absl::Now() - start;
  EXPECT_EQ(out.result.outcome, JobOutcome::kFailed);
  EXPECT_EQ(out.result.attempts, 4u);
  EXPECT_EQ(env.fail_runs.load(), 4);
  // Waits of 20, 50 and 50 ms: the cap holds the 200 and 2000 ms that the
  // multiplier asks for. Timers never fire early; a slow machine can only
  // add to the 120 ms, but not nearly the 2.2 s of uncapped waits.
  EXPECT_GE(took, absl::Milliseconds(120));
  EXPECT_LT(took, absl::Seconds(1));
}

TEST(JobTaskTest, RetriesStopAtTheDeadline) {
  TestEnv env;
  auto job = env.Job("fail");
  JobTask::Options o;
  o.retry.max_attempts = 10;
  o.retry.initial_backoff = absl::Milliseconds(300);
  o.retry.multiplier = 1;
  o.deadline = absl::Now() + absl::Milliseconds(500);
  Outcome out;
  auto task = StartTask(env, job, o, &out);
  ASSERT_TRUE(out.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  // Attempts at 0 and 300 ms; a third, at 600 ms, would pass the deadline,
  // so the task fails at once, 200 ms before it, instead of waiting.
  EXPECT_LT(absl::Now(), o.deadline);
  EXPECT_EQ(out.result.outcome, JobOutcome::kFailed);
  EXPECT_LE(out.result.attempts, 2u);
  EXPECT_NE(out.result.error.message().find("would pass the deadline"),
            std::string::npos);
}

// A job that sleeps 5 s under a 30 ms timeout: each of its attempts times
// out (the test never waits for the 5 s).
std::shared_ptr<JobSpec> TimesOut(TestEnv& env) {
  auto job = env.Job("sleep", {{"ms", "5000"}});
  job->timeout = absl::Milliseconds(30);
  return job;
}

JobTask::Options Retries(uint32_t max_attempts) {
  JobTask::Options o;
  o.retry.max_attempts = max_attempts;
  o.retry.initial_backoff = absl::Milliseconds(1);
  o.retry.max_backoff = absl::Milliseconds(1);
  return o;
}

TEST(JobTaskTest, TimedOutAttemptsAreRetried) {
  TestEnv env;
  Outcome out;
  auto task = StartTask(env, TimesOut(env), Retries(3), &out);
  ASSERT_TRUE(out.done.WaitForNotificationWithTimeout(absl::Seconds(4)));
  // Its last attempt timed out: DEADLINE_EXCEEDED, after every retry.
  EXPECT_EQ(out.result.outcome, JobOutcome::kDeadlineExceeded);
  EXPECT_EQ(out.result.attempts, 3u);
  EXPECT_EQ(env.started.load(), 3);
  EXPECT_NE(out.result.error.message().find("job timeout of 30ms exceeded"),
            std::string::npos)
      << out.result.error;
  EXPECT_TRUE(env.Idle());
}

TEST(JobTaskTest, TimedOutPrimaryIsHandedToItsFallback) {
  TestEnv env;
  auto job = TimesOut(env);
  job->fallbacks.push_back(*env.Job("echo"));
  env.Resolve(*job);
  Outcome out;
  auto task = StartTask(env, job, Retries(2), &out);
  ASSERT_TRUE(out.done.WaitForNotificationWithTimeout(absl::Seconds(4)));
  EXPECT_EQ(out.result.outcome, JobOutcome::kSucceeded);
  EXPECT_EQ(out.result.served_by, 1u);
  EXPECT_EQ(out.result.attempts, 3u);  // Two of the primary, one fallback.
}

TEST(JobTaskTest, TheLastAttemptDecidesBetweenFailedAndDeadlineExceeded) {
  TestEnv env;
  {
    // Timed out, then the fallback failed: FAILED.
    auto job = TimesOut(env);
    job->fallbacks.push_back(*env.Job("fail", {{"message", "down"}}));
    env.Resolve(*job);
    Outcome out;
    auto task = StartTask(env, job, {}, &out);
    ASSERT_TRUE(out.done.WaitForNotificationWithTimeout(absl::Seconds(4)));
    EXPECT_EQ(out.result.outcome, JobOutcome::kFailed);
    EXPECT_EQ(out.result.attempts, 2u);
    EXPECT_NE(out.result.error.message().find("primary: job timeout"),
              std::string::npos)
        << out.result.error;
  }
  {
    // Failed, then the fallback timed out: DEADLINE_EXCEEDED.
    auto job = env.Job("fail");
    job->fallbacks.push_back(*TimesOut(env));
    env.Resolve(*job);
    Outcome out;
    auto task = StartTask(env, job, {}, &out);
    ASSERT_TRUE(out.done.WaitForNotificationWithTimeout(absl::Seconds(4)));
    EXPECT_EQ(out.result.outcome, JobOutcome::kDeadlineExceeded);
    EXPECT_EQ(out.result.attempts, 2u);
  }
}

TEST(JobTaskTest, TimeoutEndsJobOptsOutOfRetriesAndFallbacks) {
  TestEnv env;
  auto job = TimesOut(env);
  job->fallbacks.push_back(*env.Job("echo"));
  env.Resolve(*job);
  JobTask::Options o = Retries(5);
  o.retry.timeout_ends_job = true;
  Outcome out;
  auto task = StartTask(env, job, o, &out);
  ASSERT_TRUE(out.done.WaitForNotificationWithTimeout(absl::Seconds(4)));
  EXPECT_EQ(out.result.outcome, JobOutcome::kDeadlineExceeded);
  EXPECT_EQ(out.result.attempts, 1u);
  EXPECT_EQ(out.result.served_by, 0u);
}

TEST(JobTaskTest, TheCallsDeadlineIsNeverRetried) {
  TestEnv env;
  // The job's timeout (10 s) comes after the call's deadline (50 ms): the
  // attempt ends because the call ran out of time, which no retry or
  // fallback can mend.
  auto job = env.Job("sleep", {{"ms", "5000"}});
  job->timeout = absl::Seconds(10);
  job->fallbacks.push_back(*env.Job("echo"));
  env.Resolve(*job);
  JobTask::Options o = Retries(5);
  o.deadline = absl::Now() + absl::Milliseconds(50);
  Outcome out;
  auto task = StartTask(env, job, o, &out);
  ASSERT_TRUE(out.done.WaitForNotificationWithTimeout(absl::Seconds(4)));
  EXPECT_EQ(out.result.outcome, JobOutcome::kDeadlineExceeded);
  EXPECT_EQ(out.result.attempts, 1u);
  EXPECT_EQ(out.result.served_by, 0u);
}

TEST(JobTaskTest, CancelDuringBackoffSettlesAtOnce) {
  TestEnv env;
  auto job = env.Job("fail");
  JobTask::Options o;
  o.retry.max_attempts = 3;
  o.retry.initial_backoff = absl::Seconds(10);
  Outcome out;
  auto task = StartTask(env, job, o, &out);
  while (env.fail_runs.load() < 1) absl::SleepFor(absl::Milliseconds(1));
  absl::SleepFor(absl::Milliseconds(10));
  task->Cancel(absl::CancelledError("client gone"));
  // The backoff is 10 s: settling within 5 s means it was not waited out.
  ASSERT_TRUE(out.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_EQ(out.result.outcome, JobOutcome::kCancelled);
  EXPECT_EQ(env.fail_runs.load(), 1);
}

TEST(JobTaskTest, RejectedJobNeverRuns) {
  TestEnv env;
  auto job = env.Job("fail");
  job->rejected = absl::InvalidArgumentError("jobs[3].kind: unknown");
  Outcome out;
  auto task = StartTask(env, job, {}, &out);
  ASSERT_TRUE(out.done.WaitForNotificationWithTimeout(absl::Seconds(1)));
  EXPECT_EQ(out.result.outcome, JobOutcome::kRejected);
  EXPECT_EQ(env.fail_runs.load(), 0);
}

}  // namespace
}  // namespace jobgroup

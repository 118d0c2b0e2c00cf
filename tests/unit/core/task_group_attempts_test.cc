// Tests of the attempts of a job that has more than one (retries with
// backoff, fallbacks in sequence and in a race, timed-out attempts as failed
// ones) through the TaskGroup of its call, and of what is never retried or
// handed to fallbacks.
#include <atomic>
#include <memory>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/core/notification.h"
#include "server/core/task_group.h"
#include "tests/unit/core/test_env.h"

namespace jobgroup {
namespace {

using testing::CollectingSink;
using testing::Repeat;
using testing::TestEnv;

// Runs `job` alone in a call with `o`; returns its one result.
JobResult RunOne(TestEnv& env, std::shared_ptr<JobSpec> job,
                 TaskGroup::Options o = {},
                 absl::Duration wait = absl::Seconds(5)) {
  CollectingSink sink;
  auto group = TaskGroup::Create(&env.executor(), o, &sink);
  group->AddJobs(1, Repeat(std::move(job)));
  group->CloseInput();
  EXPECT_TRUE(sink.Wait(wait));
  auto results = sink.results();
  EXPECT_EQ(results.size(), 1u);
  return results.empty() ? JobResult() : results.begin()->second;
}

class CountingObserver : public AttemptObserver {
 public:
  void OnRetry(const JobSpec&) override { retries.fetch_add(1); }
  void OnFallbackServed(const JobSpec&, uint32_t served_by) override {
    served.store(served_by);
  }
  std::atomic<int> retries{0};
  std::atomic<uint32_t> served{0};
};

TEST(TaskGroupAttemptsTest, SequentialFallbacksStopAtTheFirstSuccess) {
  TestEnv env;
  auto job = env.Job("fail", {{"message", "primary down"}});
  job->fallbacks.push_back(*env.Job("fail", {{"message", "mirror down"}}));
  job->fallbacks.push_back(*env.Job("sleep", {{"ms", "1"}}));
  job->fallbacks.push_back(*env.Job("fail"));
  env.Resolve(*job);
  CountingObserver observer;
  TaskGroup::Options o;
  o.attempt_observer = &observer;
  JobResult r = RunOne(env, job, o);
  EXPECT_EQ(r.outcome, JobOutcome::kSucceeded);
  EXPECT_EQ(r.served_by, 2u);
  EXPECT_EQ(r.attempts, 3u);
  EXPECT_EQ(env.fail_runs.load(), 2);  // The third fallback never ran.
  EXPECT_EQ(observer.served.load(), 2u);
  EXPECT_EQ(observer.retries.load(), 0);
}

TEST(TaskGroupAttemptsTest, AllFailedListsEveryError) {
  TestEnv env;
  auto job = env.Job("fail", {{"message", "a"}});
  job->fallbacks.push_back(*env.Job("fail", {{"message", "b"}}));
  env.Resolve(*job);
  JobResult r = RunOne(env, job);
  EXPECT_EQ(r.outcome, JobOutcome::kFailed);
  EXPECT_EQ(r.error.message(), "primary: a; fallback 1: b");
}

TEST(TaskGroupAttemptsTest, RaceStartsFallbacksTogetherAndCancelsTheLosers) {
  TestEnv env;
  auto job = env.Job("fail");
  job->fallbacks.push_back(*env.Job("sleep", {{"ms", "5000"}}));
  job->fallbacks.push_back(*env.Job("sleep", {{"ms", "20"}}));
  job->fallbacks.push_back(*env.Job("sleep", {{"ms", "5000"}}));
  env.Resolve(*job);
  TaskGroup::Options o;
  o.fallback_mode = FallbackMode::kRace;
  absl::Time start = absl::Now();
  JobResult r = RunOne(env, job, o);
  // The winner sleeps 20 ms: well before the 5 s losers could end.
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(2500));
  EXPECT_EQ(r.outcome, JobOutcome::kSucceeded);
  EXPECT_EQ(r.served_by, 2u);
  // Both losers were told to stop, from inside their handlers' view.
  absl::Time give_up = absl::Now() + absl::Seconds(2);
  while (env.cancelled_handlers.load() < 2 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(env.cancelled_handlers.load(), 2);
  EXPECT_EQ(env.backends().Find("local")->in_use(), 0);
}

TEST(TaskGroupAttemptsTest, FailedAttemptsAreRetriedWithBackoff) {
  TestEnv env;
  auto job = env.Job("fail", {{"message", "flaky"}});
  CountingObserver observer;
  TaskGroup::Options o;
  o.retry.max_attempts = 4;
  o.retry.initial_backoff = absl::Milliseconds(20);
  o.retry.multiplier = 10;
  o.retry.max_backoff = absl::Milliseconds(50);
  o.attempt_observer = &observer;
  absl::Time start = absl::Now();
  JobResult r = RunOne(env, job, o);
  absl::Duration took = absl::Now() - start;
  EXPECT_EQ(r.outcome, JobOutcome::kFailed);
  EXPECT_EQ(r.attempts, 4u);
  EXPECT_EQ(env.fail_runs.load(), 4);
  EXPECT_EQ(observer.retries.load(), 3);
  // Waits of 20, 50 and 50 ms: the cap holds the 200 and 2000 ms that the
  // multiplier asks for. Timers never fire early; a slow machine can only
  // add to the 120 ms, but not nearly the 2.2 s of uncapped waits.
  EXPECT_GE(took, absl::Milliseconds(120));
  EXPECT_LT(took, absl::Seconds(1));
}

TEST(TaskGroupAttemptsTest, RetriesStopAtTheDeadline) {
  TestEnv env;
  auto job = env.Job("fail");
  TaskGroup::Options o;
  o.retry.max_attempts = 10;
  o.retry.initial_backoff = absl::Milliseconds(300);
  o.retry.multiplier = 1;
  o.deadline = absl::Now() + absl::Milliseconds(500);
  JobResult r = RunOne(env, job, o);
  // Attempts at 0 and 300 ms; a third, at 600 ms, would pass the deadline,
  // so the job fails at once, 200 ms before it, instead of waiting.
  EXPECT_LT(absl::Now(), o.deadline);
  EXPECT_EQ(r.outcome, JobOutcome::kFailed);
  EXPECT_LE(r.attempts, 2u);
  EXPECT_NE(r.error.message().find("would pass the deadline"),
            std::string::npos);
}

// A job that sleeps 5 s under a 30 ms timeout: each of its attempts times
// out (the test never waits for the 5 s).
std::shared_ptr<JobSpec> TimesOut(TestEnv& env) {
  auto job = env.Job("sleep", {{"ms", "5000"}});
  job->timeout = absl::Milliseconds(30);
  return job;
}

TaskGroup::Options Retries(uint32_t max_attempts) {
  TaskGroup::Options o;
  o.retry.max_attempts = max_attempts;
  o.retry.initial_backoff = absl::Milliseconds(1);
  o.retry.max_backoff = absl::Milliseconds(1);
  return o;
}

TEST(TaskGroupAttemptsTest, TimedOutAttemptsAreRetried) {
  TestEnv env;
  JobResult r = RunOne(env, TimesOut(env), Retries(3), absl::Seconds(4));
  // Its last attempt timed out: DEADLINE_EXCEEDED, after every retry.
  EXPECT_EQ(r.outcome, JobOutcome::kDeadlineExceeded);
  EXPECT_EQ(r.attempts, 3u);
  EXPECT_EQ(env.started.load(), 3);
  EXPECT_NE(r.error.message().find("job timeout of 30ms exceeded"),
            std::string::npos)
      << r.error;
  EXPECT_TRUE(env.Idle());
}

TEST(TaskGroupAttemptsTest, TimedOutPrimaryIsHandedToItsFallback) {
  TestEnv env;
  auto job = TimesOut(env);
  job->fallbacks.push_back(*env.Job("echo"));
  env.Resolve(*job);
  JobResult r = RunOne(env, job, Retries(2), absl::Seconds(4));
  EXPECT_EQ(r.outcome, JobOutcome::kSucceeded);
  EXPECT_EQ(r.served_by, 1u);
  EXPECT_EQ(r.attempts, 3u);  // Two of the primary, one of the fallback.
}

TEST(TaskGroupAttemptsTest, TheLastAttemptDecidesBetweenFailedAndDeadline) {
  TestEnv env;
  {
    // Timed out, then the fallback failed: FAILED.
    auto job = TimesOut(env);
    job->fallbacks.push_back(*env.Job("fail", {{"message", "down"}}));
    env.Resolve(*job);
    JobResult r = RunOne(env, job, {}, absl::Seconds(4));
    EXPECT_EQ(r.outcome, JobOutcome::kFailed);
    EXPECT_EQ(r.attempts, 2u);
    EXPECT_NE(r.error.message().find("primary: job timeout"), std::string::npos)
        << r.error;
  }
  {
    // Failed, then the fallback timed out: DEADLINE_EXCEEDED.
    auto job = env.Job("fail");
    job->fallbacks.push_back(*TimesOut(env));
    env.Resolve(*job);
    JobResult r = RunOne(env, job, {}, absl::Seconds(4));
    EXPECT_EQ(r.outcome, JobOutcome::kDeadlineExceeded);
    EXPECT_EQ(r.attempts, 2u);
  }
}

TEST(TaskGroupAttemptsTest, TimeoutEndsJobOptsOutOfRetriesAndFallbacks) {
  TestEnv env;
  auto job = TimesOut(env);
  job->fallbacks.push_back(*env.Job("echo"));
  env.Resolve(*job);
  TaskGroup::Options o = Retries(5);
  o.retry.timeout_ends_job = true;
  JobResult r = RunOne(env, job, o, absl::Seconds(4));
  EXPECT_EQ(r.outcome, JobOutcome::kDeadlineExceeded);
  EXPECT_EQ(r.attempts, 1u);
  EXPECT_EQ(r.served_by, 0u);
}

TEST(TaskGroupAttemptsTest, TheCallsDeadlineIsNeverRetried) {
  TestEnv env;
  // The job's timeout (10 s) comes after the call's deadline (50 ms): the
  // attempt ends because the call ran out of time, which no retry or
  // fallback can mend.
  auto job = env.Job("sleep", {{"ms", "5000"}});
  job->timeout = absl::Seconds(10);
  job->fallbacks.push_back(*env.Job("echo"));
  env.Resolve(*job);
  TaskGroup::Options o = Retries(5);
  o.deadline = absl::Now() + absl::Milliseconds(50);
  JobResult r = RunOne(env, job, o, absl::Seconds(4));
  EXPECT_EQ(r.outcome, JobOutcome::kDeadlineExceeded);
  EXPECT_EQ(r.served_by, 0u);
  EXPECT_LE(r.attempts, 1u);
  EXPECT_TRUE(env.Idle());
}

TEST(TaskGroupAttemptsTest, CancelDuringBackoffSettlesAtOnce) {
  TestEnv env;
  TaskGroup::Options o;
  o.retry.max_attempts = 3;
  o.retry.initial_backoff = absl::Seconds(10);
  CollectingSink sink;
  auto group = TaskGroup::Create(&env.executor(), o, &sink);
  group->AddJobs(1, Repeat(env.Job("fail")));
  group->CloseInput();
  while (env.fail_runs.load() < 1) absl::SleepFor(absl::Milliseconds(1));
  absl::SleepFor(absl::Milliseconds(10));
  group->Cancel(CancelCause::kClient, absl::CancelledError("client gone"));
  // The backoff is 10 s: settling within 5 s means it was not waited out.
  ASSERT_TRUE(sink.Wait(absl::Seconds(5)));
  EXPECT_EQ(sink.results().at(0).outcome, JobOutcome::kCancelled);
  EXPECT_EQ(sink.summary().cancel_cause, CancelCause::kClient);
  EXPECT_EQ(env.fail_runs.load(), 1);
}

TEST(TaskGroupAttemptsTest, RejectedJobNeverRuns) {
  TestEnv env;
  auto job = env.Job("fail");
  job->rejected = absl::InvalidArgumentError("jobs[3].kind: unknown");
  JobResult r = RunOne(env, job, {}, absl::Seconds(1));
  EXPECT_EQ(r.outcome, JobOutcome::kRejected);
  EXPECT_EQ(env.fail_runs.load(), 0);
}

// Jobs with attempt state and plain jobs in one call, cancelled while some
// retry, some race and the plain ones wait: each gets one result, the
// running ones what they did so far, and nothing is left behind.
TEST(TaskGroupAttemptsTest, CancelReachesJobsOfEveryShape) {
  TestEnv env;
  std::vector<std::shared_ptr<const JobSpec>> jobs;
  for (int i = 0; i < 30; ++i) {
    std::shared_ptr<JobSpec> job;
    switch (i % 3) {
      case 0:  // Plain.
        job = env.Job("sleep", {{"ms", "10000"}});
        break;
      case 1:  // Times out, then its fallback waits.
        job = TimesOut(env);
        job->fallbacks.push_back(*env.Job("sleep", {{"ms", "10000"}}));
        env.Resolve(*job);
        break;
      default:  // Fails, then waits for a retry.
        job = env.Job("fail");
        job->timeout = absl::Seconds(30);
        break;
    }
    jobs.push_back(job);
  }
  TaskGroup::Options o;
  o.policy = FailurePolicy::kCollectAll;
  o.retry.max_attempts = 2;
  o.retry.initial_backoff = absl::Seconds(10);
  CollectingSink sink;
  auto group = TaskGroup::Create(&env.executor(), o, &sink);
  group->AddJobs(jobs.size(), testing::FromList(jobs));
  group->CloseInput();
  absl::SleepFor(absl::Milliseconds(100));
  group->Cancel(CancelCause::kDrain);
  ASSERT_TRUE(sink.Wait(absl::Seconds(5)));
  EXPECT_EQ(sink.results().size(), jobs.size());
  EXPECT_EQ(sink.Count(JobOutcome::kCancelled), 30);
  EXPECT_EQ(sink.summary().cancel_cause, CancelCause::kDrain);
  EXPECT_TRUE(env.Idle());
}

}  // namespace
}  // namespace jobgroup

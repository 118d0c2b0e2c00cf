// Tests of TaskGroup over the real executor, workers, timers and backends:
// rounds, the window, backend caps, deadline, fail-fast, cancellation and
// exactly one result per job.
#include "server/core/task_group.h"

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/core/notification.h"
#include "tests/unit/core/test_env.h"

namespace jobgroup {
namespace {

using testing::CollectingSink;
using testing::Repeat;
using testing::TestEnv;

std::shared_ptr<TaskGroup> RunAll(TestEnv& env, TaskGroup::Options o,
                                  ResultSink* sink, uint64_t n,
                                  JobFactory factory) {
  auto run = TaskGroup::Create(&env.executor(), o, sink);
  run->AddJobs(n, std::move(factory));
  run->CloseInput();
  return run;
}

// Returns once every timer due at or before `when` has run (the timer
// thread runs them in due-time order, ties in the order they were
// scheduled), e.g. a run's deadline timer scheduled before this call.
void WaitForTimersDueBy(TestEnv& env, absl::Time when) {
  Notification passed;
  env.timers().Schedule(when, [&passed] { passed.Notify(); });
  passed.WaitForNotification();
}

// After `run` (its input closed) ended: every one of its `n` jobs has
// exactly one result (the sink fails the test on a second one, or on one
// after OnDone), all `outcome`, none unspecified; the summary adds up;
// OnDone came (once: the sink checks); nothing is left in flight and every
// permit and handler is back.
void ExpectEveryJobSettled(TestEnv& env, TaskGroup& run, CollectingSink& sink,
                           uint64_t n, JobOutcome outcome) {
  ASSERT_TRUE(sink.Wait());
  auto results = sink.results();
  ASSERT_EQ(results.size(), n);
  uint64_t index = 0;
  for (const auto& [i, r] : results) {
    EXPECT_EQ(i, index++);
    EXPECT_EQ(r.outcome, outcome) << "job " << i;
  }
  BatchSummary s = sink.summary();
  EXPECT_EQ(s.total, n);
  EXPECT_EQ(s.count(outcome), n);
  uint64_t sum = 0;
  for (uint64_t c : s.counts) sum += c;
  EXPECT_EQ(sum, n);
  EXPECT_EQ(run.pending(), 0u);
  EXPECT_EQ(run.in_window(), 0u);
  EXPECT_TRUE(env.Idle());
  EXPECT_EQ(env.pool().queue_depth(), 0u);
}

TEST(TaskGroupTest, EveryJobSucceedsAndTheSummaryAddsUp) {
  TestEnv env;
  CollectingSink sink;
  auto job = env.Job("echo");
  RunAll(env, {}, &sink, 1000, Repeat(job));
  ASSERT_TRUE(sink.Wait());
  EXPECT_EQ(sink.count(), 1000u);
  EXPECT_EQ(sink.summary().total, 1000u);
  EXPECT_EQ(sink.summary().count(JobOutcome::kSucceeded), 1000u);
  EXPECT_FALSE(sink.summary().deadline_hit);
}

// A sink that takes results a batch at a time (ResultSink::OnResults())
// gets every result there, exactly once, in fewer calls than results.
TEST(TaskGroupTest, ASinkTakingBatchesGetsEveryResultOnceInBatches) {
  class BatchSink : public CollectingSink {
   public:
    bool OnResult(JobResult r) override {
      ADD_FAILURE() << "OnResult() for job " << r.index
                    << ": batches must come through OnResults()";
      return CollectingSink::OnResult(std::move(r));
    }
    uint64_t OnResults(absl::Span<JobResult> results) override {
      EXPECT_FALSE(results.empty());
      batches.fetch_add(1);
      for (JobResult& r : results) CollectingSink::OnResult(std::move(r));
      return results.size();
    }
    std::atomic<int> batches{0};
  };
  TestEnv env;
  BatchSink sink;
  auto job = env.Job("echo");
  RunAll(env, {}, &sink, 1000, Repeat(job));
  ASSERT_TRUE(sink.Wait());
  EXPECT_EQ(sink.count(), 1000u);
  EXPECT_EQ(sink.summary().count(JobOutcome::kSucceeded), 1000u);
  EXPECT_GE(sink.batches.load(), 1);
  EXPECT_LT(sink.batches.load(), 1000) << "results came one at a time";
}

TEST(TaskGroupTest, BackendCapacityIsNeverExceededAndStaysFullyUsed) {
  TestEnv env;
  CollectingSink sink;
  auto job = env.Job("sleep", {{"ms", "100"}}, "db");  // db has capacity 3.
  absl::Time start = absl::Now();
  RunAll(env, {}, &sink, 15, Repeat(job));
  ASSERT_TRUE(sink.Wait());
  absl::Duration took = absl::Now() - start;
  EXPECT_EQ(sink.summary().count(JobOutcome::kSucceeded), 15u);
  EXPECT_EQ(env.inside["db"].peak.load(), 3);
  EXPECT_EQ(env.backends().Find("db")->peak_in_use(), 3);
  // 15 jobs of 100 ms through 3 permits: 5 waves, so >= 500 ms; fully used
  // permits keep it well under the 1.5 s that one permit would need (with
  // 100 ms a wave to spare for a slow machine).
  EXPECT_GE(took, absl::Milliseconds(500));
  EXPECT_LT(took, absl::Milliseconds(1000));
  EXPECT_EQ(env.backends().Find("db")->in_use(), 0);
}

TEST(TaskGroupTest, WindowCapsJobsInFlight) {
  TestEnv env;
  CollectingSink sink;
  auto job = env.Job("sleep", {{"ms", "5"}});
  TaskGroup::Options o;
  o.max_concurrency = 7;
  RunAll(env, o, &sink, 100, Repeat(job));
  ASSERT_TRUE(sink.Wait());
  EXPECT_EQ(sink.summary().count(JobOutcome::kSucceeded), 100u);
  EXPECT_EQ(env.inside["local"].peak.load(), 7);
}

TEST(TaskGroupTest, RoundsNeverOverlap) {
  TestEnv env;
  CollectingSink sink;
  // With rounds of 8, never more than 8 jobs are inside at once (the next
  // test checks that a round waits for the slowest job of the one before).
  std::vector<std::shared_ptr<JobSpec>> jobs;
  for (int i = 0; i < 40; ++i) {
    jobs.push_back(env.Job("sleep", {{"ms", std::to_string(1 + (i * 7) % 9)}}));
  }
  TaskGroup::Options o;
  o.batch_size = 8;
  auto run = TaskGroup::Create(&env.executor(), o, &sink);
  run->AddJobs(40, [&](uint64_t i) { return jobs[i]; });
  run->CloseInput();
  ASSERT_TRUE(sink.Wait());
  auto results = sink.results();
  ASSERT_EQ(results.size(), 40u);
  EXPECT_LE(env.inside["local"].peak.load(), 8);
  EXPECT_EQ(sink.summary().count(JobOutcome::kSucceeded), 40u);
}

TEST(TaskGroupTest, NextRoundStartsOnlyAfterThePreviousEnded) {
  TestEnv env;
  CollectingSink sink;
  // Round 0: one slow job and fast ones; round 1 must not start before the
  // slow job of round 0 has ended.
  std::vector<std::shared_ptr<JobSpec>> jobs;
  jobs.push_back(env.Job("sleep", {{"ms", "150"}}));
  for (int i = 1; i < 8; ++i) jobs.push_back(env.Job("sleep", {{"ms", "1"}}));
  TaskGroup::Options o;
  o.batch_size = 4;
  absl::Time start = absl::Now();
  auto run = TaskGroup::Create(&env.executor(), o, &sink);
  run->AddJobs(8, [&](uint64_t i) { return jobs[i]; });
  run->CloseInput();
  ASSERT_TRUE(sink.Wait());
  auto results = sink.results();
  for (int i = 4; i < 8; ++i) {
    // Queue time counts from the job's start in its round; the round began
    // after job 0's 150 ms, so the whole call took >= 150 ms + round 1.
    EXPECT_EQ(results[i].outcome, JobOutcome::kSucceeded);
  }
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));
  EXPECT_GE(results[0].run_time, absl::Milliseconds(150));
}

TEST(TaskGroupTest, DeadlineGivesPartialResults) {
  TestEnv env;
  CollectingSink sink;
  std::vector<std::shared_ptr<JobSpec>> jobs;
  for (int i = 0; i < 20; ++i) {
    jobs.push_back(env.Job("sleep", {{"ms", i < 5 ? "1" : "5000"}}));
  }
  TaskGroup::Options o;
  o.deadline = absl::Now() + absl::Milliseconds(100);
  o.max_concurrency = 10;
  auto run = TaskGroup::Create(&env.executor(), o, &sink);
  run->AddJobs(20, [&](uint64_t i) { return jobs[i]; });
  run->CloseInput();
  ASSERT_TRUE(sink.Wait(absl::Seconds(3)));
  // At the deadline, not after the 5 s sleeps (with time to spare for a
  // slow machine).
  EXPECT_LT(absl::Now(), o.deadline + absl::Seconds(2));
  EXPECT_TRUE(sink.summary().deadline_hit);
  EXPECT_EQ(sink.summary().cancel_cause, CancelCause::kDeadline);
  EXPECT_EQ(sink.Count(JobOutcome::kSucceeded), 5);
  EXPECT_EQ(sink.Count(JobOutcome::kDeadlineExceeded), 15);
  EXPECT_EQ(sink.summary().total, 20u);
  // Running sleeps were told to stop; nothing still holds a permit once
  // they are back.
  EXPECT_TRUE(env.Idle());
  EXPECT_EQ(env.backends().Find("local")->in_use(), 0);
}

TEST(TaskGroupTest, FailFastCancelsEverythingElse) {
  TestEnv env;
  CollectingSink sink;
  std::vector<std::shared_ptr<JobSpec>> jobs;
  jobs.push_back(env.Job("fail"));
  for (int i = 1; i < 50; ++i)
    jobs.push_back(env.Job("sleep", {{"ms", "2000"}}));
  TaskGroup::Options o;
  o.max_concurrency = 10;
  auto run = TaskGroup::Create(&env.executor(), o, &sink);
  run->AddJobs(50, [&](uint64_t i) { return jobs[i]; });
  run->CloseInput();
  ASSERT_TRUE(sink.Wait(absl::Seconds(3)));
  EXPECT_EQ(sink.Count(JobOutcome::kFailed), 1);
  EXPECT_EQ(sink.Count(JobOutcome::kCancelled), 49);
  EXPECT_LE(env.started.load(), 10);  // Jobs outside the window never ran.
  // The summary says why, typed, and which job failed.
  EXPECT_EQ(sink.summary().cancel_cause, CancelCause::kFailFast);
  EXPECT_EQ(sink.summary().failed_job_index, std::optional<uint64_t>(0));
  EXPECT_FALSE(sink.summary().deadline_hit);
}

TEST(TaskGroupTest, CollectAllWithFailuresIsNotCancelled) {
  TestEnv env;
  CollectingSink sink;
  TaskGroup::Options o;
  o.policy = FailurePolicy::kCollectAll;
  RunAll(env, o, &sink, 3, Repeat(env.Job("fail")));
  ASSERT_TRUE(sink.Wait());
  EXPECT_EQ(sink.Count(JobOutcome::kFailed), 3);
  EXPECT_EQ(sink.summary().cancel_cause, CancelCause::kNone);
  EXPECT_EQ(sink.summary().failed_job_index, std::nullopt);
  EXPECT_TRUE(sink.summary().cancel_reason.ok());
}

// The cause given to Cancel() is the one the summary reports, and only the
// first cancellation counts.
TEST(TaskGroupTest, CancelCauseReachesTheSummary) {
  for (CancelCause cause : {CancelCause::kClient, CancelCause::kDrain,
                            CancelCause::kShutdown, CancelCause::kDeadline}) {
    TestEnv env;
    CollectingSink sink;
    auto run = TaskGroup::Create(&env.executor(), {}, &sink);
    run->AddJobs(20, Repeat(env.Job("sleep", {{"ms", "10000"}})));
    run->CloseInput();
    run->Cancel(cause);
    run->Cancel(CancelCause::kClient, absl::CancelledError("second"));
    ASSERT_TRUE(sink.Wait()) << CancelCauseName(cause);
    BatchSummary s = sink.summary();
    EXPECT_EQ(s.cancel_cause, cause);
    EXPECT_EQ(s.deadline_hit, cause == CancelCause::kDeadline);
    EXPECT_FALSE(s.cancel_reason.ok());
    EXPECT_NE(s.cancel_reason.message(), "second");
    JobOutcome expected = cause == CancelCause::kDeadline
                              ? JobOutcome::kDeadlineExceeded
                              : JobOutcome::kCancelled;
    EXPECT_EQ(s.count(expected), 20u) << CancelCauseName(cause);
    EXPECT_TRUE(env.Idle());
  }
}

TEST(TaskGroupTest, CollectAllRunsEveryJob) {
  TestEnv env;
  CollectingSink sink;
  std::vector<std::shared_ptr<JobSpec>> jobs;
  for (int i = 0; i < 30; ++i) {
    jobs.push_back(i % 3 == 0 ? env.Job("fail")
                              : env.Job("sleep", {{"ms", "1"}}));
  }
  TaskGroup::Options o;
  o.policy = FailurePolicy::kCollectAll;
  auto run = TaskGroup::Create(&env.executor(), o, &sink);
  run->AddJobs(30, [&](uint64_t i) { return jobs[i]; });
  run->CloseInput();
  ASSERT_TRUE(sink.Wait());
  EXPECT_EQ(sink.Count(JobOutcome::kFailed), 10);
  EXPECT_EQ(sink.Count(JobOutcome::kSucceeded), 20);
}

TEST(TaskGroupTest, CancelFreesEveryPermitAndEndsEveryJob) {
  TestEnv env;
  CollectingSink sink;
  auto job = env.Job("sleep", {{"ms", "10000"}}, "db");
  auto run = TaskGroup::Create(&env.executor(), {}, &sink);
  run->AddJobs(100, Repeat(job));
  run->CloseInput();
  // Every job is either running (3 handlers started) or waiting for a
  // permit (97).
  absl::Time started_by = absl::Now() + absl::Seconds(10);
  while (
      (env.started.load() < 3 || env.backends().Find("db")->waiting() < 97) &&
      absl::Now() < started_by) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(env.started.load(), 3);
  EXPECT_EQ(env.backends().Find("db")->in_use(), 3);
  EXPECT_EQ(env.backends().Find("db")->waiting(), 97);
  run->Cancel(CancelCause::kClient, absl::CancelledError("client cancelled"));
  ASSERT_TRUE(sink.Wait(absl::Seconds(2)));
  EXPECT_EQ(sink.Count(JobOutcome::kCancelled), 100);
  EXPECT_EQ(sink.summary().cancel_cause, CancelCause::kClient);
  absl::Time give_up = absl::Now() + absl::Seconds(2);
  while (env.backends().Find("db")->in_use() > 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(env.backends().Find("db")->in_use(), 0);
  EXPECT_EQ(env.backends().Find("db")->waiting(), 0);
  EXPECT_EQ(env.cancelled_handlers.load(), 3);
}

TEST(TaskGroupTest, ThrowingHandlerCostsOnlyItsJob) {
  TestEnv env;
  CollectingSink sink;
  std::vector<std::shared_ptr<JobSpec>> jobs = {
      env.Job("echo"), env.Job("throw"), env.Job("echo")};
  TaskGroup::Options o;
  o.policy = FailurePolicy::kCollectAll;
  auto run = TaskGroup::Create(&env.executor(), o, &sink);
  run->AddJobs(3, [&](uint64_t i) { return jobs[i]; });
  run->CloseInput();
  ASSERT_TRUE(sink.Wait());
  auto r = sink.results();
  EXPECT_EQ(r[1].outcome, JobOutcome::kFailed);
  EXPECT_NE(r[1].error.message().find("kaboom"), std::string::npos);
  EXPECT_EQ(r[0].outcome, JobOutcome::kSucceeded);
  EXPECT_EQ(r[2].outcome, JobOutcome::kSucceeded);
}

TEST(TaskGroupTest, HungHandlerStillAnswersAtTheDeadline) {
  TestEnv env;
  CollectingSink sink;
  auto job = env.Job("hang");
  TaskGroup::Options o;
  o.deadline = absl::Now() + absl::Milliseconds(80);
  auto run = TaskGroup::Create(&env.executor(), o, &sink);
  run->AddJobs(1, Repeat(job));
  run->CloseInput();
  ASSERT_TRUE(sink.Wait(absl::Seconds(2)));
  EXPECT_EQ(sink.Count(JobOutcome::kDeadlineExceeded), 1);
  // The reply goes first; the handler is told to stop right after, and,
  // ignoring it, shows as abandoned.
  absl::Time give_up = absl::Now() + absl::Seconds(2);
  while (env.executor().abandoned_handlers() == 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(env.executor().abandoned_handlers(), 1);
  EXPECT_EQ(env.backends().Find("local")->in_use(), 1);
  env.release_hang.Notify();
  give_up = absl::Now() + absl::Seconds(2);
  while (env.executor().abandoned_handlers() > 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(env.executor().abandoned_handlers(), 0);
  EXPECT_EQ(env.backends().Find("local")->in_use(), 0);
}

TEST(TaskGroupTest, SlowSinkHoldsTheWindow) {
  TestEnv env;
  CollectingSink sink(/*consume=*/false);
  auto job = env.Job("echo");
  TaskGroup::Options o;
  o.max_concurrency = 5;
  auto run = TaskGroup::Create(&env.executor(), o, &sink);
  run->AddJobs(20, Repeat(job));
  run->CloseInput();
  // Waits until `n` results are in, then a little more, to give results
  // the window should hold back a chance to arrive.
  auto wait_for = [&](size_t n) {
    absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (sink.count() < n && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    absl::SleepFor(absl::Milliseconds(20));
  };
  wait_for(5);
  EXPECT_EQ(sink.count(), 5u);  // Nothing consumed: the window is full.
  EXPECT_EQ(run->pending(), 15u);
  run->Ack(5);
  wait_for(10);
  EXPECT_EQ(sink.count(), 10u);
  run->Ack(15);
  for (int i = 0; i < 100 && !sink.done(); ++i) {
    run->Ack(5);
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_TRUE(sink.Wait());
  EXPECT_EQ(sink.count(), 20u);
}

// ---- A run cannot end before its input is closed (issue 14, break 1) ----

TEST(TaskGroupTest, DeadlinePastBeforeTheJobsAreAddedStillAnswersEveryJob) {
  TestEnv env;
  CollectingSink sink;
  TaskGroup::Options o;
  o.deadline = absl::Now() - absl::Milliseconds(1);
  auto run = TaskGroup::Create(&env.executor(), o, &sink);
  WaitForTimersDueBy(env, o.deadline);  // The run's deadline timer ran.
  EXPECT_FALSE(sink.done());
  EXPECT_TRUE(run->AddJobs(100, Repeat(env.Job("echo"))));
  EXPECT_FALSE(sink.done());
  run->CloseInput();
  ExpectEveryJobSettled(env, *run, sink, 100, JobOutcome::kDeadlineExceeded);
  EXPECT_EQ(sink.summary().cancel_cause, CancelCause::kDeadline);
  EXPECT_TRUE(sink.summary().deadline_hit);
  EXPECT_EQ(env.started.load(), 0);
}

TEST(TaskGroupTest, DeadlineFiringBetweenCreateAndAddJobsStillAnswersEveryJob) {
  TestEnv env;
  CollectingSink sink;
  TaskGroup::Options o;
  o.deadline = absl::Now() + absl::Milliseconds(20);
  o.batch_size = 7;
  auto run = TaskGroup::Create(&env.executor(), o, &sink);
  WaitForTimersDueBy(env, o.deadline);
  EXPECT_FALSE(sink.done());
  EXPECT_TRUE(run->AddJobs(50, Repeat(env.Job("sleep", {{"ms", "1"}}))));
  run->CloseInput();
  ExpectEveryJobSettled(env, *run, sink, 50, JobOutcome::kDeadlineExceeded);
  EXPECT_EQ(sink.summary().cancel_cause, CancelCause::kDeadline);
  EXPECT_EQ(env.started.load(), 0);
}

TEST(TaskGroupTest, CancelBeforeTheJobsAreAddedStillAnswersEveryJob) {
  TestEnv env;
  CollectingSink sink;
  TaskGroup::Options o;
  o.max_concurrency = 3;
  auto run = TaskGroup::Create(&env.executor(), o, &sink);
  run->Cancel(CancelCause::kClient);
  EXPECT_FALSE(sink.done());
  EXPECT_TRUE(run->AddJobs(40, Repeat(env.Job("sleep", {{"ms", "1"}}, "db"))));
  run->CloseInput();
  ExpectEveryJobSettled(env, *run, sink, 40, JobOutcome::kCancelled);
  EXPECT_EQ(sink.summary().cancel_cause, CancelCause::kClient);
  EXPECT_EQ(env.started.load(), 0);
}

TEST(TaskGroupTest, CancelledRunWithNoJobsEndsWhenItsInputCloses) {
  TestEnv env;
  CollectingSink sink;
  TaskGroup::Options o;
  o.deadline = absl::Now() - absl::Seconds(1);
  auto run = TaskGroup::Create(&env.executor(), o, &sink);
  WaitForTimersDueBy(env, o.deadline);
  EXPECT_FALSE(sink.done());
  run->CloseInput();
  ExpectEveryJobSettled(env, *run, sink, 0, JobOutcome::kDeadlineExceeded);
  EXPECT_FALSE(run->AddJobs(1, Repeat(env.Job("echo"))));  // A caller bug.
  EXPECT_EQ(sink.count(), 0u);
}

// Streamed input (Process): a cancellation between two AddJobs() settles
// what was taken, and every job added later still gets its outcome, at
// once; the run ends only when the input closes.
TEST(TaskGroupTest, CancelBetweenStreamedAddsAnswersEveryJobAddedLater) {
  for (CancelCause cause :
       {CancelCause::kClient, CancelCause::kDrain, CancelCause::kDeadline}) {
    TestEnv env;
    CollectingSink sink;
    TaskGroup::Options o;
    o.max_concurrency = 8;
    auto run = TaskGroup::Create(&env.executor(), o, &sink);
    std::vector<std::shared_ptr<const JobSpec>> jobs;
    for (int i = 0; i < 60; ++i) {
      jobs.push_back(i < 5 ? env.Job("echo")
                           : env.Job("sleep", {{"ms", "10000"}}, "db"));
    }
    EXPECT_TRUE(run->AddJobs(5, testing::FromList(jobs)));
    absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (sink.count() < 5 && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    ASSERT_EQ(sink.count(), 5u);  // The echoes are done.
    EXPECT_TRUE(run->AddJobs(20, nullptr));
    run->Cancel(cause);
    EXPECT_TRUE(run->AddJobs(30, nullptr));
    EXPECT_TRUE(run->AddJobs(5, nullptr));
    EXPECT_EQ(sink.count(), 60u);  // Settled at once.
    EXPECT_FALSE(sink.done());
    run->CloseInput();
    ASSERT_TRUE(sink.Wait());
    auto results = sink.results();
    ASSERT_EQ(results.size(), 60u);
    JobOutcome cancelled = cause == CancelCause::kDeadline
                               ? JobOutcome::kDeadlineExceeded
                               : JobOutcome::kCancelled;
    for (const auto& [i, r] : results) {
      EXPECT_EQ(r.outcome, i < 5 ? JobOutcome::kSucceeded : cancelled)
          << "job " << i;
    }
    BatchSummary s = sink.summary();
    EXPECT_EQ(s.total, 60u);
    EXPECT_EQ(s.count(JobOutcome::kSucceeded), 5u);
    EXPECT_EQ(s.count(cancelled), 55u);
    EXPECT_EQ(s.cancel_cause, cause);
    EXPECT_EQ(run->pending(), 0u);
    EXPECT_EQ(run->in_window(), 0u);
    EXPECT_TRUE(env.Idle());
    EXPECT_EQ(env.backends().Find("db")->waiting(), 0);
  }
}

// The sink hears of the cancellation once, before OnDone(), and may close
// the input from inside (as a call that ends at a cancellation does).
TEST(TaskGroupTest, SinkIsToldOfTheCancellationAndMayCloseTheInput) {
  struct ClosingSink : testing::CollectingSink {
    std::shared_ptr<TaskGroup> run;
    std::atomic<int> told{0};
    std::atomic<bool> done_before_told{false};
    void OnCancelled(const Cancellation& why) override {
      if (done()) done_before_told = true;
      EXPECT_EQ(why.cause, CancelCause::kFailFast);
      EXPECT_EQ(why.failed_job_index, std::optional<uint64_t>(2));
      told.fetch_add(1);
      run->CloseInput();
    }
  };
  TestEnv env;
  ClosingSink sink;
  auto run = TaskGroup::Create(&env.executor(), {}, &sink);
  sink.run = run;
  std::vector<std::shared_ptr<const JobSpec>> jobs = {
      env.Job("sleep", {{"ms", "10000"}}), env.Job("sleep", {{"ms", "10000"}}),
      env.Job("fail")};
  EXPECT_TRUE(run->AddJobs(3, testing::FromList(jobs)));
  ASSERT_TRUE(sink.Wait());
  EXPECT_EQ(sink.told.load(), 1);
  EXPECT_FALSE(sink.done_before_told.load());
  EXPECT_EQ(sink.Count(JobOutcome::kFailed), 1);
  EXPECT_EQ(sink.Count(JobOutcome::kCancelled), 2);
  EXPECT_EQ(sink.summary().cancel_cause, CancelCause::kFailFast);
  EXPECT_FALSE(run->AddJobs(1, nullptr));  // The input is closed.
  EXPECT_TRUE(env.Idle());
  sink.run = nullptr;
}

// A round whose jobs all settle while they are spawned (rejected jobs)
// ends inside the spawn; the next round must still start.
TEST(TaskGroupTest, RoundsThatEndWhileSpawningStillLeadToTheNext) {
  TestEnv env;
  CollectingSink sink;
  auto rejected = env.Job("echo");
  rejected->rejected = absl::InvalidArgumentError("bad job");
  TaskGroup::Options o;
  o.batch_size = 1;
  auto run = TaskGroup::Create(&env.executor(), o, &sink);
  EXPECT_TRUE(run->AddJobs(10, Repeat(rejected)));
  run->CloseInput();
  ExpectEveryJobSettled(env, *run, sink, 10, JobOutcome::kRejected);
}

TEST(TaskGroupTest, StreamedInputRunsAsItArrives) {
  TestEnv env;
  CollectingSink sink;
  auto job = env.Job("echo");
  auto run = TaskGroup::Create(&env.executor(), {}, &sink);
  for (int i = 0; i < 10; ++i) {
    run->AddJobs(10, Repeat(job));
    absl::SleepFor(absl::Milliseconds(2));
  }
  EXPECT_FALSE(sink.done());
  run->CloseInput();
  ASSERT_TRUE(sink.Wait());
  EXPECT_EQ(sink.summary().total, 100u);
}

// Many calls at once, each cancelled at a random moment: every job of every
// call gets exactly one result (the sink checks), and afterwards every
// permit is back.
TEST(TaskGroupTest, RandomCancellationsLoseNoJobAndNoPermit) {
  TestEnv env(2, 16);
  constexpr int kCalls = 40;
  std::vector<std::unique_ptr<CollectingSink>> sinks;
  std::vector<std::shared_ptr<TaskGroup>> runs;
  for (int c = 0; c < kCalls; ++c) {
    sinks.push_back(std::make_unique<CollectingSink>());
    TaskGroup::Options o;
    o.max_concurrency = 1 + c % 7;
    o.batch_size = c % 3 == 0 ? 5 : 0;
    o.policy = c % 2 ? FailurePolicy::kCollectAll : FailurePolicy::kFailFast;
    std::vector<std::shared_ptr<JobSpec>> jobs;
    for (int i = 0; i < 50; ++i) {
      jobs.push_back(i % 11 == 10
                         ? env.Job("fail")
                         : env.Job("sleep", {{"ms", std::to_string(i % 4)}},
                                   i % 2 ? "db" : ""));
    }
    auto run = TaskGroup::Create(&env.executor(), o, sinks.back().get());
    run->AddJobs(50, [jobs](uint64_t i) { return jobs[i]; });
    run->CloseInput();
    runs.push_back(run);
  }
  std::thread canceller([&] {
    for (int c = 0; c < kCalls; c += 2) {
      absl::SleepFor(absl::Microseconds(300 * (c % 5)));
      runs[c]->Cancel(CancelCause::kClient);
    }
  });
  canceller.join();
  for (int c = 0; c < kCalls; ++c) {
    ASSERT_TRUE(sinks[c]->Wait(absl::Seconds(20))) << "call " << c;
    EXPECT_EQ(sinks[c]->count(), 50u);
    EXPECT_EQ(sinks[c]->summary().total, 50u);
  }
  absl::Time give_up = absl::Now() + absl::Seconds(10);
  while ((env.backends().Find("db")->in_use() > 0 ||
          env.backends().Find("local")->in_use() > 0) &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(env.backends().Find("db")->in_use(), 0);
  EXPECT_EQ(env.backends().Find("local")->in_use(), 0);
  EXPECT_EQ(env.backends().Find("db")->waiting(), 0);
  EXPECT_LE(env.backends().Find("db")->peak_in_use(), 3);
  EXPECT_EQ(env.pool().queue_depth(), 0u);
}

}  // namespace
}  // namespace jobgroup

namespace jobgroup {
namespace {

// Every attempt holds its job: once a run is over and dropped, nothing may
// still hold it (a cycle through a handler's OnCancel callback once did).
TEST(TaskGroupTest, FinishedRunsLeaveNothingBehind) {
  testing::TestEnv env;
  auto job = env.Job("sleep", {{"ms", "1"}}, "db");
  auto slow = env.Job("sleep", {{"ms", "5000"}}, "db");
  {
    testing::CollectingSink sink;
    TaskGroup::Options o;
    // Time for the 30 quick jobs (10 waves of 1 ms) however slow the
    // machine; the slow ones end at the deadline.
    o.deadline = absl::Now() + absl::Seconds(1);
    auto run = TaskGroup::Create(&env.executor(), o, &sink);
    run->AddJobs(60, [&](uint64_t i) { return i < 30 ? job : slow; });
    run->CloseInput();
    ASSERT_TRUE(sink.Wait());
    EXPECT_EQ(sink.Count(JobOutcome::kSucceeded), 30);
  }
  absl::Time give_up = absl::Now() + absl::Seconds(2);
  while ((job.use_count() > 1 || slow.use_count() > 1) &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(job.use_count(), 1);
  EXPECT_EQ(slow.use_count(), 1);
}

}  // namespace
}  // namespace jobgroup

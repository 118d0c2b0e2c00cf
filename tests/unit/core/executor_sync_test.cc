// Tests of the Executor's leases of plain synchronous jobs (time slices),
// the fast path for short jobs, alone (hosted as a TaskGroup hosts
// one) and inside a TaskGroup, over
// the real executor, workers, timers and backends: exactly one result per job,
// one permit per run, time slices that let others in, cancellation, deadline
// and fail-fast inside a run, and every permit back afterwards.
#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/core/executor.h"
#include "server/core/task_group.h"
#include "tests/unit/core/test_env.h"

namespace jobgroup {
namespace {

using testing::CollectingSink;
using testing::FromList;
using testing::LeaseHost;
using testing::Repeat;
using testing::TestEnv;

void Spin(absl::Duration d) {
  absl::Time end = absl::Now() + d;
  while (absl::Now() < end) {
  }
}

// TestEnv plus the synchronous kinds these tests need.
class RunEnv : public TestEnv {
 public:
  explicit RunEnv(size_t workers = 2) : TestEnv(workers, 256) {
    EXPECT_TRUE(backends().Add({"one", 1}).ok());
    inside["one"];
    // Busy for param us (default 100) µs; counts who is inside each
    // backend; records the order jobs ran in; fails when the payload is
    // "fail" and throws when it is "throw". With until_queued=1 it first
    // waits (up to 10 s) until another job waits for its backend; with
    // until_inside=N, until N handlers have been inside its backend at once.
    EXPECT_TRUE(
        kinds()
            .Register(
                {"spin", "local", ""},
                [this](JobContext& ctx) -> absl::StatusOr<std::string> {
                  const JobSpec& job = ctx.job();
                  testing::InsideCounter& c =
                      inside[job.resolved_backend->name()];
                  c.Enter();
                  {
                    MutexLock lock(&mu);
                    ran.push_back(job.id);
                  }
                  if (int n = testing::IntParam(ctx, "until_inside", 0)) {
                    const absl::Time give_up = absl::Now() + absl::Seconds(10);
                    while (c.peak.load() < n && absl::Now() < give_up) {
                      absl::SleepFor(absl::Microseconds(50));
                    }
                  }
                  if (testing::IntParam(ctx, "until_queued", 0) == 1) {
                    const absl::Time give_up = absl::Now() + absl::Seconds(10);
                    while (job.resolved_backend->waiting() == 0 &&
                           absl::Now() < give_up) {
                      absl::SleepFor(absl::Microseconds(50));
                    }
                  }
                  Spin(absl::Microseconds(testing::IntParam(ctx, "us", 100)));
                  c.Leave();
                  if (job.payload == "fail") return absl::UnknownError("no");
                  if (job.payload == "throw") throw std::runtime_error("up");
                  return job.payload;
                })
            .ok());
    // Waits (cooperatively, up to 10 s) until it is told to stop.
    EXPECT_TRUE(
        kinds()
            .Register({"wait", "local", ""},
                      [this](JobContext& ctx) -> absl::StatusOr<std::string> {
                        waiting.fetch_add(1);
                        absl::Time end = absl::Now() + absl::Seconds(10);
                        while (!ctx.IsCancelled() && absl::Now() < end) {
                          absl::SleepFor(absl::Microseconds(200));
                        }
                        if (ctx.IsCancelled()) told_to_stop.fetch_add(1);
                        return absl::CancelledError("stopped");
                      })
            .ok());
  }

  // Jobs "spin" with ids "0".."n-1" and payloads equal to their ids.
  std::vector<std::shared_ptr<const JobSpec>> Spins(int n,
                                                    std::string backend = "",
                                                    int us = 100) {
    std::vector<std::shared_ptr<const JobSpec>> jobs;
    for (int i = 0; i < n; ++i) {
      auto j = Job("spin", {{"us", std::to_string(us)}}, backend);
      j->id = std::to_string(i);
      j->payload = j->id;
      jobs.push_back(std::move(j));
    }
    return jobs;
  }
  std::vector<std::string> Ran() {
    MutexLock lock(&mu);
    return ran;
  }

  Mutex mu;
  std::vector<std::string> ran;
  std::atomic<int> waiting{0};
  std::atomic<int> told_to_stop{0};
};

TEST(SyncLeaseTest, OnlyPlainJobsOfOneKindAndBackendShareALease) {
  RunEnv env;
  RetryPolicy none;
  EXPECT_TRUE(Lease::Plain(*env.Job("echo"), none));
  EXPECT_TRUE(Lease::Plain(*env.Job("sleep"), none));  // Async kinds too.
  auto timed = env.Job("echo");
  timed->timeout = absl::Seconds(1);
  EXPECT_FALSE(Lease::Plain(*timed, none));
  auto with_fallback = env.Job("echo");
  with_fallback->fallbacks.push_back(*env.Job("echo"));
  EXPECT_FALSE(Lease::Plain(*with_fallback, none));
  auto rejected = env.Job("echo");
  rejected->rejected = absl::InvalidArgumentError("bad");
  EXPECT_FALSE(Lease::Plain(*rejected, none));
  RetryPolicy retry;
  retry.max_attempts = 2;
  EXPECT_FALSE(Lease::Plain(*env.Job("echo"), retry));
  EXPECT_TRUE(Lease::SameLease(*env.Job("echo"), *env.Job("echo")));
  EXPECT_FALSE(Lease::SameLease(*env.Job("echo"), *env.Job("spin")));
  EXPECT_FALSE(Lease::SameLease(*env.Job("spin"), *env.Job("spin", {}, "db")));
}

TEST(SyncLeaseTest, ReportsEveryJobOnceInOrderUnderOnePermit) {
  RunEnv env;
  auto group = std::make_shared<LeaseHost>();
  LeaseHost& out = *group;
  auto jobs = env.Spins(64, "db", 10);
  group->SpawnRun(
      1000, 64,
      env.executor().Run(jobs, absl::InfiniteFuture(), group->scope()));
  group->Close();
  ASSERT_TRUE(out.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  auto got = out.Get();
  EXPECT_EQ(out.duplicates, 0);
  ASSERT_EQ(got.size(), 64u);
  for (uint64_t i = 0; i < 64; ++i) {
    const JobResult& r = got.at(1000 + i);
    EXPECT_EQ(r.outcome, JobOutcome::kSucceeded);
    EXPECT_EQ(r.output, std::to_string(i)) << "results go to their own index";
    EXPECT_EQ(r.attempts, 1u);
    EXPECT_NE(r.kind, nullptr);
    EXPECT_GT(r.run_time, absl::ZeroDuration());
  }
  // One after another, in order, one db permit of the three.
  std::vector<std::string> ran = env.Ran();
  ASSERT_EQ(ran.size(), 64u);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(ran[i], std::to_string(i));
  EXPECT_EQ(env.backends().Find("db")->peak_in_use(), 1);
  EXPECT_TRUE(env.Idle());
}

TEST(SyncLeaseTest, RunsOfACallShareTheBackendCapacity) {
  RunEnv env(/*workers=*/4);
  CollectingSink sink;
  auto run = TaskGroup::Create(&env.executor(), {}, &sink);
  // Each job waits, before its work, until 3 handlers have been inside db
  // at once (up to 10 s): 3 runs can only be seen inside together if the
  // call's runs share db's capacity, however the workers are scheduled.
  std::vector<std::shared_ptr<const JobSpec>> jobs;
  for (int i = 0; i < 120; ++i) {
    jobs.push_back(
        env.Job("spin", {{"us", "300"}, {"until_inside", "3"}}, "db"));
  }
  run->AddJobs(120, FromList(jobs));
  run->CloseInput();
  ASSERT_TRUE(sink.Wait());
  EXPECT_EQ(sink.summary().count(JobOutcome::kSucceeded), 120u);
  // db has 3 permits: several runs at once, never more than 3 inside.
  EXPECT_EQ(env.inside["db"].peak.load(), 3);
  EXPECT_EQ(env.backends().Find("db")->peak_in_use(), 3);
  EXPECT_TRUE(env.Idle());
}

// The typical run time is a running average of the slices' averages, fed
// here with samples rather than with measured handlers, whose times depend
// on the machine (and on ThreadSanitizer).
TEST(SyncLeaseTest, TheTypicalRunTimeIsARunningAverageOfSlices) {
  // The first slice is all there is to know.
  EXPECT_EQ(KindStats::NextTypicalRunNs(0, absl::Microseconds(64), 64), 1000);
  // A later one weighs 1/4: 1000 and a slice of 5 µs a job make 2000.
  EXPECT_EQ(KindStats::NextTypicalRunNs(1000, absl::Microseconds(50), 10),
            2000);
  // Steady slices of 20 µs a job draw the average to 20 µs.
  int64_t ns = 1000;
  for (int i = 0; i < 40; ++i) {
    ns = KindStats::NextTypicalRunNs(ns, absl::Microseconds(20 * 64), 64);
  }
  EXPECT_NEAR(ns, 20000, 10);
}

// Cheap() from the statistic written directly: a kind is cheap when a full
// run (kMaxBatch jobs) of its typical run time fits one slice.
TEST(SyncLeaseTest, AKindIsCheapWhenAWholeRunFitsInASlice) {
  RunEnv env;
  const JobKind* spin = env.Job("spin")->resolved_kind;
  KindStats& stats = env.executor().kind_stats(*spin);
  EXPECT_EQ(stats.typical_run_ns(), 0) << "unknown before any run";
  EXPECT_FALSE(Lease::Cheap(stats)) << "unknown is not cheap";
  const int64_t limit = absl::ToInt64Nanoseconds(Lease::kSlice) /
                        static_cast<int64_t>(Lease::kMaxBatch);
  stats.set_typical_run_ns(limit);
  EXPECT_TRUE(Lease::Cheap(stats)) << limit << " ns";
  stats.set_typical_run_ns(limit + 1);
  EXPECT_FALSE(Lease::Cheap(stats)) << limit + 1 << " ns";
  stats.set_typical_run_ns(1);
  EXPECT_TRUE(Lease::Cheap(stats));
  // From samples: slices of 2 µs a job make a cheap kind, then slices of
  // 50 µs a job a costly one.
  int64_t ns = 0;
  for (int i = 0; i < 10; ++i) {
    ns = KindStats::NextTypicalRunNs(ns, absl::Microseconds(2 * 64), 64);
  }
  stats.set_typical_run_ns(ns);
  EXPECT_TRUE(Lease::Cheap(stats)) << ns << " ns";
  for (int i = 0; i < 10; ++i) {
    ns = KindStats::NextTypicalRunNs(ns, absl::Microseconds(50 * 64), 64);
  }
  stats.set_typical_run_ns(ns);
  EXPECT_FALSE(Lease::Cheap(stats)) << ns << " ns";
}

TEST(SyncLeaseTest, RunsRecordTheirKindsTypicalRunTime) {
  RunEnv env;
  const JobKind* spin = env.Job("spin")->resolved_kind;
  KindStats& stats = env.executor().kind_stats(*spin);
  ASSERT_EQ(stats.typical_run_ns(), 0);
  CollectingSink sink;
  auto run = TaskGroup::Create(&env.executor(), {}, &sink);
  run->AddJobs(64, FromList(env.Spins(64, "", 1)));
  run->CloseInput();
  ASSERT_TRUE(sink.Wait());
  // Each job spun for 1 µs at least; how much longer depends on the
  // machine, so only that a time was recorded is checked.
  EXPECT_GE(stats.typical_run_ns(), 1000);
}

TEST(SyncLeaseTest, AQuickKindRunsASmallCallAsOneRun) {
  RunEnv env;
  const JobKind* spin = env.Job("spin")->resolved_kind;
  KindStats& stats = env.executor().kind_stats(*spin);
  // 1 µs a job, as runs of quick jobs record it.
  stats.set_typical_run_ns(1000);
  ASSERT_TRUE(Lease::Cheap(stats));
  // Ten quick jobs: one run, so one db permit at a time, in order.
  CollectingSink sink;
  auto run = TaskGroup::Create(&env.executor(), {}, &sink);
  run->AddJobs(10, FromList(env.Spins(10, "db", 1)));
  run->CloseInput();
  ASSERT_TRUE(sink.Wait());
  EXPECT_EQ(sink.summary().count(JobOutcome::kSucceeded), 10u);
  EXPECT_EQ(env.backends().Find("db")->peak_in_use(), 1);
  std::vector<std::string> ran = env.Ran();
  ASSERT_EQ(ran.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(ran[i], std::to_string(i));
  EXPECT_TRUE(env.Idle());
}

TEST(SyncLeaseTest, ALongRunYieldsItsPermitWithinASlice) {
  RunEnv env;
  auto group = std::make_shared<LeaseHost>();
  LeaseHost& out = *group;
  // 64 jobs of 200 µs on a backend with one permit: 12.8 ms of work. The
  // first one holds on until the other job below waits for the permit, so
  // that the other job is sure to be queued before the first slice ends.
  auto jobs = env.Spins(64, "one", 200);
  auto first = env.Job("spin", {{"us", "200"}, {"until_queued", "1"}}, "one");
  first->id = first->payload = "0";
  jobs[0] = first;
  group->SpawnRun(
      0, 64, env.executor().Run(jobs, absl::InfiniteFuture(), group->scope()));
  while (env.Ran().empty()) absl::SleepFor(absl::Microseconds(50));
  // Another job queues for the one permit meanwhile: it gets it at the end
  // of the run's slice, not at the end of the run.
  Notification other_done;
  auto other = env.Job("spin", {{"us", "1"}}, "one");
  other->id = "other";
  auto attempt =
      env.executor().Start(other, absl::InfiniteFuture(), [&](AttemptResult r) {
        EXPECT_TRUE(r.output.ok());
        other_done.Notify();
      });
  ASSERT_TRUE(other_done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  group->Close();
  ASSERT_TRUE(out.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  std::vector<std::string> ran = env.Ran();
  size_t at = std::find(ran.begin(), ran.end(), "other") - ran.begin();
  // A slice is 500 µs of the clock: 3 jobs of at least 200 µs use it up
  // (fewer when the worker is kept off the CPU, which only makes the clock
  // run ahead of the work).
  EXPECT_GE(at, 1u);
  EXPECT_LE(at, 3u) << "the other job waited for more than a slice";
  EXPECT_EQ(out.Get().size(), 64u);
  EXPECT_EQ(env.backends().Find("one")->peak_in_use(), 1);
  EXPECT_TRUE(env.Idle());
}

TEST(SyncLeaseTest, CancelSettlesTheRestAtOnceAndStopsTheHandler) {
  RunEnv env;
  auto group = std::make_shared<LeaseHost>();
  LeaseHost& out = *group;
  std::vector<std::shared_ptr<const JobSpec>> jobs;
  for (int i = 0; i < 10; ++i) jobs.push_back(env.Job("wait", {}, "db"));
  group->SpawnRun(
      0, 10, env.executor().Run(jobs, absl::InfiniteFuture(), group->scope()));
  group->Close();
  while (env.waiting.load() == 0) absl::SleepFor(absl::Microseconds(50));
  group->Cancel(absl::CancelledError("client went away"));
  // Each job would wait 10 s: the group settles long before the first one
  // would have ended by itself.
  ASSERT_TRUE(out.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  auto got = out.Get();
  ASSERT_EQ(got.size(), 10u);
  for (auto& [i, r] : got) {
    EXPECT_EQ(r.outcome, JobOutcome::kCancelled) << i;
    EXPECT_EQ(r.error.message(), "client went away");
  }
  // The first job was running: its result says how long it had run.
  EXPECT_EQ(got.at(0).attempts, 1u);
  EXPECT_GT(got.at(0).run_time, absl::ZeroDuration());
  EXPECT_EQ(got.at(1).attempts, 0u);
  EXPECT_TRUE(env.Idle());
  EXPECT_EQ(env.told_to_stop.load(), 1);
  EXPECT_EQ(env.waiting.load(), 1) << "no job starts after the cancel";
}

TEST(SyncLeaseTest, TheCallDeadlineEndsARunMidway) {
  RunEnv env;
  CollectingSink sink;
  TaskGroup::Options o;
  o.deadline = absl::Now() + absl::Milliseconds(60);
  auto run = TaskGroup::Create(&env.executor(), o, &sink);
  // 2000 jobs of 1 ms: a second of work on each of the 2 workers.
  run->AddJobs(2000, FromList(env.Spins(2000, "", 1000)));
  run->CloseInput();
  ASSERT_TRUE(sink.Wait());
  absl::Time answered = absl::Now();
  // The answer comes at the deadline, not when the work would have ended
  // (half a bound, to allow for a slow machine).
  EXPECT_LT(answered - o.deadline, absl::Milliseconds(500));
  BatchSummary s = sink.summary();
  EXPECT_TRUE(s.deadline_hit);
  EXPECT_EQ(s.total, 2000u);
  EXPECT_GT(s.count(JobOutcome::kSucceeded), 0u);
  EXPECT_GT(s.count(JobOutcome::kDeadlineExceeded), 0u);
  EXPECT_EQ(
      s.count(JobOutcome::kSucceeded) + s.count(JobOutcome::kDeadlineExceeded),
      2000u);
  EXPECT_TRUE(env.Idle());
  // Nothing starts after the deadline. Allow two jobs a worker: one under
  // way at the deadline, and one that ended before it but was settled as
  // late because its worker lost the CPU before reporting it.
  EXPECT_LE(env.Ran().size(), s.count(JobOutcome::kSucceeded) + 4);
}

// The deadline passes mid-run while its timer is held: the call still ends,
// cancelled for its deadline by what the run itself finds (a lease's
// report, or the group's own check before it starts more), and exactly the
// jobs whose handlers ran succeed. One worker: every job that ran is
// reported before anything can cancel the call.
TEST(SyncLeaseTest, ADeadlineFoundMidRunKeepsTheOutcomesOfTheJobsThatRan) {
  RunEnv env(/*workers=*/1);
  CollectingSink sink;
  TaskGroup::Options o;
  o.deadline = absl::Now() + absl::Milliseconds(5);
  constexpr int kJobs = 20000;  // 5 µs each: 100 ms of work.
  {
    testing::TimerThreadHeld timers_held(env.timers());
    auto run = TaskGroup::Create(&env.executor(), o, &sink);
    run->AddJobs(kJobs, FromList(env.Spins(kJobs, "", 5)));
    run->CloseInput();
    ASSERT_TRUE(sink.Wait());
  }
  BatchSummary s = sink.summary();
  EXPECT_EQ(s.cancel_cause, CancelCause::kDeadline);
  EXPECT_TRUE(s.deadline_hit);
  EXPECT_GT(s.count(JobOutcome::kDeadlineExceeded), 0u);
  EXPECT_EQ(
      s.count(JobOutcome::kSucceeded) + s.count(JobOutcome::kDeadlineExceeded),
      static_cast<uint64_t>(kJobs));
  std::map<uint64_t, JobResult> results = sink.results();
  std::vector<std::string> ran = env.Ran();
  EXPECT_EQ(s.count(JobOutcome::kSucceeded), ran.size());
  for (const std::string& id : ran) {
    uint64_t index = 0;
    ASSERT_TRUE(absl::SimpleAtoi(id, &index));
    EXPECT_EQ(results[index].outcome, JobOutcome::kSucceeded) << index;
  }
  EXPECT_TRUE(env.Idle());
}

TEST(SyncLeaseTest, AFailureInsideARunCancelsTheRestOfItAtOnce) {
  RunEnv env;
  CollectingSink sink;
  auto jobs = env.Spins(512, "", 1);
  auto bad = env.Job("spin", {{"us", "1"}});
  bad->id = "100";
  bad->payload = "fail";
  jobs[100] = bad;
  auto run = TaskGroup::Create(&env.executor(), {}, &sink);
  run->AddJobs(512, FromList(jobs));
  run->CloseInput();
  ASSERT_TRUE(sink.Wait());
  auto results = sink.results();
  ASSERT_EQ(results.size(), 512u);
  EXPECT_EQ(results.at(100).outcome, JobOutcome::kFailed);
  EXPECT_EQ(sink.Count(JobOutcome::kFailed), 1);
  // Runs hold 64 jobs (512 jobs, 2 workers): job 100 is in the run
  // [64, 128); none after it in that run ran.
  std::vector<std::string> ran = env.Ran();
  for (int i = 101; i < 128; ++i) {
    EXPECT_EQ(results.at(i).outcome, JobOutcome::kCancelled) << i;
    EXPECT_EQ(std::count(ran.begin(), ran.end(), std::to_string(i)), 0) << i;
  }
  EXPECT_TRUE(env.Idle());
}

TEST(SyncLeaseTest, AHandlerThatThrowsCostsOnlyItsJob) {
  RunEnv env;
  CollectingSink sink;
  auto jobs = env.Spins(100, "", 1);
  auto bad = env.Job("spin", {{"us", "1"}});
  bad->payload = "throw";
  jobs[30] = bad;
  TaskGroup::Options o;
  o.policy = FailurePolicy::kCollectAll;
  auto run = TaskGroup::Create(&env.executor(), o, &sink);
  run->AddJobs(100, FromList(jobs));
  run->CloseInput();
  ASSERT_TRUE(sink.Wait());
  auto results = sink.results();
  EXPECT_EQ(results.at(30).outcome, JobOutcome::kFailed);
  EXPECT_EQ(results.at(30).error.message(), "handler threw: up");
  EXPECT_EQ(sink.Count(JobOutcome::kSucceeded), 99);
  EXPECT_TRUE(env.Idle());
}

TEST(SyncLeaseTest, AfterShutdownJobsEndCancelledNotLost) {
  RunEnv env;
  env.pool().Shutdown();
  CollectingSink sink;
  auto run = TaskGroup::Create(&env.executor(), {}, &sink);
  run->AddJobs(300, FromList(env.Spins(300)));
  run->CloseInput();
  ASSERT_TRUE(sink.Wait());
  EXPECT_EQ(sink.Count(JobOutcome::kCancelled), 300);
  EXPECT_EQ(sink.results().at(7).error.message(), "server is shutting down");
  EXPECT_TRUE(env.Idle());
}

// Many calls mixing runs and single jobs on a small backend, cancelled at
// random moments from another thread: every job has exactly one result
// (CollectingSink fails the test on a second), and every permit and
// handler count is back once idle.
TEST(SyncLeaseTest, RandomCancelsLeaveOneResultPerJobAndEveryPermitBack) {
  RunEnv env;
  std::mt19937 rng(12345);
  testing::RandomCancelRounds(env, rng, 150, absl::Milliseconds(3), [&] {
    std::vector<std::shared_ptr<const JobSpec>> jobs;
    int n = 1 + rng() % 600;
    for (int i = 0; i < n; ++i) {
      int pick = rng() % 20;
      if (pick == 0) {
        jobs.push_back(env.Job("sleep", {{"ms", "1"}}, "db"));
      } else if (pick == 1) {
        auto f = env.Job("spin", {{"us", "5"}}, "db");
        f->payload = "fail";
        jobs.push_back(f);
      } else {
        jobs.push_back(env.Job("spin", {{"us", "5"}}, i % 3 ? "db" : ""));
      }
    }
    return jobs;
  });
}

}  // namespace
}  // namespace jobgroup

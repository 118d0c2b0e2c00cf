// Tests of the Executor's leases of plain asynchronous jobs, alone (hosted
// as a TaskGroup hosts one) and inside a TaskGroup, over the real executor,
// workers, timers and backends: exactly one result per job in any order, one
// permit per running handler, cancellation and deadline of waiting and running
// jobs, handlers that ignore cancellation, and every permit back afterwards.
#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <thread>

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
using testing::TestEnv;

// TestEnv plus an asynchronous kind that ignores cancellation.
class AsyncEnv : public TestEnv {
 public:
  AsyncEnv() : TestEnv(2, 256) {
    // Holds its context until the test finishes it; never looks at
    // cancellation. Throws when the payload is "throw".
    EXPECT_TRUE(kinds()
                    .RegisterAsync({"hold", "db", ""},
                                   [this](std::shared_ptr<JobContext> ctx) {
                                     if (ctx->job().payload == "throw") {
                                       throw std::runtime_error("up");
                                     }
                                     MutexLock lock(&mu);
                                     held.push_back(std::move(ctx));
                                   })
                    .ok());
  }

  // Sleep jobs with payloads "0".."n-1"; job i sleeps ms(i).
  std::vector<std::shared_ptr<const JobSpec>> Sleeps(
      int n, std::string backend, const std::function<int(int)>& ms) {
    std::vector<std::shared_ptr<const JobSpec>> jobs;
    for (int i = 0; i < n; ++i) {
      auto j = Job("sleep", {{"ms", std::to_string(ms(i))}}, backend);
      j->payload = std::to_string(i);
      jobs.push_back(std::move(j));
    }
    return jobs;
  }
  size_t Held() {
    MutexLock lock(&mu);
    return held.size();
  }
  void FinishHeld() {
    std::vector<std::shared_ptr<JobContext>> all;
    {
      MutexLock lock(&mu);
      all.swap(held);
    }
    for (auto& c : all) c->Finish(std::string("late"));
  }

  Mutex mu;
  std::vector<std::shared_ptr<JobContext>> held;
};

std::shared_ptr<Lease> MakeRun(
    TestEnv& env, LeaseHost& group,
    std::vector<std::shared_ptr<const JobSpec>> jobs) {
  return env.executor().Run(std::move(jobs), absl::InfiniteFuture(),
                            group.scope());
}

// A handler may finish on another thread (a timer of 0 ms) before it
// registers its cancel callback; a callback holding the context then must
// not keep it alive (found by tests/fuzz/service_fuzz: sleep ms=0 leaked
// its context, attempt and call).
TEST(JobContextTest, ACallbackRegisteredAfterFinishIsDroppedUnrun) {
  TimerService timers;
  JobSpec spec;
  int finished = 0;
  auto ctx = std::make_shared<JobContext>(
      &spec, &timers, absl::InfiniteFuture(),
      [&](absl::StatusOr<std::string>) { ++finished; });
  std::weak_ptr<JobContext> weak = ctx;
  ctx->Finish("done");
  bool ran = false;
  ctx->OnCancel([ctx, &ran] { ran = true; });
  ctx.reset();
  EXPECT_TRUE(weak.expired()) << "the callback keeps its context alive";
  EXPECT_FALSE(ran);
  EXPECT_EQ(finished, 1);
  timers.Shutdown();
}

TEST(AsyncLeaseTest, OnlyPlainJobsQualify) {
  AsyncEnv env;
  RetryPolicy none;
  EXPECT_TRUE(Lease::Plain(*env.Job("sleep"), none));
  EXPECT_TRUE(Lease::Plain(*env.Job("echo"), none));  // Sync kinds too.
  auto timed = env.Job("sleep");
  timed->timeout = absl::Seconds(1);
  EXPECT_FALSE(Lease::Plain(*timed, none));
  auto with_fallback = env.Job("sleep");
  with_fallback->fallbacks.push_back(*env.Job("sleep"));
  EXPECT_FALSE(Lease::Plain(*with_fallback, none));
  auto rejected = env.Job("sleep");
  rejected->rejected = absl::InvalidArgumentError("bad");
  EXPECT_FALSE(Lease::Plain(*rejected, none));
  RetryPolicy retry;
  retry.max_attempts = 3;
  EXPECT_FALSE(Lease::Plain(*env.Job("sleep"), retry));
}

TEST(AsyncLeaseTest, JobsRunTogetherAndEachResultComesOnceInAnyOrder) {
  AsyncEnv env;
  auto group = std::make_shared<LeaseHost>();
  LeaseHost& out = *group;
  // Job i sleeps 64 - i ms: they finish in reverse order.
  auto jobs = env.Sleeps(64, "", [](int i) { return 64 - i; });
  absl::Time start = absl::Now();
  group->SpawnRun(500, 64, MakeRun(env, *group, jobs));
  group->Close();
  ASSERT_TRUE(out.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  absl::Duration took = absl::Now() - start;
  auto got = out.Get();
  EXPECT_EQ(out.duplicates, 0);
  ASSERT_EQ(got.size(), 64u);
  for (uint64_t i = 0; i < 64; ++i) {
    const JobResult& r = got.at(500 + i);
    EXPECT_EQ(r.outcome, JobOutcome::kSucceeded) << i;
    EXPECT_EQ(r.output, std::to_string(i)) << "results go to their own index";
    EXPECT_EQ(r.attempts, 1u);
    EXPECT_NE(r.kind, nullptr);
    EXPECT_GE(r.run_time, absl::Milliseconds(64 - i));
  }
  // Together: about the longest sleep, far from the 2 s of their sum.
  EXPECT_EQ(env.inside["local"].peak.load(), 64);
  EXPECT_LT(took, absl::Milliseconds(1000));
  EXPECT_TRUE(env.Idle());
}

TEST(AsyncLeaseTest, TheBackendCapsTheHandlersOfARun) {
  AsyncEnv env;
  CollectingSink sink;
  auto run = TaskGroup::Create(&env.executor(), {}, &sink);
  // db has 3 permits: 60 jobs of 5 ms take 20 waves.
  absl::Time start = absl::Now();
  run->AddJobs(60, FromList(env.Sleeps(60, "db", [](int) { return 5; })));
  run->CloseInput();
  ASSERT_TRUE(sink.Wait());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(100));
  EXPECT_EQ(sink.summary().count(JobOutcome::kSucceeded), 60u);
  EXPECT_EQ(env.inside["db"].peak.load(), 3);
  EXPECT_EQ(env.backends().Find("db")->peak_in_use(), 3);
  EXPECT_TRUE(env.Idle());
}

TEST(AsyncLeaseTest, CancelEndsRunningAndWaitingJobsAtOnce) {
  AsyncEnv env;
  auto group = std::make_shared<LeaseHost>();
  LeaseHost& out = *group;
  // 3 run (db has 3 permits), 61 wait.
  auto jobs = env.Sleeps(64, "db", [](int) { return 10000; });
  group->SpawnRun(0, 64, MakeRun(env, *group, jobs));
  group->Close();
  while (env.started.load() < 3) absl::SleepFor(absl::Microseconds(100));
  group->Cancel(CancelCause::kClient, absl::CancelledError("client went away"));
  // Each job would sleep 10 s: the group settles long before the first one
  // would have ended by itself.
  ASSERT_TRUE(out.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  auto got = out.Get();
  ASSERT_EQ(got.size(), 64u);
  int ran = 0;
  for (auto& [i, r] : got) {
    EXPECT_EQ(r.outcome, JobOutcome::kCancelled) << i;
    EXPECT_EQ(r.error.message(), "client went away");
    ran += r.attempts;
  }
  EXPECT_EQ(ran, 3) << "the running jobs say how long they ran";
  EXPECT_TRUE(env.Idle());
  EXPECT_EQ(env.cancelled_handlers.load(), 3);
  EXPECT_EQ(env.started.load(), 3) << "no job starts after the cancel";
  EXPECT_EQ(env.backends().Find("db")->peak_in_use(), 3);
}

TEST(AsyncLeaseTest, TheCallDeadlineEndsItsJobs) {
  AsyncEnv env;
  CollectingSink sink;
  TaskGroup::Options o;
  o.deadline = absl::Now() + absl::Milliseconds(60);
  auto run = TaskGroup::Create(&env.executor(), o, &sink);
  // 3 at a time, 20 ms each: about 9 finish before the deadline, and all
  // of them would take 1.3 s.
  run->AddJobs(200, FromList(env.Sleeps(200, "db", [](int) { return 20; })));
  run->CloseInput();
  ASSERT_TRUE(sink.Wait());
  // The answer comes at the deadline, not when the work would have ended
  // (well before that, to allow for a slow machine).
  EXPECT_LT(absl::Now() - o.deadline, absl::Milliseconds(500));
  BatchSummary s = sink.summary();
  EXPECT_TRUE(s.deadline_hit);
  EXPECT_EQ(s.total, 200u);
  EXPECT_GT(s.count(JobOutcome::kSucceeded), 0u);
  EXPECT_EQ(
      s.count(JobOutcome::kSucceeded) + s.count(JobOutcome::kDeadlineExceeded),
      200u);
  EXPECT_TRUE(env.Idle());
  // Nothing starts after the deadline. Allow two jobs a permit: the one
  // under way at the deadline, and one that ended just before it but was
  // settled as late because it lost the race to report.
  EXPECT_LE(static_cast<uint64_t>(env.started.load()),
            s.count(JobOutcome::kSucceeded) + 6);
}

// The same for jobs whose trip reaches a worker after the deadline, with
// the timer thread held and the group dropped by its owner: the lease is
// all that holds the group, and finding the deadline passed it ends the
// jobs, which cancels the call for its deadline (before the fix the group
// went with the lease, unfinished).
TEST(AsyncLeaseTest, ADeadlinePassedBeforeTheWorkerTripEndsTheCall) {
  AsyncEnv env;
  CollectingSink sink;
  {
    testing::TimerThreadHeld timers_held(env.timers());
    // Both workers busy until the deadline has passed.
    auto release_workers = std::make_shared<Notification>();
    std::atomic<int> busy{0};
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(env.pool().Submit([&busy, release_workers] {
        busy.fetch_add(1);
        release_workers->WaitForNotification();
      }));
    }
    while (busy.load() < 2) absl::SleepFor(absl::Milliseconds(1));
    TaskGroup::Options o;
    o.deadline = absl::Now() + absl::Milliseconds(20);
    {
      auto run = TaskGroup::Create(&env.executor(), o, &sink);
      run->AddJobs(3, FromList(env.Sleeps(3, "db", [](int) { return 1; })));
      run->CloseInput();
    }
    testing::SleepPast(o.deadline);
    release_workers->Notify();
    ASSERT_TRUE(sink.Wait());
  }
  BatchSummary s = sink.summary();
  EXPECT_EQ(s.count(JobOutcome::kDeadlineExceeded), 3u);
  EXPECT_EQ(s.cancel_cause, CancelCause::kDeadline);
  EXPECT_EQ(env.started.load(), 0);
  EXPECT_TRUE(env.Idle());
}

TEST(AsyncLeaseTest, AFailureCancelsTheRestUnderFailFast) {
  AsyncEnv env;
  CollectingSink sink;
  auto jobs = env.Sleeps(64, "", [](int) { return 10000; });
  auto bad = env.Job("sleep", {{"ms", "5"}, {"fail", "1"}});
  jobs[10] = bad;
  auto run = TaskGroup::Create(&env.executor(), {}, &sink);
  run->AddJobs(64, FromList(jobs));
  run->CloseInput();
  // The others would sleep 10 s.
  ASSERT_TRUE(sink.Wait(absl::Seconds(5))) << "fail-fast did not stop it";
  auto results = sink.results();
  ASSERT_EQ(results.size(), 64u);
  EXPECT_EQ(results.at(10).outcome, JobOutcome::kFailed);
  EXPECT_EQ(sink.Count(JobOutcome::kCancelled), 63);
  EXPECT_TRUE(env.Idle());
}

TEST(AsyncLeaseTest, AHandlerThatIgnoresCancellationHoldsOnlyItsPermit) {
  AsyncEnv env;
  auto group = std::make_shared<LeaseHost>();
  LeaseHost& out = *group;
  std::vector<std::shared_ptr<const JobSpec>> jobs;
  for (int i = 0; i < 5; ++i) jobs.push_back(env.Job("hold"));
  group->SpawnRun(0, 5, MakeRun(env, *group, jobs));
  group->Close();
  while (env.Held() < 3) absl::SleepFor(absl::Microseconds(100));
  group->Cancel(CancelCause::kDeadline);
  ASSERT_TRUE(out.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  for (auto& [i, r] : out.Get()) {
    EXPECT_EQ(r.outcome, JobOutcome::kDeadlineExceeded) << i;
  }
  // The three handlers still hold their db permits, counted as abandoned.
  EXPECT_EQ(env.executor().abandoned_handlers(), 3);
  EXPECT_EQ(env.backends().Find("db")->in_use(), 3);
  env.FinishHeld();
  EXPECT_TRUE(env.Idle());
  EXPECT_EQ(env.Held(), 0u);
  EXPECT_EQ(out.Get().size(), 5u);
}

TEST(AsyncLeaseTest, AHandlerThatThrowsCostsOnlyItsJob) {
  AsyncEnv env;
  CollectingSink sink;
  std::vector<std::shared_ptr<const JobSpec>> jobs;
  for (int i = 0; i < 6; ++i) {
    auto j = env.Job("hold");
    if (i == 2) j->payload = "throw";
    jobs.push_back(std::move(j));
  }
  TaskGroup::Options o;
  o.policy = FailurePolicy::kCollectAll;
  auto run = TaskGroup::Create(&env.executor(), o, &sink);
  run->AddJobs(6, FromList(jobs));
  run->CloseInput();
  // 3 permits: the throwing job frees its own, so 3 are held, then more.
  absl::Time end = absl::Now() + absl::Seconds(5);
  while (!sink.done() && absl::Now() < end) {
    env.FinishHeld();
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_TRUE(sink.Wait());
  auto results = sink.results();
  EXPECT_EQ(results.at(2).outcome, JobOutcome::kFailed);
  EXPECT_EQ(results.at(2).error.message(), "handler threw: up");
  EXPECT_EQ(sink.Count(JobOutcome::kSucceeded), 5);
  EXPECT_TRUE(env.Idle());
}

TEST(AsyncLeaseTest, AfterShutdownJobsEndCancelledNotLost) {
  AsyncEnv env;
  env.pool().Shutdown();
  CollectingSink sink;
  auto run = TaskGroup::Create(&env.executor(), {}, &sink);
  run->AddJobs(300, FromList(env.Sleeps(300, "", [](int) { return 1; })));
  run->CloseInput();
  ASSERT_TRUE(sink.Wait());
  EXPECT_EQ(sink.Count(JobOutcome::kCancelled), 300);
  EXPECT_EQ(sink.results().at(7).error.message(), "server is shutting down");
  EXPECT_TRUE(env.Idle());
}

// Calls of asynchronous jobs on a small backend (some failing), cancelled
// at random moments from another thread: every job has exactly one result
// (CollectingSink fails the test on a second) and every permit and handler
// count is back once idle.
TEST(AsyncLeaseTest, RandomCancelsLeaveOneResultPerJobAndEveryPermitBack) {
  AsyncEnv env;
  std::mt19937 rng(777);
  testing::RandomCancelRounds(env, rng, 150, absl::Milliseconds(4), [&] {
    std::vector<std::shared_ptr<const JobSpec>> jobs;
    int n = 1 + rng() % 500;
    for (int i = 0; i < n; ++i) {
      std::string ms = std::to_string(rng() % 3);
      bool fail = rng() % 25 == 0;
      jobs.push_back(env.Job("sleep", {{"ms", ms}, {"fail", fail ? "1" : "0"}},
                             rng() % 2 ? "db" : ""));
    }
    return jobs;
  });
}

}  // namespace
}  // namespace jobgroup

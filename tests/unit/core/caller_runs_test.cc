// Tests of CallerRuns: alone (what it keeps, when and where it runs it),
// and under the real executor and TaskGroup: a small call of a quick kind
// runs on the thread that added its jobs, once its CallerRuns closes; any
// other lease, and the part of a call past the budget, runs on the workers;
// a call cancelled while its trip is kept still gives every job one
// outcome and every permit back.
#include "server/core/caller_runs.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/executor.h"
#include "server/core/task_group.h"
#include "tests/unit/core/test_env.h"

namespace jobgroup {
namespace {

using testing::CollectingSink;
using testing::FromList;
using testing::TestEnv;

TEST(CallerRunsTest, KeepsNothingWhenNoneIsOpen) {
  bool ran = false;
  CallerRuns::Trip trip = [&ran] { ran = true; };
  EXPECT_FALSE(CallerRuns::Keep(1, trip));
  ASSERT_TRUE(trip) << "a trip not kept is left to its caller";
  std::move(trip)();
  EXPECT_TRUE(ran);
}

TEST(CallerRunsTest, RunsWhatItKeptInOrderWhenItCloses) {
  std::vector<int> order;
  {
    CallerRuns caller_runs;
    for (int i = 0; i < 3; ++i) {
      CallerRuns::Trip trip = [&order, i] { order.push_back(i); };
      EXPECT_TRUE(CallerRuns::Keep(1, trip));
    }
    EXPECT_TRUE(order.empty()) << "nothing runs before it closes";
  }
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

TEST(CallerRunsTest, KeepsNoMoreThanItsBudgetOfJobs) {
  int ran = 0;
  CallerRuns caller_runs;
  CallerRuns::Trip first = [&ran] { ++ran; };
  EXPECT_TRUE(CallerRuns::Keep(CallerRuns::kMaxJobs - 1, first));
  CallerRuns::Trip over = [&ran] { ++ran; };
  EXPECT_FALSE(CallerRuns::Keep(2, over)) << "one job over the budget";
  CallerRuns::Trip last = [&ran] { ++ran; };
  EXPECT_TRUE(CallerRuns::Keep(1, last)) << "exactly the budget";
  CallerRuns::Trip more = [&ran] { ++ran; };
  EXPECT_FALSE(CallerRuns::Keep(1, more));
}

TEST(CallerRunsTest, TripsAskedForWhileTheKeptOnesRunAreNotKept) {
  bool inner_kept = true;
  {
    CallerRuns caller_runs;
    CallerRuns::Trip trip = [&inner_kept] {
      CallerRuns::Trip inner = [] {};
      inner_kept = CallerRuns::Keep(1, inner);
    };
    ASSERT_TRUE(CallerRuns::Keep(1, trip));
  }
  EXPECT_FALSE(inner_kept);
}

TEST(CallerRunsTest, AnInnerOneLeavesTheRunningToTheOuter) {
  bool ran = false;
  {
    CallerRuns outer;
    {
      CallerRuns inner;
      CallerRuns::Trip trip = [&ran] { ran = true; };
      ASSERT_TRUE(CallerRuns::Keep(1, trip));
    }
    EXPECT_FALSE(ran) << "the inner one closed, the outer is still open";
  }
  EXPECT_TRUE(ran);
}

TEST(CallerRunsTest, OtherThreadsAreNotAffected) {
  CallerRuns caller_runs;
  bool kept_elsewhere = true;
  std::thread other([&kept_elsewhere] {
    CallerRuns::Trip trip = [] {};
    kept_elsewhere = CallerRuns::Keep(1, trip);
  });
  other.join();
  EXPECT_FALSE(kept_elsewhere);
}

// TestEnv plus "where", a synchronous kind that records the thread each
// handler ran on.
class WhereEnv : public TestEnv {
 public:
  WhereEnv() {
    EXPECT_TRUE(
        kinds()
            .Register({"where", "local", ""},
                      [this](JobContext& ctx) -> absl::StatusOr<std::string> {
                        MutexLock lock(&mu_);
                        threads_.push_back(std::this_thread::get_id());
                        return std::string(ctx.job().payload);
                      })
            .ok());
    kind_ = kinds().Find("where");
  }
  // Makes "where" a quick kind, as runs of it would record (1 µs a job),
  // or a slow one (1 s a job: its own quick runs, weighed 1/4 each, leave
  // it slow for the few leases of a test).
  void SetQuick(bool quick) {
    KindStats& stats = executor().kind_stats(*kind_);
    stats.set_typical_run_ns(quick ? 1000 : 1000000000);
    ASSERT_EQ(Lease::Cheap(stats), quick);
  }
  std::vector<std::shared_ptr<const JobSpec>> Jobs(int n,
                                                   std::string backend = "") {
    std::vector<std::shared_ptr<const JobSpec>> jobs;
    for (int i = 0; i < n; ++i) jobs.push_back(Job("where", {}, backend));
    return jobs;
  }
  // How many handlers ran on `thread`, and on others.
  int RanOn(std::thread::id thread) {
    MutexLock lock(&mu_);
    return static_cast<int>(
        std::count(threads_.begin(), threads_.end(), thread));
  }
  int Ran() {
    MutexLock lock(&mu_);
    return static_cast<int>(threads_.size());
  }

 private:
  const JobKind* kind_ = nullptr;
  Mutex mu_;
  std::vector<std::thread::id> threads_ ABSL_GUARDED_BY(mu_);
};

TEST(CallerRunsTest, ASmallCallOfAQuickKindRunsOnTheCallersThread) {
  WhereEnv env;
  env.SetQuick(true);
  CollectingSink sink;
  std::shared_ptr<TaskGroup> group;
  {
    CallerRuns caller_runs;
    group = TaskGroup::Create(&env.executor(), {}, &sink);
    group->AddJobs(10, FromList(env.Jobs(10, "db")));
    group->CloseInput();
    EXPECT_EQ(env.Ran(), 0) << "kept until the CallerRuns closes";
    EXPECT_FALSE(sink.Wait(absl::ZeroDuration()));
  }
  // Done by the time the CallerRuns has closed: no waiting needed.
  ASSERT_TRUE(sink.Wait(absl::ZeroDuration()));
  EXPECT_EQ(sink.summary().count(JobOutcome::kSucceeded), 10u);
  EXPECT_EQ(env.RanOn(std::this_thread::get_id()), 10);
  EXPECT_EQ(env.backends().Find("db")->peak_in_use(), 1);
  EXPECT_TRUE(env.Idle());
}

TEST(CallerRunsTest, AKindNotYetMeasuredRunsOnTheWorkers) {
  WhereEnv env;
  // Unknown: only the first lease is sure to find it so (the workers learn
  // its time as they run it), so one lease of one job.
  CollectingSink sink;
  CallerRuns caller_runs;
  auto group = TaskGroup::Create(&env.executor(), {}, &sink);
  group->AddJobs(1, FromList(env.Jobs(1)));
  group->CloseInput();
  ASSERT_TRUE(sink.Wait()) << "kept while the CallerRuns is open";
  EXPECT_EQ(env.RanOn(std::this_thread::get_id()), 0);
  EXPECT_TRUE(env.Idle());
}

TEST(CallerRunsTest, ASlowKindRunsOnTheWorkers) {
  WhereEnv env;
  env.SetQuick(false);
  CollectingSink sink;
  CallerRuns caller_runs;
  auto group = TaskGroup::Create(&env.executor(), {}, &sink);
  group->AddJobs(10, FromList(env.Jobs(10)));
  group->CloseInput();
  // Finishes while the CallerRuns is still open: nothing was kept.
  ASSERT_TRUE(sink.Wait());
  EXPECT_EQ(env.RanOn(std::this_thread::get_id()), 0);
  EXPECT_EQ(env.Ran(), 10);
  EXPECT_TRUE(env.Idle());
}

TEST(CallerRunsTest, JobsPastTheBudgetRunOnTheWorkers) {
  WhereEnv env;
  env.SetQuick(true);
  CollectingSink sink;
  const int n = 3 * static_cast<int>(CallerRuns::kMaxJobs);
  {
    CallerRuns caller_runs;
    auto group = TaskGroup::Create(&env.executor(), {}, &sink);
    group->AddJobs(n, FromList(env.Jobs(n)));
    group->CloseInput();
  }
  ASSERT_TRUE(sink.Wait());
  EXPECT_EQ(sink.summary().count(JobOutcome::kSucceeded),
            static_cast<uint64_t>(n));
  EXPECT_LE(env.RanOn(std::this_thread::get_id()),
            static_cast<int>(CallerRuns::kMaxJobs));
  EXPECT_EQ(env.Ran(), n);
  EXPECT_TRUE(env.Idle());
}

TEST(CallerRunsTest, ACallCancelledWhileItsTripIsKeptEndsCancelled) {
  WhereEnv env;
  env.SetQuick(true);
  CollectingSink sink;
  {
    CallerRuns caller_runs;
    auto group = TaskGroup::Create(&env.executor(), {}, &sink);
    group->AddJobs(10, FromList(env.Jobs(10, "db")));
    group->CloseInput();
    group->Cancel(CancelCause::kClient);
  }
  ASSERT_TRUE(sink.Wait());
  EXPECT_EQ(sink.summary().count(JobOutcome::kCancelled), 10u);
  EXPECT_EQ(env.Ran(), 0) << "nothing starts once the call is cancelled";
  EXPECT_TRUE(env.Idle());
}

// The deadline passes while the trip is kept, and its timer cannot fire
// (the timer thread is held): the lease finds the deadline passed, and
// once the group's owner has dropped it the lease is all that holds the
// group. Its jobs still end DEADLINE_EXCEEDED and the call is done (before
// the fix the group went with the lease, unfinished, and a call could wait
// for good).
TEST(CallerRunsTest, ADeadlinePassedWhileTheTripWasKeptStopsItsJobs) {
  WhereEnv env;
  env.SetQuick(true);
  CollectingSink sink;
  TaskGroup::Options options;
  {
    testing::TimerThreadHeld timers_held(env.timers());
    {
      CallerRuns caller_runs;
      options.deadline = absl::Now() + absl::Milliseconds(20);
      auto group = TaskGroup::Create(&env.executor(), options, &sink);
      group->AddJobs(10, FromList(env.Jobs(10, "db")));
      group->CloseInput();
      testing::SleepPast(options.deadline);
    }
    // Done when the CallerRuns closed, with the timer still held.
    ASSERT_TRUE(sink.Wait());
  }
  EXPECT_EQ(sink.summary().count(JobOutcome::kDeadlineExceeded), 10u);
  EXPECT_TRUE(sink.summary().deadline_hit);
  EXPECT_EQ(sink.summary().cancel_cause, CancelCause::kDeadline);
  EXPECT_EQ(env.Ran(), 0);
  EXPECT_TRUE(env.Idle());
}

}  // namespace
}  // namespace jobgroup

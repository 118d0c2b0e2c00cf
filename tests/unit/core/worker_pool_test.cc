// Tests of WorkerPool.
#include "server/core/worker_pool.h"

#include <atomic>
#include <functional>
#include <set>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/core/mutex.h"
#include "server/core/notification.h"

namespace jobgroup {
namespace {

TEST(WorkerPoolTest, RunsEveryTaskOnAFixedSetOfThreads) {
  constexpr int kTasks = 20000;
  std::atomic<int> ran{0};
  Mutex mu;
  std::set<std::thread::id> ids;
  {
    WorkerPool pool(3, 16);  // A small queue: most submits park.
    for (int i = 0; i < kTasks; ++i) {
      ASSERT_TRUE(pool.Submit([&] {
        ran.fetch_add(1);
        MutexLock lock(&mu);
        ids.insert(std::this_thread::get_id());
      }));
    }
    pool.Shutdown();
  }
  EXPECT_EQ(ran.load(), kTasks);
  EXPECT_LE(ids.size(), 3u);
}

TEST(WorkerPoolTest, SubmitAfterShutdownIsRefused) {
  WorkerPool pool(1, 4);
  pool.Shutdown();
  bool ran = false;
  EXPECT_FALSE(pool.Submit([&] { ran = true; }));
  EXPECT_FALSE(ran);
}

TEST(WorkerPoolTest, BusyCountsRunningTasks) {
  WorkerPool pool(2, 4);
  Notification release;
  std::atomic<int> started{0};
  for (int i = 0; i < 2; ++i) {
    pool.Submit([&] {
      started.fetch_add(1);
      release.WaitForNotification();
    });
  }
  while (started.load() < 2) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(pool.busy(), 2u);
  release.Notify();
  pool.Shutdown();
  EXPECT_EQ(pool.busy(), 0u);
}

// The case: a queue of capacity 4 with 96 jobs behind it reported
// a depth of 96. Depth is what the queue holds; parked is counted apart.
TEST(WorkerPoolTest, QueueDepthAndParkedAreCountedApart) {
  WorkerPool pool(1, 4);
  Notification release;
  std::atomic<bool> started{false};
  pool.Submit([&] {
    started = true;
    release.WaitForNotification();
  });
  while (!started.load()) absl::SleepFor(absl::Milliseconds(1));
  for (int i = 0; i < 100; ++i) pool.Submit([] {});
  EXPECT_EQ(pool.queue_depth(), 4u);
  EXPECT_EQ(pool.queue_parked(), 96u);
  release.Notify();
  pool.Shutdown();
  EXPECT_EQ(pool.queue_depth(), 0u);
  EXPECT_EQ(pool.queue_parked(), 0u);
}

// Polls `done` for up to a minute: the bound is the work, not the machine.
bool Eventually(const std::function<bool()>& done) {
  absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (absl::Now() < give_up) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return done();
}

SpareThreads Spares(size_t max) {
  SpareThreads s;
  s.long_after = absl::Milliseconds(5);
  s.max_spares = max;
  return s;
}

// Two long tasks on two workers: without spares the third task would wait
// for one of them to end; with spares it runs while both still hold their
// workers.
TEST(WorkerPoolTest, ShortTasksRunWhileLongOnesHoldEveryWorker) {
  WorkerPool pool(2, 16, Spares(0));
  Notification release;
  std::atomic<int> started{0};
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(pool.Submit([&] {
      started.fetch_add(1);
      release.WaitForNotification();
    }));
  }
  ASSERT_TRUE(Eventually([&] { return started.load() == 2; }));
  Notification short_ran;
  ASSERT_TRUE(pool.Submit([&] { short_ran.Notify(); }));
  EXPECT_TRUE(Eventually([&] { return short_ran.HasBeenNotified(); }));
  EXPECT_FALSE(release.HasBeenNotified());
  // A spare may start once the first task is long, before the second is:
  // both are, once they have run past long_after.
  EXPECT_TRUE(Eventually([&] { return pool.long_tasks() == 2u; }))
      << pool.long_tasks();
  EXPECT_GT(pool.threads(), 2u);
  EXPECT_LE(pool.threads(), 4u);  // Spares at most = workers.
  release.Notify();
  // With the long tasks over, the spares retire.
  EXPECT_TRUE(Eventually([&] { return pool.threads() == 2; }))
      << pool.threads();
  pool.Shutdown();
  EXPECT_EQ(pool.busy(), 0u);
}

// Spares are bounded: with max_spares long tasks beyond the workers, no
// thread is added, and every task still runs once the long ones end.
TEST(WorkerPoolTest, SparesAreBoundedAndEveryTaskStillRuns) {
  WorkerPool pool(1, 16, Spares(2));
  Notification release;
  std::atomic<int> started{0};
  std::atomic<int> ran{0};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(pool.Submit([&] {
      started.fetch_add(1);
      release.WaitForNotification();
      ran.fetch_add(1);
    }));
  }
  // One worker and two spares take the three long tasks.
  ASSERT_TRUE(Eventually([&] { return started.load() == 3; }));
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(pool.Submit([&] { ran.fetch_add(1); }));
  }
  for (int i = 0; i < 20; ++i) {
    EXPECT_LE(pool.threads(), 3u);
    absl::SleepFor(absl::Milliseconds(5));
  }
  release.Notify();
  EXPECT_TRUE(Eventually([&] { return ran.load() == 103; })) << ran.load();
  pool.Shutdown();
  EXPECT_EQ(ran.load(), 103);
}

// Shutdown with spares running joins them all; no task is lost.
TEST(WorkerPoolTest, ShutdownJoinsSparesAndRunsEveryAcceptedTask) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool(1, 4, Spares(1));
    Notification release;
    std::atomic<bool> started{false};
    ASSERT_TRUE(pool.Submit([&] {
      started = true;
      release.WaitForNotification();
      ran.fetch_add(1);
    }));
    ASSERT_TRUE(Eventually([&] { return started.load(); }));
    ASSERT_TRUE(Eventually([&] { return pool.threads() == 2; }));
    for (int i = 0; i < 50; ++i) pool.Submit([&] { ran.fetch_add(1); });
    release.Notify();
    pool.Shutdown();
  }
  EXPECT_EQ(ran.load(), 51);
}

}  // namespace
}  // namespace jobgroup

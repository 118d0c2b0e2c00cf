// Tests of WorkerPool.
#include "server/core/worker_pool.h"

#include <atomic>
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

}  // namespace
}  // namespace jobgroup

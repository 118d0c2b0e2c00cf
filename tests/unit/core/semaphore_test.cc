// Tests of Semaphore: the cap, FIFO service and cancellation of waits.
#include "server/core/semaphore.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace jobgroup {
namespace {

TEST(SemaphoreTest, FreePermitIsTakenAtOnce) {
  Semaphore sem("db", 2);
  bool called = false;
  EXPECT_EQ(sem.AcquireOrWait([&](absl::Duration) { called = true; }), 0u);
  EXPECT_FALSE(called);
  EXPECT_EQ(sem.in_use(), 1);
  EXPECT_TRUE(sem.TryAcquire());
  EXPECT_FALSE(sem.TryAcquire());
  sem.Release();
  sem.Release();
  EXPECT_EQ(sem.in_use(), 0);
}

TEST(SemaphoreTest, WaitersAreServedInArrivalOrder) {
  Semaphore sem("db", 1);
  ASSERT_TRUE(sem.TryAcquire());
  std::vector<int> served;
  for (int i = 0; i < 5; ++i) {
    EXPECT_NE(
        sem.AcquireOrWait([&, i](absl::Duration) { served.push_back(i); }), 0u);
  }
  EXPECT_EQ(sem.waiting(), 5);
  for (int i = 0; i < 5; ++i) sem.Release();
  EXPECT_EQ(served, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(sem.in_use(), 1);  // The last waiter holds it.
  sem.Release();
  EXPECT_EQ(sem.in_use(), 0);
}

TEST(SemaphoreTest, NoBargingPastWaiters) {
  Semaphore sem("db", 1);
  ASSERT_TRUE(sem.TryAcquire());
  bool first_served = false;
  sem.AcquireOrWait([&](absl::Duration) { first_served = true; });
  sem.Release();  // Goes to the waiter, not to a newcomer.
  EXPECT_TRUE(first_served);
  EXPECT_FALSE(sem.TryAcquire());
  sem.Release();
}

TEST(SemaphoreTest, CancelledWaitNeverGetsThePermit) {
  Semaphore sem("db", 1);
  ASSERT_TRUE(sem.TryAcquire());
  bool a = false, b = false;
  auto ida = sem.AcquireOrWait([&](absl::Duration) { a = true; });
  sem.AcquireOrWait([&](absl::Duration) { b = true; });
  EXPECT_TRUE(sem.CancelWait(ida));
  EXPECT_FALSE(sem.CancelWait(ida));
  sem.Release();
  EXPECT_FALSE(a);
  EXPECT_TRUE(b);
  sem.Release();
  EXPECT_EQ(sem.in_use(), 0);
  EXPECT_EQ(sem.waiting(), 0);
}

// Threads race to acquire, hold briefly and release; a counter kept by the
// holders proves the cap, and every acquisition is eventually served.
TEST(SemaphoreTest, NeverMoreHoldersThanCapacityUnderRaces) {
  constexpr int kCapacity = 3, kThreads = 8, kPerThread = 2000;
  Semaphore sem("db", kCapacity);
  std::atomic<int> inside{0}, peak{0}, served{0};
  auto hold_and_release = [&] {
    int now = inside.fetch_add(1) + 1;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    served.fetch_add(1);
    inside.fetch_sub(1);
    sem.Release();
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        if (sem.AcquireOrWait([&](absl::Duration) { hold_and_release(); }) ==
            0) {
          hold_and_release();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(served.load(), kThreads * kPerThread);
  EXPECT_LE(peak.load(), kCapacity);
  EXPECT_LE(sem.peak_in_use(), kCapacity);
  EXPECT_EQ(sem.in_use(), 0);
  EXPECT_EQ(sem.waiting(), 0);
}

// CancelWait racing a Release: either the waiter is removed (and never
// called) or it got the permit (and was called) — never both, never neither.
TEST(SemaphoreTest, CancelRacingReleaseLosesNoPermit) {
  for (int round = 0; round < 2000; ++round) {
    Semaphore sem("db", 1);
    ASSERT_TRUE(sem.TryAcquire());
    std::atomic<bool> called{false};
    auto id = sem.AcquireOrWait([&](absl::Duration) { called = true; });
    std::thread releaser([&] { sem.Release(); });
    bool removed = sem.CancelWait(id);
    releaser.join();
    EXPECT_NE(removed, called.load());
    if (called) sem.Release();
    EXPECT_EQ(sem.in_use(), 0);
  }
}

}  // namespace
}  // namespace jobgroup

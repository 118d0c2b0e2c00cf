// Tests of TimerService.
#include "server/core/timer_service.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/core/notification.h"

namespace jobgroup {
namespace {

TEST(TimerServiceTest, RunsCallbacksInDueOrder) {
  TimerService timers;
  Mutex mu;
  std::vector<int> order;
  Notification done;
  // A first timer holds the timer thread until the three are scheduled,
  // however long that takes on a slow machine: none can run before the
  // others are known, so only the due order decides.
  Notification scheduled;
  absl::Time base = absl::Now();
  timers.Schedule(base, [&] { scheduled.WaitForNotification(); });
  for (int i : {3, 1, 2}) {
    timers.Schedule(base + absl::Milliseconds(5 * i), [&, i] {
      MutexLock lock(&mu);
      order.push_back(i);
      if (order.size() == 3) done.Notify();
    });
  }
  scheduled.Notify();
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(TimerServiceTest, NeverRunsBeforeItsTime) {
  TimerService timers;
  Notification done;
  absl::Time due = absl::Now() + absl::Milliseconds(30);
  absl::Time ran;
  timers.Schedule(due, [&] {
    ran = absl::Now();
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_GE(ran, due);
}

TEST(TimerServiceTest, CancelledTimerNeverRuns) {
  TimerService timers;
  std::atomic<bool> ran{false};
  // Far enough ahead that it cannot come due before Cancel() however slow
  // the machine; a probe due after it shows when its time has passed.
  absl::Time due = absl::Now() + absl::Milliseconds(200);
  auto id = timers.Schedule(due, [&] { ran = true; });
  EXPECT_TRUE(timers.Cancel(id));
  EXPECT_FALSE(timers.Cancel(id));
  Notification probe;
  timers.Schedule(due + absl::Milliseconds(1), [&] { probe.Notify(); });
  ASSERT_TRUE(probe.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_FALSE(ran.load());
  EXPECT_EQ(timers.pending(), 0u);
}

TEST(TimerServiceTest, ManyTimersFromManyThreadsEachRunOnce) {
  TimerService timers;
  constexpr int kThreads = 4, kPerThread = 5000;
  std::atomic<int> runs{0};
  std::atomic<int> cancelled{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto id = timers.ScheduleAfter(absl::Microseconds(i % 500),
                                       [&] { runs.fetch_add(1); });
        if (i % 7 == t && timers.Cancel(id)) cancelled.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (runs.load() + cancelled.load() < kThreads * kPerThread &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(runs.load() + cancelled.load(), kThreads * kPerThread);
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(runs.load() + cancelled.load(), kThreads * kPerThread);
}

TEST(TimerServiceTest, ShutdownDropsPendingTimers) {
  std::atomic<bool> ran{false};
  {
    TimerService timers;
    timers.ScheduleAfter(absl::Seconds(30), [&] { ran = true; });
    timers.Shutdown();
    EXPECT_EQ(timers.Schedule(absl::Now(), [&] { ran = true; }), 0u);
  }
  EXPECT_FALSE(ran.load());
}

TEST(TimerServiceTest, CallbackMayScheduleAnother) {
  TimerService timers;
  Notification done;
  timers.ScheduleAfter(absl::Milliseconds(1), [&] {
    timers.ScheduleAfter(absl::Milliseconds(1), [&] { done.Notify(); });
  });
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(5)));
}

}  // namespace
}  // namespace jobgroup

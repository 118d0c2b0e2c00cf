// Tests of CancellationSignal.
#include "server/core/cancellation.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace jobgroup {
namespace {

TEST(CancellationSignalTest, CallbacksRunOnceWithTheFirstReason) {
  CancellationSignal signal;
  int runs = 0;
  absl::Status seen;
  signal.OnCancel([&](const absl::Status& why) {
    ++runs;
    seen = why;
  });
  EXPECT_FALSE(signal.IsCancelled());
  EXPECT_TRUE(signal.Cancel(absl::DeadlineExceededError("first")));
  EXPECT_FALSE(signal.Cancel(absl::CancelledError("second")));
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(seen.message(), "first");
  EXPECT_TRUE(absl::IsDeadlineExceeded(signal.reason()));
}

TEST(CancellationSignalTest, LateRegistrationRunsAtOnce) {
  CancellationSignal signal;
  signal.Cancel(absl::CancelledError("gone"));
  bool ran = false;
  EXPECT_EQ(signal.OnCancel([&](const absl::Status&) { ran = true; }), 0u);
  EXPECT_TRUE(ran);
}

TEST(CancellationSignalTest, RemovedCallbackNeverRuns) {
  CancellationSignal signal;
  bool ran = false;
  auto id = signal.OnCancel([&](const absl::Status&) { ran = true; });
  EXPECT_TRUE(signal.Remove(id));
  signal.Cancel(absl::CancelledError("x"));
  EXPECT_FALSE(ran);
  EXPECT_FALSE(signal.Remove(id));
}

TEST(CancellationSignalTest, RacingCancelsAndRegistrationsRunEachCallbackOnce) {
  for (int round = 0; round < 50; ++round) {
    CancellationSignal signal;
    std::atomic<int> runs{0};
    std::atomic<int> winners{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 50; ++i) {
          signal.OnCancel([&](const absl::Status&) { runs.fetch_add(1); });
        }
        if (signal.Cancel(absl::CancelledError("t"))) winners.fetch_add(1);
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(winners.load(), 1);
    EXPECT_EQ(runs.load(), 200);
  }
}

}  // namespace
}  // namespace jobgroup

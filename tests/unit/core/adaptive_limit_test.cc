// Tests of AdaptiveLimit with synthetic samples and a fake clock: the limit
// falls when the queueing delay rises above its long-term value, climbs back
// when it falls, stays within its bounds, and ignores what is not a signal.
#include "server/core/adaptive_limit.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace jobgroup {
namespace {

constexpr absl::Duration kNormal = absl::Milliseconds(1);
constexpr absl::Duration kQueued = absl::Milliseconds(20);

AdaptiveLimit::Options TestOptions() {
  AdaptiveLimit::Options o;
  o.min_limit = 10;
  o.max_limit = 100'000;
  o.delay_floor = absl::Microseconds(500);
  return o;
}

// Feeds `limit` one sample of `delay` every millisecond for `for_time`,
// starting at `*now` (advanced); `in_use` of -1 means "at the limit".
void Feed(AdaptiveLimit& limit, absl::Duration delay, int64_t in_use,
          absl::Duration for_time, absl::Time* now) {
  for (absl::Time end = *now + for_time; *now < end;
       *now += absl::Milliseconds(1)) {
    uint64_t used = in_use < 0 ? limit.limit() : static_cast<uint64_t>(in_use);
    limit.Observe(delay, used, *now);
  }
}

TEST(AdaptiveLimitTest, StartsAtTheMaximumAndAdmitsUnderIt) {
  AdaptiveLimit limit(TestOptions());
  EXPECT_EQ(limit.limit(), 100'000u);
  EXPECT_TRUE(limit.Admits(0));
  EXPECT_TRUE(limit.Admits(99'999));
  EXPECT_FALSE(limit.Admits(100'000));
}

TEST(AdaptiveLimitTest, StaysWhileTheDelayIsNormal) {
  AdaptiveLimit limit(TestOptions());
  absl::Time now = absl::UnixEpoch();
  Feed(limit, kNormal, 2000, absl::Seconds(5), &now);
  EXPECT_EQ(limit.limit(), 100'000u);
  EXPECT_EQ(limit.short_term(), kNormal);
  // From the floor (no queue) towards the normal delay, slowly.
  EXPECT_GT(limit.long_term(), absl::Microseconds(500));
  EXPECT_LE(limit.long_term(), kNormal);
}

TEST(AdaptiveLimitTest, FallsWhenTheDelayRisesAboveTheBaseline) {
  AdaptiveLimit limit(TestOptions());
  absl::Time now = absl::UnixEpoch();
  Feed(limit, kNormal, 2000, absl::Seconds(5), &now);
  // The first congested interval drops a limit far above what is in use
  // to about twice that; then each one takes a share off.
  Feed(limit, kQueued, 2000, absl::Milliseconds(60), &now);
  EXPECT_LE(limit.limit(), 4000u);
  EXPECT_GT(limit.limit(), 2000u);
  uint64_t before = limit.limit();
  Feed(limit, kQueued, -1, absl::Milliseconds(60), &now);
  EXPECT_LT(limit.limit(), before);
  // Kept congested, it falls below what was in flight: new calls are
  // refused until the queue drains.
  Feed(limit, kQueued, -1, absl::Seconds(1), &now);
  EXPECT_LT(limit.limit(), 2000u);
  EXPECT_FALSE(limit.Admits(2000));
  EXPECT_GT(limit.short_term(), limit.long_term());
}

TEST(AdaptiveLimitTest, FallsWhenCongestedFromTheFirstCall) {
  // The normal starts at "no queue" (the floor), not at the first samples:
  // a server overloaded from its start still sees the queue.
  AdaptiveLimit limit(TestOptions());
  absl::Time now = absl::UnixEpoch();
  Feed(limit, kQueued, 2000, absl::Seconds(1), &now);
  EXPECT_LT(limit.limit(), 2000u);
}

TEST(AdaptiveLimitTest, ClimbsBackWhenTheDelayFallsBack) {
  AdaptiveLimit limit(TestOptions());
  absl::Time now = absl::UnixEpoch();
  Feed(limit, kNormal, 2000, absl::Seconds(5), &now);
  Feed(limit, kQueued, 2000, absl::Seconds(2), &now);
  const uint64_t low = limit.limit();
  ASSERT_LT(low, 1000u);
  // The server uses what it is given, and the queue is gone.
  uint64_t last = low;
  for (int step = 0; step < 20; ++step) {
    Feed(limit, kNormal, -1, absl::Milliseconds(500), &now);
    EXPECT_GE(limit.limit(), last) << "step " << step;
    last = limit.limit();
  }
  EXPECT_GT(limit.limit(), 4 * low);
}

TEST(AdaptiveLimitTest, DoesNotClimbWhileLittleOfItIsInUse) {
  AdaptiveLimit limit(TestOptions());
  absl::Time now = absl::UnixEpoch();
  Feed(limit, kNormal, 2000, absl::Seconds(5), &now);
  Feed(limit, kQueued, 2000, absl::Seconds(1), &now);
  // The queue drains with little in flight (the first interval of it may
  // still count some queued samples).
  Feed(limit, kNormal, 1, absl::Milliseconds(100), &now);
  const uint64_t low = limit.limit();
  Feed(limit, kNormal, static_cast<int64_t>(low / 4), absl::Seconds(10), &now);
  EXPECT_EQ(limit.limit(), low);
}

TEST(AdaptiveLimitTest, StaysWithinItsBounds) {
  AdaptiveLimit limit(TestOptions());
  absl::Time now = absl::UnixEpoch();
  Feed(limit, kNormal, 2000, absl::Seconds(1), &now);
  // Ever worse delays: down to the minimum, never under it.
  for (int i = 1; i <= 50; ++i) {
    Feed(limit, kQueued * i, -1, absl::Milliseconds(200), &now);
    EXPECT_GE(limit.limit(), 10u);
  }
  EXPECT_EQ(limit.limit(), 10u);
  EXPECT_TRUE(limit.Admits(0));  // A call is always admitted to an idle server.
  // Then no queue at all, for long: up to the maximum, never over it.
  Feed(limit, absl::ZeroDuration(), -1, absl::Seconds(600), &now);
  EXPECT_EQ(limit.limit(), 100'000u);
}

TEST(AdaptiveLimitTest, DelaysUnderTheFloorAreNotASignal) {
  AdaptiveLimit limit(TestOptions());
  absl::Time now = absl::UnixEpoch();
  // Waking a worker: from a few microseconds to most of the floor, at
  // random; the limit holds at its maximum.
  Feed(limit, absl::Microseconds(5), 100'000, absl::Seconds(1), &now);
  for (int i = 0; i < 2000; ++i) {
    limit.Observe(absl::Microseconds((i * 7919) % 500), 100'000, now);
    now += absl::Milliseconds(1);
  }
  EXPECT_EQ(limit.limit(), 100'000u);
}

TEST(AdaptiveLimitTest, ChangesAtMostOncePerInterval) {
  AdaptiveLimit limit(TestOptions());
  absl::Time now = absl::UnixEpoch();
  Feed(limit, kNormal, 2000, absl::Seconds(1), &now);
  // Closes the window the feed left open; the next starts with a sample.
  limit.Observe(kNormal, 2000, now + absl::Milliseconds(100));
  const absl::Time start = now + absl::Milliseconds(200);
  // Many congested samples inside one interval: no change until its end.
  for (int i = 0; i < 1000; ++i) {
    limit.Observe(kQueued, 2000, start + absl::Microseconds(49 * i));
  }
  EXPECT_EQ(limit.limit(), 100'000u);
  limit.Observe(kQueued, 2000, start + absl::Milliseconds(50));
  EXPECT_LT(limit.limit(), 100'000u);
}

TEST(AdaptiveLimitTest, ASustainedQueueDoesNotBecomeTheBaselineQuickly) {
  AdaptiveLimit limit(TestOptions());
  absl::Time now = absl::UnixEpoch();
  Feed(limit, kNormal, 2000, absl::Seconds(5), &now);
  Feed(limit, kQueued, 2000, absl::Seconds(1), &now);
  // Thirty seconds of a server held at its limit with a long queue: the
  // limit keeps it under what was in flight the whole time.
  for (int second = 0; second < 30; ++second) {
    Feed(limit, kQueued, -1, absl::Seconds(1), &now);
    EXPECT_LT(limit.limit(), 2000u) << "second " << second;
  }
  EXPECT_LT(limit.long_term(), 2 * kQueued / 3);
}

TEST(AdaptiveLimitTest, ConcurrentObserversKeepItWithinBounds) {
  AdaptiveLimit limit(TestOptions());
  const absl::Time start = absl::UnixEpoch();
  std::atomic<int64_t> clock_ms{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20'000; ++i) {
        absl::Time now = start + absl::Milliseconds(clock_ms.fetch_add(1));
        absl::Duration d = (i / 2000 + t) % 2 == 0 ? kNormal : kQueued;
        limit.Observe(d, limit.limit(), now);
        uint64_t l = limit.limit();
        ASSERT_GE(l, 10u);
        ASSERT_LE(l, 100'000u);
      }
    });
  }
  for (std::thread& th : threads) th.join();
}

}  // namespace
}  // namespace jobgroup

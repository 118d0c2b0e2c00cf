// Tests of BoundedQueue: capacity, parking, close and MPMC races.
#include "server/core/bounded_queue.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace jobgroup {
namespace {

using Q = BoundedQueue<int>;

TEST(BoundedQueueTest, FullQueueRefusesPush) {
  Q q(2);
  int a = 1, b = 2, c = 3;
  EXPECT_EQ(q.Push(a), Q::PushResult::kOk);
  EXPECT_EQ(q.Push(b), Q::PushResult::kOk);
  EXPECT_EQ(q.Push(c), Q::PushResult::kFull);
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(*q.Pop(), 1);
  EXPECT_EQ(*q.Pop(), 2);
}

TEST(BoundedQueueTest, ParkedItemsEnterInArrivalOrderAheadOfLaterPushes) {
  Q q(1);
  for (int i = 0; i < 4; ++i) {
    int v = i;
    EXPECT_EQ(q.PushOrPark(v),
              i == 0 ? Q::PushResult::kOk : Q::PushResult::kParked);
  }
  EXPECT_EQ(q.size(), 1u);  // The capacity holds: the rest are parked.
  EXPECT_EQ(q.parked(), 3u);
  int late = 99;
  EXPECT_EQ(q.Push(late), Q::PushResult::kFull);  // No jumping the line.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(*q.Pop(), i);
  EXPECT_FALSE(q.TryPop().has_value());
}

TEST(BoundedQueueTest, CloseDrainsThenEnds) {
  Q q(1);
  int a = 1, b = 2, c = 3;
  q.PushOrPark(a);
  q.PushOrPark(b);
  q.Close();
  EXPECT_EQ(q.Push(c), Q::PushResult::kClosed);
  EXPECT_EQ(q.PushOrPark(c), Q::PushResult::kClosed);
  EXPECT_EQ(*q.Pop(), 1);
  EXPECT_EQ(*q.Pop(), 2);
  EXPECT_FALSE(q.Pop().has_value());
}

TEST(BoundedQueueTest, CloseWakesBlockedConsumers) {
  Q q(4);
  std::vector<std::thread> consumers;
  std::atomic<int> ended{0};
  for (int i = 0; i < 3; ++i) {
    consumers.emplace_back([&] {
      EXPECT_FALSE(q.Pop().has_value());
      ended.fetch_add(1);
    });
  }
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(ended.load(), 0);
  q.Close();
  for (auto& t : consumers) t.join();
  EXPECT_EQ(ended.load(), 3);
}

TEST(BoundedQueueTest, ManyProducersAndConsumersDeliverEachItemOnce) {
  constexpr int kProducers = 4, kConsumers = 3, kPerProducer = 20000;
  Q q(64);
  std::vector<std::atomic<int>> seen(kProducers * kPerProducer);
  std::atomic<size_t> max_size{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&] {
      while (auto v = q.Pop()) {
        seen[*v].fetch_add(1);
        size_t s = q.size();
        size_t m = max_size.load();
        while (s > m && !max_size.compare_exchange_weak(m, s)) {
        }
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        int v = p * kPerProducer + i;
        ASSERT_NE(q.PushOrPark(v), Q::PushResult::kClosed);
      }
    });
  }
  for (auto& t : producers) t.join();
  q.Close();
  for (auto& t : threads) t.join();
  for (auto& s : seen) ASSERT_EQ(s.load(), 1);
  EXPECT_LE(max_size.load(), 64u);
}

}  // namespace
}  // namespace jobgroup

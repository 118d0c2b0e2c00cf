// Tests of ThreadShards, ShardedCounter, ShardedHistogram and ShardedFamily:
// they expose what prometheus-cpp's own types expose for the same
// observations, and count every observation of threads racing, coming and
// going. Also built with ThreadSanitizer (see CMakeLists.txt).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <latch>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "server/service/sharded_counter.h"
#include "server/service/sharded_family.h"
#include "server/service/sharded_histogram.h"
#include "server/service/thread_shards.h"

namespace jobgroup {
namespace {

// jobgroup's job buckets (metrics.cc).
const std::vector<double> kBuckets = {
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1,      2.5,    5,     10,    30,   60,    120,  300, 600};

// Every bucket bound, values between and beyond them, zero and a negative.
std::vector<double> Observations() {
  std::vector<double> v = {-1, 0, 1e-9, 0.00011, 0.3, 7, 601, 1e9};
  for (double b : kBuckets) {
    v.push_back(b);
    v.push_back(std::nextafter(b, 0.0));
    v.push_back(std::nextafter(b, 1e300));
  }
  return v;
}

std::string Text(std::vector<prometheus::MetricFamily> families) {
  // prometheus::Family keeps its series in an unordered_map: put both sides
  // in label order.
  for (auto& f : families) {
    std::sort(f.metric.begin(), f.metric.end(),
              [](const auto& a, const auto& b) { return a.label < b.label; });
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

void ExpectSameHistogram(const prometheus::ClientMetric& want,
                         const prometheus::ClientMetric& got) {
  ASSERT_EQ(got.histogram.bucket.size(), want.histogram.bucket.size());
  for (size_t i = 0; i < want.histogram.bucket.size(); ++i) {
    EXPECT_EQ(got.histogram.bucket[i].upper_bound,
              want.histogram.bucket[i].upper_bound)
        << i;
    EXPECT_EQ(got.histogram.bucket[i].cumulative_count,
              want.histogram.bucket[i].cumulative_count)
        << "bucket le=" << want.histogram.bucket[i].upper_bound;
  }
  EXPECT_EQ(got.histogram.sample_count, want.histogram.sample_count);
  EXPECT_EQ(got.histogram.sample_sum, want.histogram.sample_sum);
}

TEST(ShardedHistogramTest, CollectsWhatPrometheusHistogramCollects) {
  prometheus::Histogram plain(kBuckets);
  ShardedHistogram sharded(kBuckets);
  for (double v : Observations()) {
    plain.Observe(v);
    sharded.Observe(v);
  }
  ExpectSameHistogram(plain.Collect(), sharded.Collect());
}

TEST(ShardedHistogramTest, ABoundIsInItsOwnBucket) {
  ShardedHistogram h({1, 2, 5});
  h.Observe(1);                         // le="1": le is inclusive.
  h.Observe(std::nextafter(1.0, 2.0));  // le="2"
  h.Observe(2);                         // le="2"
  h.Observe(5);                         // le="5"
  h.Observe(std::nextafter(5.0, 6.0));  // le="+Inf"
  h.Observe(-3);                        // le="1"
  prometheus::ClientMetric m = h.Collect();
  ASSERT_EQ(m.histogram.bucket.size(), 4u);
  EXPECT_EQ(m.histogram.bucket[0].upper_bound, 1);
  EXPECT_EQ(m.histogram.bucket[0].cumulative_count, 2u);
  EXPECT_EQ(m.histogram.bucket[1].upper_bound, 2);
  EXPECT_EQ(m.histogram.bucket[1].cumulative_count, 4u);
  EXPECT_EQ(m.histogram.bucket[2].upper_bound, 5);
  EXPECT_EQ(m.histogram.bucket[2].cumulative_count, 5u);
  EXPECT_EQ(m.histogram.bucket[3].upper_bound,
            std::numeric_limits<double>::infinity());
  EXPECT_EQ(m.histogram.bucket[3].cumulative_count, 6u);
  EXPECT_EQ(m.histogram.sample_count, 6u);
}

TEST(ShardedHistogramTest, NaNIsCountedAsPrometheusHistogramCountsIt) {
  prometheus::Histogram plain({1, 2});
  ShardedHistogram sharded({1, 2});
  for (double v : {3.0, std::numeric_limits<double>::quiet_NaN()}) {
    plain.Observe(v);
    sharded.Observe(v);
  }
  prometheus::ClientMetric want = plain.Collect();
  prometheus::ClientMetric got = sharded.Collect();
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got.histogram.bucket[i].cumulative_count,
              want.histogram.bucket[i].cumulative_count);
  }
  EXPECT_EQ(got.histogram.bucket[0].cumulative_count, 1u);
  EXPECT_TRUE(std::isnan(got.histogram.sample_sum));
}

TEST(ShardedHistogramTest, EmptyHasZeroBucketsCountAndSum) {
  prometheus::Histogram plain(kBuckets);
  ShardedHistogram sharded(kBuckets);
  ExpectSameHistogram(plain.Collect(), sharded.Collect());
}

TEST(ShardedFamilyTest, ExposesTheTextARegistryExposes) {
  prometheus::Registry registry;
  auto& plain_jobs = prometheus::BuildCounter()
                         .Name("jobgroup_jobs_total")
                         .Help("Jobs by kind and outcome.")
                         .Register(registry);
  auto& plain_run = prometheus::BuildHistogram()
                        .Name("jobgroup_job_run_seconds")
                        .Help("Time a job's handler ran.")
                        .Register(registry);
  ShardedFamily<ShardedCounter> jobs("jobgroup_jobs_total",
                                     "Jobs by kind and outcome.");
  ShardedFamily<ShardedHistogram> run("jobgroup_job_run_seconds",
                                      "Time a job's handler ran.");
  uint64_t n = 0;
  for (const char* kind : {"echo", "sleep", "unknown"}) {
    for (const char* outcome : {"succeeded", "failed", "rejected"}) {
      prometheus::Labels l = {{"outcome", outcome}, {"kind", kind}};
      ++n;
      plain_jobs.Add(l).Increment(static_cast<double>(n * 1000003));
      jobs.Add(l).Increment(n * 1000003);
    }
    prometheus::Labels l = {{"kind", kind}};
    for (double v : Observations()) {
      plain_run.Add(l, kBuckets).Observe(v * static_cast<double>(n));
      run.Add(l, kBuckets).Observe(v * static_cast<double>(n));
    }
  }
  // The registry collects counters, then histograms.
  std::vector<prometheus::MetricFamily> sharded = jobs.Collect();
  for (auto& f : run.Collect()) sharded.push_back(std::move(f));
  std::string want = Text(registry.Collect());
  EXPECT_EQ(Text(sharded), want);
  EXPECT_NE(want.find("# TYPE jobgroup_job_run_seconds histogram"),
            std::string::npos);
  EXPECT_NE(
      want.find(
          "jobgroup_jobs_total{kind=\"echo\",outcome=\"failed\"} 2000006"),
      std::string::npos)
      << want;
}

TEST(ShardedFamilyTest, HasNoFamilyUntilItHasASeries) {
  ShardedFamily<ShardedCounter> f("x_total", "X.");
  EXPECT_TRUE(f.Collect().empty());
  f.Add({{"a", "1"}});
  EXPECT_EQ(f.Collect().size(), 1u);
}

TEST(ShardedFamilyTest, AddingTheSameLabelsAgainGivesTheSameSeries) {
  ShardedFamily<ShardedHistogram> f("x_seconds", "X.");
  ShardedHistogram& a = f.Add({{"kind", "echo"}}, kBuckets);
  ShardedHistogram& b = f.Add({{"kind", "echo"}}, std::vector<double>{1});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(f.Collect()[0].metric.size(), 1u);
}

// Threads observe at once while a reader collects: no observation is lost,
// counts never go down, and the count always equals the +Inf bucket.
TEST(ShardedHistogramTest, ObservationsOfRacingThreadsAreAllCounted) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50000;
  ShardedHistogram h({1, 2});
  ShardedCounter c;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    uint64_t last_count = 0;
    uint64_t last_counter = 0;
    while (!done.load()) {
      prometheus::ClientMetric m = h.Collect();
      EXPECT_GE(m.histogram.sample_count, last_count);
      EXPECT_EQ(m.histogram.sample_count,
                m.histogram.bucket.back().cumulative_count);
      last_count = m.histogram.sample_count;
      uint64_t v = c.Value();
      EXPECT_GE(v, last_counter);
      last_counter = v;
    }
  });
  std::latch start(kThreads);
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        // Values whose sums are exact in a double.
        h.Observe(i % 2 == 0 ? 0.5 : 4);
        c.Increment(t + 1);
      }
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  reader.join();
  prometheus::ClientMetric m = h.Collect();
  EXPECT_EQ(m.histogram.bucket[0].cumulative_count, kThreads * kPerThread / 2);
  EXPECT_EQ(m.histogram.bucket[1].cumulative_count, kThreads * kPerThread / 2);
  EXPECT_EQ(m.histogram.bucket[2].cumulative_count, kThreads * kPerThread);
  EXPECT_EQ(m.histogram.sample_count, kThreads * kPerThread);
  EXPECT_EQ(m.histogram.sample_sum, kThreads * kPerThread / 2 * 4.5);
  EXPECT_EQ(c.Value(), uint64_t{kPerThread} * kThreads * (kThreads + 1) / 2);
}

// Each thread exits before the next starts: each gets a shard of its own
// (indexes are given back, so many more threads than kShards never run
// out), and every count stays after its thread is gone.
TEST(ThreadShardsTest, ThreadsThatExitLeaveTheirCounts) {
  constexpr int kThreads = 3 * ThreadShards::kShards;
  ShardedCounter c;
  ShardedHistogram h({1});
  int own = 0;
  for (int t = 0; t < kThreads; ++t) {
    bool has_own = false;
    std::thread([&] {
      has_own = ThreadShards::ThisThreadHasOwnShard();
      c.Increment(10);
      h.Observe(0.5);
      h.Observe(1.5);
    }).join();
    own += has_own;
  }
  EXPECT_EQ(own, kThreads);
  EXPECT_EQ(c.Value(), uint64_t{10} * kThreads);
  prometheus::ClientMetric m = h.Collect();
  EXPECT_EQ(m.histogram.bucket[0].cumulative_count, uint64_t{kThreads});
  EXPECT_EQ(m.histogram.sample_count, uint64_t{2} * kThreads);
  EXPECT_EQ(m.histogram.sample_sum, 2.0 * kThreads);
}

// More threads than shards live at once: those without a shard of their
// own share the overflow shard, and still count every increment.
TEST(ThreadShardsTest, ThreadsBeyondTheShardsShareOneAndLoseNothing) {
  constexpr int kThreads = ThreadShards::kShards + 16;
  constexpr int kPerThread = 20000;
  ShardedCounter c;
  ShardedHistogram h({1});
  std::atomic<int> overflow{0};
  std::latch all_hold_a_shard(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      if (!ThreadShards::ThisThreadHasOwnShard()) overflow.fetch_add(1);
      all_hold_a_shard.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        c.Increment();
        h.Observe(0.25);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GE(overflow.load(), kThreads - ThreadShards::kShards);
  EXPECT_EQ(c.Value(), uint64_t{kThreads} * kPerThread);
  prometheus::ClientMetric m = h.Collect();
  EXPECT_EQ(m.histogram.sample_count, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(m.histogram.sample_sum, 0.25 * kThreads * kPerThread);
  // Their indexes are back: a new thread has its own shard again.
  bool has_own = false;
  std::thread([&] { has_own = ThreadShards::ThisThreadHasOwnShard(); }).join();
  EXPECT_TRUE(has_own);
}

TEST(ThreadShardsTest, CellsOfOneShardAreIndependent) {
  ThreadShards s(11);  // Not a whole number of cache lines.
  s.Add(0, 1);
  s.Add(10, 7);
  s.AddDouble(5, 0.5);
  s.AddDouble(5, 0.25);
  std::thread([&] {
    s.Add(10, 1);
    s.AddDouble(5, 1);
  }).join();
  EXPECT_EQ(s.Sum(0), 1u);
  EXPECT_EQ(s.Sum(1), 0u);
  EXPECT_EQ(s.Sum(10), 8u);
  EXPECT_EQ(s.SumDouble(5), 1.75);
}

}  // namespace
}  // namespace jobgroup

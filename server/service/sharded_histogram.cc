// Implementation of ShardedHistogram.
#include "server/service/sharded_histogram.h"

#include <algorithm>
#include <cassert>
#include <functional>
#include <limits>
#include <utility>

namespace jobgroup {

ShardedHistogram::ShardedHistogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), shards_(bounds_.size() + 2) {
  assert(std::adjacent_find(bounds_.begin(), bounds_.end(),
                            std::greater_equal<double>()) == bounds_.end());
}

prometheus::ClientMetric ShardedHistogram::Collect() const {
  prometheus::ClientMetric m;
  m.histogram.bucket.reserve(bounds_.size() + 1);
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += shards_.Sum(kFirstBucketCell + i);
    prometheus::ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound = i == bounds_.size()
                        ? std::numeric_limits<double>::infinity()
                        : bounds_[i];
    m.histogram.bucket.push_back(b);
  }
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = shards_.SumDouble(kSumCell);
  return m;
}

}  // namespace jobgroup

// ShardedHistogram: a Prometheus histogram for hot paths. Its bucket counts
// and sum live in ThreadShards, so that threads observing at once take no
// lock and share no cache line (prometheus::Histogram takes a mutex per
// observation). Exposed through a ShardedFamily with the same exposition as
// prometheus::Histogram: the same buckets (upper bounds inclusive, then
// +Inf), cumulative counts, sum and count.
//
// Thread-safe. Observe() is lock-free. Collect() sums the shards: its
// buckets and count always agree with each other, but an Observe() running
// at the same time may show in the sum and not yet in the counts, or the
// other way round (see ThreadShards).
#ifndef JOBGROUP_SERVER_SERVICE_SHARDED_HISTOGRAM_H_
#define JOBGROUP_SERVER_SERVICE_SHARDED_HISTOGRAM_H_

#include <vector>

#include "prometheus/client_metric.h"
#include "prometheus/metric_type.h"
#include "server/service/thread_shards.h"

namespace jobgroup {

class ShardedHistogram {
 public:
  static constexpr prometheus::MetricType kType =
      prometheus::MetricType::Histogram;

  // `bounds` are the buckets' upper bounds, strictly increasing (a +Inf
  // bucket follows them), as for prometheus::Histogram.
  explicit ShardedHistogram(std::vector<double> bounds);
  ShardedHistogram(const ShardedHistogram&) = delete;
  ShardedHistogram& operator=(const ShardedHistogram&) = delete;

  // ShardedHistogram::Observe()
  //
  // Counts `value` in the first bucket whose bound is >= value (the +Inf
  // bucket when none is; the first bucket for NaN) and adds it to the sum.
  void Observe(double value) {
    // The first bound not below `value`, as prometheus::Histogram's
    // lower_bound finds it, but scanned from the lowest: where the cost
    // matters (fast jobs) values sit in the first buckets, so this stops
    // after a compare or two and mispredicts at most once.
    size_t bucket = 0;
    while (bucket < bounds_.size() && bounds_[bucket] < value) ++bucket;
    shards_.AddDouble(kSumCell, value);
    shards_.Add(kFirstBucketCell + bucket, 1);
  }

  // ShardedHistogram::Collect()
  //
  // The histogram as prometheus::Histogram::Collect() gives it (labels
  // unset).
  prometheus::ClientMetric Collect() const;

 private:
  // The sum (a double) and then each bucket's own (not cumulative) count:
  // the low buckets, where fast jobs land, share the sum's cache line.
  static constexpr size_t kSumCell = 0;
  static constexpr size_t kFirstBucketCell = 1;

  const std::vector<double> bounds_;
  ThreadShards shards_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_SHARDED_HISTOGRAM_H_

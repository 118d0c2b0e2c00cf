// ShardedCounter: a Prometheus counter of whole numbers for hot paths, kept
// in ThreadShards so that threads counting at once never share a cache line.
// Exposed through a ShardedFamily, as prometheus::Counter is through its
// Family, with the same exposition.
//
// Thread-safe. Increment() is lock-free and costs a load and a store on the
// calling thread's own cache line; Value() and Collect() sum the shards (see
// ThreadShards for what they see of concurrent increments).
#ifndef JOBGROUP_SERVER_SERVICE_SHARDED_COUNTER_H_
#define JOBGROUP_SERVER_SERVICE_SHARDED_COUNTER_H_

#include <cstdint>

#include "prometheus/client_metric.h"
#include "prometheus/metric_type.h"
#include "server/service/thread_shards.h"

namespace jobgroup {

class ShardedCounter {
 public:
  static constexpr prometheus::MetricType kType =
      prometheus::MetricType::Counter;

  ShardedCounter() : shards_(1) {}
  ShardedCounter(const ShardedCounter&) = delete;
  ShardedCounter& operator=(const ShardedCounter&) = delete;

  void Increment(uint64_t n = 1) { shards_.Add(0, n); }
  uint64_t Value() const { return shards_.Sum(0); }

  // ShardedCounter::Collect()
  //
  // The value as prometheus::Counter::Collect() gives it (labels unset).
  prometheus::ClientMetric Collect() const {
    prometheus::ClientMetric m;
    m.counter.value = static_cast<double>(Value());
    return m;
  }

 private:
  ThreadShards shards_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_SHARDED_COUNTER_H_

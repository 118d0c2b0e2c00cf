// ShardedFamily: one Prometheus metric family (name, help, type) of
// ShardedCounter or ShardedHistogram series, one per label set. It is a
// prometheus::Collectable, to register on a prometheus::Exposer beside a
// prometheus::Registry, and exposes its series as prometheus::Family does
// (labels in name order, no family when it has no series).
//
// Thread-safe. Add() and Collect() take a mutex, so series are best added
// up front and their pointers kept: recording through them takes none.
#ifndef JOBGROUP_SERVER_SERVICE_SHARDED_FAMILY_H_
#define JOBGROUP_SERVER_SERVICE_SHARDED_FAMILY_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "prometheus/collectable.h"
#include "prometheus/labels.h"
#include "prometheus/metric_family.h"
#include "server/core/mutex.h"

namespace jobgroup {

// `Metric` is ShardedCounter or ShardedHistogram.
template <class Metric>
class ShardedFamily : public prometheus::Collectable {
 public:
  ShardedFamily(std::string name, std::string help)
      : name_(std::move(name)), help_(std::move(help)) {}
  ShardedFamily(const ShardedFamily&) = delete;
  ShardedFamily& operator=(const ShardedFamily&) = delete;

  // ShardedFamily::Add()
  //
  // The series labelled `labels`, made from `args` (a ShardedHistogram's
  // bounds) if it is new; `args` are ignored when it exists. The series
  // lives as long as the family.
  template <class... Args>
  Metric& Add(const prometheus::Labels& labels, Args&&... args) {
    MutexLock lock(&mu_);
    std::unique_ptr<Metric>& m = series_[labels];
    if (!m) m = std::make_unique<Metric>(std::forward<Args>(args)...);
    return *m;
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    MutexLock lock(&mu_);
    if (series_.empty()) return {};
    prometheus::MetricFamily f;
    f.name = name_;
    f.help = help_;
    f.type = Metric::kType;
    f.metric.reserve(series_.size());
    for (const auto& [labels, metric] : series_) {
      prometheus::ClientMetric m = metric->Collect();
      for (const auto& [name, value] : labels) m.label.push_back({name, value});
      f.metric.push_back(std::move(m));
    }
    std::vector<prometheus::MetricFamily> out;
    out.push_back(std::move(f));
    return out;
  }

 private:
  const std::string name_;
  const std::string help_;
  mutable Mutex mu_;
  std::map<prometheus::Labels, std::unique_ptr<Metric>> series_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_SHARDED_FAMILY_H_

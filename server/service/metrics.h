// ServerMetrics: jobgroupd's Prometheus metrics (prometheus-cpp), and the
// HTTP endpoint that serves them.
//
// Label values come only from configuration and code (kinds, backends,
// methods, gRPC codes, outcomes), never from client strings, so the number
// of series is bounded. Live values (queue depth, workers, backends,
// process figures) are read at scrape time by a collector, costing the hot
// path nothing.
//
// Thread-safe after construction.
#ifndef JOBGROUP_SERVER_SERVICE_METRICS_H_
#define JOBGROUP_SERVER_SERVICE_METRICS_H_

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/core/backends.h"
#include "server/core/dispatcher.h"
#include "server/core/job.h"
#include "server/core/job_kind.h"
#include "server/core/job_task.h"
#include "server/core/worker_pool.h"

namespace jobgroup {

// The RPCs, for per-method series.
enum class Method { kRunBatch, kStreamBatch, kProcess, kGetServerInfo };
inline constexpr int kMethodCount = 4;
const char* MethodName(Method m);

// Values the collector reads at scrape time. Every pointer must outlive the
// metrics.
struct LiveSources {
  const WorkerPool* workers = nullptr;
  const BackendSet* backends = nullptr;
  const Dispatcher* dispatcher = nullptr;
  const std::atomic<int64_t>* jobs_in_flight = nullptr;
};

class ServerMetrics : public DispatchObserver, public JobTaskObserver {
 public:
  ServerMetrics(const KindRegistry& kinds, LiveSources live,
                const std::string& version);
  ~ServerMetrics() override;
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // Also reports `dispatcher`'s abandoned handlers; call before Serve().
  void WatchDispatcher(const Dispatcher* dispatcher);

  // ServerMetrics::Serve()
  //
  // Serves /metrics on `address` (host:port). Errors when it cannot bind.
  // Until it is called nothing is recorded: with no endpoint (empty
  // --metrics_listen) the hot path pays nothing for metrics, which is also
  // how the benchmarks measure their cost.
  absl::Status Serve(const std::string& address);
  // The port /metrics is served on (after Serve()).
  int port() const;

  // gRPC call metrics, named as grpc-ecosystem's interceptors name them.
  void CallStarted(Method m);
  void CallHandled(Method m, int grpc_code, absl::Duration took);
  void MessagesReceived(Method m, uint64_t n);
  void MessagesSent(Method m, uint64_t n);

  // One job's result. `kind` names a registered kind.
  void JobFinished(absl::string_view kind, const JobResult& result);

  // One call's end: its result label and size.
  void BatchFinished(Method m, const BatchSummary& summary);
  void Rejected(absl::string_view reason);

  // DispatchObserver and JobTaskObserver.
  void OnPermitWait(const Semaphore& backend, absl::Duration waited) override;
  void OnRetry(const JobSpec& job) override;
  void OnFallbackServed(const JobSpec& primary, uint32_t served_by) override;
  void OnHandlerStart(const JobSpec& job, absl::Duration queued) override;

  prometheus::Registry& registry() { return *registry_; }

 private:
  struct KindSeries {
    std::array<prometheus::Counter*, kJobOutcomeCount> outcomes{};
    prometheus::Histogram* run = nullptr;
    prometheus::Histogram* queue_wait = nullptr;
    prometheus::Counter* attempts = nullptr;
    prometheus::Counter* retries = nullptr;
    prometheus::Counter* fallbacks_served = nullptr;
  };
  struct MethodSeries {
    prometheus::Counter* started = nullptr;
    prometheus::Histogram* handling = nullptr;
    prometheus::Counter* received = nullptr;
    prometheus::Counter* sent = nullptr;
    std::array<prometheus::Counter*, 17> handled{};  // By gRPC code.
    std::array<prometheus::Counter*, 4> batches{};   // By BatchResult.
    prometheus::Histogram* batch_jobs = nullptr;
    prometheus::Histogram* batch_duration = nullptr;
    prometheus::Counter* deadline_expiries = nullptr;
    prometheus::Counter* failfast = nullptr;
  };
  class LiveCollector;

  KindSeries* Kind(absl::string_view name);

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<LiveCollector> live_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  absl::flat_hash_map<std::string, KindSeries> kinds_;
  std::array<MethodSeries, kMethodCount> methods_;
  absl::flat_hash_map<std::string, prometheus::Histogram*> backend_wait_;
  absl::flat_hash_map<std::string, prometheus::Counter*> rejected_;
  prometheus::Counter* rejected_other_ = nullptr;
  bool enabled_ = false;  // Set by Serve(), before any call is served.
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_METRICS_H_

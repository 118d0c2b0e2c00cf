// ServerMetrics: jobgroupd's Prometheus metrics (prometheus-cpp), and the
// HTTP endpoint that serves them with the status page (StatusHttpServer:
// /, /metrics, /statusz, /statusz.json).
//
// Label values come only from configuration and code (kinds, backends,
// methods, gRPC codes, outcomes), never from client strings, so the number
// of series is bounded. Live values (queue depth, workers, backends,
// process figures) are read at scrape time by a collector, costing the hot
// path nothing. What is recorded once or more per job (jobs, attempts, run,
// queue and permit waits) goes to ShardedCounter and ShardedHistogram
// series, which take no lock and share no cache line between threads, found
// by the job's resolved JobKind and Semaphore rather than by name; the rest
// (per call, or rare) uses prometheus-cpp's own types.
//
// Thread-safe after construction.
#ifndef JOBGROUP_SERVER_SERVICE_METRICS_H_
#define JOBGROUP_SERVER_SERVICE_METRICS_H_

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "jobgroup/admin/v1/admin.pb.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/core/adaptive_limit.h"
#include "server/core/backends.h"
#include "server/core/executor.h"
#include "server/core/job.h"
#include "server/core/job_kind.h"
#include "server/core/memory_budget.h"
#include "server/core/task_group.h"
#include "server/core/worker_pool.h"
#include "server/service/sharded_counter.h"
#include "server/service/sharded_histogram.h"
#include "server/service/stream_limit.h"

namespace jobgroup {

class StatusHttpServer;

// The RPCs, for per-method series.
enum class Method { kRunBatch, kStreamBatch, kProcess, kGetServerInfo };
inline constexpr int kMethodCount = 4;
const char* MethodName(Method m);

// Values the collector reads at scrape time. Every pointer must outlive the
// metrics.
struct LiveSources {
  const WorkerPool* workers = nullptr;
  const BackendSet* backends = nullptr;
  const Executor* executor = nullptr;
  const std::atomic<int64_t>* jobs_in_flight = nullptr;
  const StreamLimit* streams = nullptr;
  const MemoryBudget* memory = nullptr;
  const AdaptiveLimit* adaptive = nullptr;  // Null unless --adaptive_limit.
};

class ServerMetrics : public ExecutorObserver, public AttemptObserver {
 public:
  ServerMetrics(const KindRegistry& kinds, LiveSources live,
                const std::string& version);
  ~ServerMetrics() override;
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // Also reports `executor`'s abandoned handlers; call before Serve().
  void WatchExecutor(const Executor* executor);

  // ServerMetrics::Serve()
  //
  // Serves /metrics, the status page (/statusz, /statusz.json) and an
  // index (/) on `address` (host:port). Errors when it cannot bind.
  // Until it is called nothing is recorded: with no endpoint (empty
  // --metrics_listen) the hot path pays nothing for metrics, which is also
  // how the benchmarks measure their cost.
  absl::Status Serve(const std::string& address);
  // The port /metrics is served on (after Serve()).
  int port() const;

  // What /statusz and /statusz.json show: `source` is called on the HTTP
  // server's threads, once per page request (several at once), so it must
  // be safe from any thread. Unset (or empty), the pages say "status not
  // available". May be called before or after Serve(), from any thread;
  // it waits for calls of the previous source in progress, so whatever a
  // source reads may go once SetStatusSource(nullptr) has returned (or the
  // metrics are destroyed). `source` must not call SetStatusSource().
  void SetStatusSource(std::function<admin::v1::ServerSnapshot()> source);

  // gRPC call metrics, named as grpc-ecosystem's interceptors name them.
  void CallStarted(Method m);
  void CallHandled(Method m, int grpc_code, absl::Duration took);
  void MessagesReceived(Method m, uint64_t n);
  void MessagesSent(Method m, uint64_t n);

  // One job's result. `kind` names a registered kind; the series is found by
  // `result.kind` when it is set (it is then that kind), by `kind` when not.
  void JobFinished(absl::string_view kind, const JobResult& result);

  // One call's end: its result label and size.
  void BatchFinished(Method m, const BatchSummary& summary);
  void Rejected(absl::string_view reason);
  // A Process stream stopped reading until the memory budget had room.
  void StreamPausedForMemory();

  // ExecutorObserver and AttemptObserver.
  void OnPermitWait(const Semaphore& backend, absl::Duration waited) override;
  void OnRetry(const JobSpec& job) override;
  void OnFallbackServed(const JobSpec& primary, uint32_t served_by) override;
  void OnHandlerStart(const JobSpec& job, absl::Duration queued) override;

  prometheus::Registry& registry() { return *registry_; }

 private:
  struct KindSeries {
    // Per job: sharded.
    std::array<ShardedCounter*, kJobOutcomeCount> outcomes{};
    ShardedHistogram* run = nullptr;
    ShardedHistogram* queue_wait = nullptr;
    ShardedCounter* attempts = nullptr;
    // Rare: in registry_.
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

  // The series of the registry's kind `kind`; null for null or a stranger.
  KindSeries* Kind(const JobKind* kind);
  // The series of the kind named `name`, else of "unknown".
  KindSeries* KindNamed(absl::string_view name);
  // The series of `job`'s kind, by job.resolved_kind, else by job.kind
  // (read only then: on a worker the JobSpec's lines may be cold).
  KindSeries* KindOf(const JobSpec& job);

  std::shared_ptr<prometheus::Registry> registry_;
  // The sharded families, exposed beside registry_.
  std::vector<std::shared_ptr<prometheus::Collectable>> sharded_;
  std::shared_ptr<LiveCollector> live_;
  // The status source; read per page request.
  absl::Mutex status_mu_;
  std::function<admin::v1::ServerSnapshot()> status_source_
      ABSL_GUARDED_BY(status_mu_);
  std::unique_ptr<StatusHttpServer> http_;
  // By kind name; "" is kind="unknown". Filled by the constructor only.
  absl::flat_hash_map<std::string, KindSeries> kinds_;
  // The same series by the registry's JobKind, for the hot path. A server
  // has a handful of kinds: scanning a few pointers beats hashing anything.
  std::vector<std::pair<const JobKind*, KindSeries*>> kinds_by_kind_;
  std::array<MethodSeries, kMethodCount> methods_;
  // By the BackendSet's Semaphore (scanned, as kinds_by_kind_), else by name.
  std::vector<std::pair<const Semaphore*, ShardedHistogram*>> backend_wait_;
  absl::flat_hash_map<std::string, ShardedHistogram*> backend_wait_by_name_;
  absl::flat_hash_map<std::string, prometheus::Counter*> rejected_;
  prometheus::Counter* rejected_other_ = nullptr;
  prometheus::Counter* memory_waits_ = nullptr;
  bool enabled_ = false;  // Set by Serve(), before any call is served.
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_METRICS_H_

// ServiceContext: what every JobService call shares (options, kinds,
// backends, the executor, metrics, the log, admission, the call
// registry). A plain struct of pointers, filled once by JobgroupServer;
// every pointee outlives the service and is thread-safe itself.
#ifndef JOBGROUP_SERVER_SERVICE_SERVICE_CONTEXT_H_
#define JOBGROUP_SERVER_SERVICE_SERVICE_CONTEXT_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "server/core/adaptive_limit.h"
#include "server/core/admission.h"
#include "server/core/backends.h"
#include "server/core/executor.h"
#include "server/core/job_kind.h"
#include "server/core/memory_budget.h"
#include "server/core/worker_pool.h"
#include "server/service/call_registry.h"
#include "server/service/log_sampler.h"
#include "server/service/logger.h"
#include "server/service/metrics.h"
#include "server/service/server_options.h"
#include "server/service/stream_limit.h"
#include "server/service/validation.h"

namespace jobgroup {

struct ServiceContext {
  const ServerOptions* options = nullptr;
  const KindRegistry* kinds = nullptr;
  const BackendSet* backends = nullptr;
  Executor* executor = nullptr;
  const WorkerPool* workers = nullptr;
  const RequestValidator* validator = nullptr;
  ServerMetrics* metrics = nullptr;
  Logger* logger = nullptr;
  LogSampler* call_log = nullptr;  // Bounds call_finished lines.
  AdmissionLimit* admission = nullptr;
  AdaptiveLimit* adaptive = nullptr;  // Null unless --adaptive_limit.
  MemoryBudget* memory = nullptr;     // Parsed requests' bytes.
  CallRegistry* calls = nullptr;
  const std::atomic<bool>* draining = nullptr;
  std::atomic<int64_t>* jobs_in_flight = nullptr;
  // Job-running calls whose reactor gRPC has not finished with (counted by
  // CallGate's lifetime), so that a drain knows when the last reply is out.
  std::atomic<int64_t>* open_calls = nullptr;
  // Streams open in the whole server (job-running calls and health
  // watchers): --max_open_streams.
  StreamLimit* streams = nullptr;
  std::string version;
  std::string server_name;  // GetServerInfoResponse.name.
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_SERVICE_CONTEXT_H_

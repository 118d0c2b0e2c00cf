// JobgroupServer: jobgroupd assembled — the core runtime (timers, workers,
// backends, kinds, executor), the gRPC server with the job service,
// health and reflection (over TLS when configured), the metrics endpoint
// and the optional health-only server — plus graceful drain.
//
// Start() returns a running server. Drain() may be called from any thread
// once; Wait() blocks until it has finished.
#ifndef JOBGROUP_SERVER_SERVICE_JOBGROUP_SERVER_H_
#define JOBGROUP_SERVER_SERVICE_JOBGROUP_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/server.h"
#include "server/core/adaptive_limit.h"
#include "server/core/admission.h"
#include "server/core/backends.h"
#include "server/core/executor.h"
#include "server/core/job_kind.h"
#include "server/core/timer_service.h"
#include "server/core/worker_pool.h"
#include "server/service/admin_service.h"
#include "server/service/call_registry.h"
#include "server/service/health_server.h"
#include "server/service/health_service.h"
#include "server/service/job_service.h"
#include "server/service/kind_backends.h"
#include "server/service/log_sampler.h"
#include "server/service/logger.h"
#include "server/service/metrics.h"
#include "server/service/server_options.h"
#include "server/service/server_status.h"
#include "server/service/validation.h"

namespace jobgroup {

// Registers kinds beyond the built-ins (a custom jobgroupd's own).
using KindRegistrar = std::function<absl::Status(KindRegistry&)>;

class JobgroupServer {
 public:
  static absl::StatusOr<std::unique_ptr<JobgroupServer>> Start(
      ServerOptions options, KindRegistrar extra_kinds = nullptr);
  ~JobgroupServer();
  JobgroupServer(const JobgroupServer&) = delete;
  JobgroupServer& operator=(const JobgroupServer&) = delete;

  // JobgroupServer::Drain()
  //
  // Health turns NOT_SERVING and new calls are refused (UNAVAILABLE); calls
  // in flight get up to --drain_timeout to finish, then the rest are
  // cancelled and their outcomes delivered; then the server stops.
  void Drain();

  // The bound gRPC and metrics ports (useful with port 0).
  int port() const { return port_; }
  int metrics_port() const { return metrics_ ? metrics_->port() : 0; }
  // The health-only server's port; 0 without --health_listen.
  int health_port() const { return health_ ? health_->port() : 0; }
  // The admin API's own port; 0 without --admin_listen.
  int admin_port() const { return admin_port_; }
  // Handlers still running after their job was cancelled.
  int64_t abandoned_handlers() const { return executor_->abandoned_handlers(); }

 private:
  explicit JobgroupServer(ServerOptions options);
  absl::Status Init(const KindRegistrar& extra_kinds);
  // Sets health on the gRPC port and on the health-only server alike.
  void SetServing(bool serving);

  const ServerOptions options_;
  Logger logger_;
  LogSampler call_log_;
  TimerService timers_;
  std::unique_ptr<WorkerPool> workers_;
  BackendSet backends_;
  // Before kinds_: the http kind counts its response bodies in it until the
  // kind is destroyed.
  std::unique_ptr<MemoryBudget> memory_;
  KindRegistry kinds_;
  std::unique_ptr<Executor> executor_;
  KindBackends kind_backends_;  // Set by Init(), read-only afterwards.
  std::unique_ptr<RequestValidator> validator_;
  std::unique_ptr<AdmissionLimit> admission_;
  // Null unless --adaptive_limit; before metrics_, which reads it.
  std::unique_ptr<AdaptiveLimit> adaptive_;
  CallRegistry calls_;
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> jobs_in_flight_{0};
  std::atomic<int64_t> open_calls_{0};    // ServiceContext::open_calls.
  std::unique_ptr<StreamLimit> streams_;  // ServiceContext::streams.
  std::unique_ptr<HealthService> health_service_;    // Outlives server_.
  std::unique_ptr<ServerStatus> status_;             // Outlives server_.
  std::unique_ptr<AdminServiceImpl> admin_service_;  // Outlives server_.
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<JobServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<HealthServer> health_;        // Null without --health_listen.
  std::unique_ptr<grpc::Server> admin_server_;  // Null without --admin_listen.
  int port_ = 0;
  int admin_port_ = 0;
  absl::Notification drained_;
};

// The version of this build.
const char* JobgroupVersion();

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_JOBGROUP_SERVER_H_

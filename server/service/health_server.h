// HealthServer: a second, small gRPC server on its own address
// (--health_listen) that serves grpc.health.v1.Health and nothing else: no
// JobService, no reflection. It speaks plain text and asks for no token, so
// probes (kubelet, load balancers) reach it even when the main port demands
// client certificates; bind it to an address only they can reach.
//
// It does not watch the main server: JobgroupServer sets its status along
// with the main server's (SERVING once started, NOT_SERVING on drain). Its
// Watch streams count against the same --max_open_streams as the main
// port's (HealthService).
//
// Thread-safe. Destroying it shuts it down.
#ifndef JOBGROUP_SERVER_SERVICE_HEALTH_SERVER_H_
#define JOBGROUP_SERVER_SERVICE_HEALTH_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/server.h"
#include "server/service/health_service.h"

namespace jobgroup {

class HealthServer {
 public:
  // HealthServer::Start()
  //
  // Listens on `address` (host:port; port 0 picks one) and serves health
  // for the overall server ("") and for each of `services`, all NOT_SERVING
  // until SetServing(true). Watch streams take slots of `streams`; refusals
  // are counted in `metrics`. Both outlive it. Errors when it cannot bind.
  static absl::StatusOr<std::unique_ptr<HealthServer>> Start(
      const std::string& address, std::vector<std::string> services,
      StreamLimit* streams, ServerMetrics* metrics);
  ~HealthServer();
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  // HealthServer::SetServing()
  //
  // Sets the status of "" and of every service given to Start(). Watchers
  // (Health/Watch) are told at once.
  void SetServing(bool serving);

  // HealthServer::Shutdown()
  //
  // Stops serving; calls under way are cancelled. Idempotent.
  void Shutdown();

  int port() const { return port_; }

 private:
  HealthServer(const std::vector<std::string>& services, StreamLimit* streams,
               ServerMetrics* metrics)
      : health_(services, streams, metrics) {}

  HealthService health_;                        // Outlives server_.
  grpc::CallbackGenericService unimplemented_;  // Outlives server_.
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_HEALTH_SERVER_H_

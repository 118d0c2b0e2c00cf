// HealthService: jobgroupd's grpc.health.v1.Health (Check and Watch), in
// place of gRPC's default one so that Watch streams are bounded: each
// takes a slot of the server's StreamLimit (--max_open_streams) while it is
// open, and past the cap a new Watch is refused at once with
// RESOURCE_EXHAUSTED (counted as jobgroup_rejected_total{reason=
// "open_streams"}) instead of being held. Check answers at once and takes
// no slot.
//
// Statuses: "" (the whole server) and each service given to the
// constructor, all NOT_SERVING until SetServing(true); any other name is
// NOT_FOUND for Check and SERVICE_UNKNOWN for Watch, as gRPC's own service
// answers. A watcher is sent the current status when it starts and every
// change after (the latest one, when changes come faster than it reads).
//
// Thread-safe. Must outlive the grpc::Server it is registered with.
#ifndef JOBGROUP_SERVER_SERVICE_HEALTH_SERVICE_H_
#define JOBGROUP_SERVER_SERVICE_HEALTH_SERVICE_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/service/metrics.h"
#include "server/service/stream_limit.h"

namespace jobgroup {

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  // `streams` and `metrics` (may be null: nothing counted) outlive it.
  HealthService(const std::vector<std::string>& services, StreamLimit* streams,
                ServerMetrics* metrics);
  HealthService(const HealthService&) = delete;
  HealthService& operator=(const HealthService&) = delete;

  // HealthService::SetServing()
  //
  // Sets every known name SERVING or NOT_SERVING; watchers are told.
  void SetServing(bool serving);

  grpc::ServerUnaryReactor* Check(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request,
      grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  class WatchCall;

  // The status of `service` now; SERVICE_UNKNOWN for a stranger.
  ServingStatus StatusOf(const std::string& service) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remove(WatchCall* call);

  StreamLimit* const streams_;
  ServerMetrics* const metrics_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, ServingStatus> statuses_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<WatchCall*> watchers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_HEALTH_SERVICE_H_

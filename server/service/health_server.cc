// Implementation of HealthServer.
#include "server/service/health_server.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace jobgroup {
namespace {

// Drops the builder plugins registered process-wide (server reflection is
// one), so that this server offers health alone.
class NoPlugins final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    plugins->clear();
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<HealthServer>> HealthServer::Start(
    const std::string& address, std::vector<std::string> services,
    StreamLimit* streams, ServerMetrics* metrics) {
  std::unique_ptr<HealthServer> health(
      new HealthServer(services, streams, metrics));
  // jobgroup's HealthService (Check and Watch) in place of gRPC's default
  // one; a generic service answers every other method, as gRPC would, with
  // UNIMPLEMENTED.
  grpc::EnableDefaultHealthCheckService(false);
  grpc::ServerBuilder builder;
  builder.SetOption(std::make_unique<NoPlugins>());
  builder.RegisterService(&health->health_);
  builder.RegisterCallbackGenericService(&health->unimplemented_);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(),
                           &health->port_);
  health->server_ = builder.BuildAndStart();
  if (!health->server_ || health->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("--health_listen: cannot listen on ", address,
                     " (address in use or not valid?)"));
  }
  health->SetServing(false);
  return health;
}

void HealthServer::SetServing(bool serving) { health_.SetServing(serving); }

void HealthServer::Shutdown() {
  server_->Shutdown(std::chrono::system_clock::now());
}

HealthServer::~HealthServer() {
  if (server_) Shutdown();
}

}  // namespace jobgroup

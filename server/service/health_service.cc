// Implementation of HealthService.
#include "server/service/health_service.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "server/service/proto_mapping.h"

namespace jobgroup {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch stream: writes the latest status, one write at a time, until
// the client cancels or the server shuts down (OnCancel). Deletes itself in
// OnDone(), after leaving the service's watchers and giving its slot back.
class HealthService::WatchCall final
    : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  WatchCall(HealthService* service, std::string name, bool has_slot)
      : service_(service), name_(std::move(name)), has_slot_(has_slot) {}

  // Sends `status` unless it is what the client was last sent.
  void Update(ServingStatus status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      if (writing_) {
        next_ = status;
        return;
      }
      if (sent_.has_value() && *sent_ == status) return;
      writing_ = true;
      sent_ = status;
      response_.set_status(status);
    }
    StartWrite(&response_);
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok || finished_) return;  // OnCancel() finishes the call.
      if (!next_.has_value() || *next_ == *sent_) {
        next_.reset();
        return;
      }
      writing_ = true;
      sent_ = *next_;
      next_.reset();
      response_.set_status(*sent_);
    }
    StartWrite(&response_);
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    if (has_slot_) {
      service_->Remove(this);
      service_->streams_->Close();
    }
    delete this;
  }

  const std::string& name() const { return name_; }

 private:
  HealthService* const service_;
  const std::string name_;
  const bool has_slot_;
  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<ServingStatus> sent_ ABSL_GUARDED_BY(mu_);
  std::optional<ServingStatus> next_ ABSL_GUARDED_BY(mu_);
  // Written by one StartWrite() at a time (writing_).
  HealthCheckResponse response_;
};

HealthService::HealthService(const std::vector<std::string>& services,
                             StreamLimit* streams, ServerMetrics* metrics)
    : streams_(streams), metrics_(metrics) {
  statuses_[""] = HealthCheckResponse::NOT_SERVING;
  for (const std::string& s : services) {
    statuses_[s] = HealthCheckResponse::NOT_SERVING;
  }
}

void HealthService::SetServing(bool serving) {
  ServingStatus status =
      serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
  absl::MutexLock lock(&mu_);
  for (auto& [name, s] : statuses_) s = status;
  for (WatchCall* w : watchers_) w->Update(StatusOf(w->name()));
}

HealthService::ServingStatus HealthService::StatusOf(
    const std::string& service) const {
  auto it = statuses_.find(service);
  return it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN
                               : it->second;
}

void HealthService::Remove(WatchCall* call) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(call);
}

grpc::ServerUnaryReactor* HealthService::Check(
    grpc::CallbackServerContext* context, const HealthCheckRequest* request,
    HealthCheckResponse* response) {
  grpc::Status result = grpc::Status::OK;
  {
    absl::MutexLock lock(&mu_);
    ServingStatus s = StatusOf(request->service());
    if (s == HealthCheckResponse::SERVICE_UNKNOWN) {
      result = grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service");
    } else {
      response->set_status(s);
    }
  }
  auto* reactor = context->DefaultReactor();
  reactor->Finish(result);
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext* context, const HealthCheckRequest* request) {
  if (!streams_->TryOpen()) {
    if (metrics_ != nullptr) metrics_->Rejected("open_streams");
    auto* call = new WatchCall(this, request->service(), false);
    call->Finish(ToGrpc(streams_->Refusal()));
    return call;
  }
  auto* call = new WatchCall(this, request->service(), true);
  absl::MutexLock lock(&mu_);
  watchers_.insert(call);
  call->Update(StatusOf(call->name()));
  return call;
}

}  // namespace jobgroup

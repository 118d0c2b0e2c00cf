// Implementation of AdminServiceImpl.
#include "server/service/admin_service.h"

#include <grpcpp/alarm.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "server/service/call_gate.h"
#include "server/service/logger.h"
#include "server/service/proto_mapping.h"
#include "server/service/stream_limit.h"
#include "server/service/validation.h"

namespace jobgroup {
namespace {

constexpr absl::Duration kMinInterval = absl::Milliseconds(100);
constexpr absl::Duration kDefaultInterval = absl::Seconds(1);
constexpr uint32_t kDefaultMaxCalls = 20;
constexpr uint32_t kMaxMaxCalls = 1000;

}  // namespace

// One WatchServer stream: a snapshot now, then one per interval (a gRPC
// alarm between writes, so no thread waits), until the client cancels or
// the server shuts down.
//
// Under mu_, a small state machine keeps the reactor's rules: at most one
// write at a time, no write after Finish(), Finish() only once the write in
// flight is done, and the object deleted only when both gRPC (OnDone()) and
// the alarm (whose callback runs even when cancelled, with false) are done
// with it.
class AdminServiceImpl::WatchCall final
    : public grpc::ServerWriteReactor<admin::v1::WatchServerResponse> {
 public:
  WatchCall(AdminServiceImpl* service, absl::Duration interval,
            size_t max_calls, bool has_slot)
      : service_(service),
        interval_(interval),
        max_calls_(max_calls),
        has_slot_(has_slot) {}

  void Begin() {
    {
      absl::MutexLock lock(&mu_);
      writing_ = true;
    }
    Write();
  }

  void OnWriteDone(bool ok) override {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (finished_) {
        finish = true;  // OnCancel() left Finish() to this write's end.
      } else if (ok) {
        alarm_pending_ = true;
        alarm_.Set(absl::ToChronoTime(absl::Now() + interval_),
                   [this](bool fired) { OnAlarm(fired); });
      }
    }
    if (finish) Finish(grpc::Status::CANCELLED);
  }

  void OnCancel() override {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
      if (alarm_pending_) alarm_.Cancel();
      finish = !writing_;
    }
    if (finish) Finish(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    if (has_slot_) service_->ctx_->streams->Close();
    bool gone;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      gone = !alarm_pending_;
    }
    if (gone) delete this;  // Otherwise OnAlarm() deletes it.
  }

 private:
  void OnAlarm(bool fired) {
    bool write = false;
    bool gone = false;
    {
      absl::MutexLock lock(&mu_);
      alarm_pending_ = false;
      if (done_) {
        gone = true;
      } else if (fired && !finished_) {
        write = writing_ = true;
      }
    }
    if (gone) {
      delete this;
    } else if (write) {
      Write();
    }
  }

  // With writing_ set: one snapshot out. No lock held.
  void Write() {
    *response_.mutable_snapshot() =
        service_->status_->Snapshot(absl::Now(), max_calls_);
    StartWrite(&response_);
  }

  AdminServiceImpl* const service_;
  const absl::Duration interval_;
  const size_t max_calls_;
  const bool has_slot_;
  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;        // A write in flight.
  bool finished_ ABSL_GUARDED_BY(mu_) = false;       // Cancelled.
  bool alarm_pending_ ABSL_GUARDED_BY(mu_) = false;  // Its callback to come.
  bool done_ ABSL_GUARDED_BY(mu_) = false;           // OnDone() has run.
  grpc::Alarm alarm_;
  // Written by one write at a time (writing_).
  admin::v1::WatchServerResponse response_;
};

AdminServiceImpl::AdminServiceImpl(
    const ServiceContext* ctx, ServerStatus* status,
    std::shared_ptr<const Authenticator> admin_tokens)
    : ctx_(ctx), status_(status), admin_tokens_(std::move(admin_tokens)) {}

absl::Status AdminServiceImpl::Authorize(
    const grpc::CallbackServerContext& context, std::string* who) const {
  // Exactly one authorization entry; none or several is a refusal.
  absl::string_view authorization = OneValue(context, "authorization");
  absl::StatusOr<std::string> admin = admin_tokens_->Identify(authorization);
  if (admin.ok()) {
    *who = *std::move(admin);
    return absl::OkStatus();
  }
  const Authenticator* jobs = ctx_->options->authenticator.get();
  if (jobs != nullptr && jobs->Check(authorization).ok()) {
    ctx_->metrics->Rejected("unauthenticated");
    return absl::PermissionDeniedError(
        "a job token cannot use the admin API: send one of "
        "--admin_tokens_file");
  }
  ctx_->metrics->Rejected("unauthenticated");
  return absl::UnauthenticatedError(Authenticator::kRefusal);
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListCalls(
    grpc::CallbackServerContext* context, const admin::v1::ListCallsRequest*,
    admin::v1::ListCallsResponse* response) {
  auto* reactor = context->DefaultReactor();
  std::string who;
  absl::Status s = Authorize(*context, &who);
  if (s.ok()) *response = status_->ListCalls(absl::Now());
  reactor->Finish(ToGrpc(s));
  return reactor;
}

grpc::ServerWriteReactor<admin::v1::WatchServerResponse>*
AdminServiceImpl::WatchServer(grpc::CallbackServerContext* context,
                              const admin::v1::WatchServerRequest* request) {
  std::string who;
  absl::Status s = Authorize(*context, &who);
  absl::Duration interval = kDefaultInterval;
  if (request->has_interval()) {
    interval = std::max(kMinInterval,
                        absl::Seconds(request->interval().seconds()) +
                            absl::Nanoseconds(request->interval().nanos()));
  }
  size_t max_calls = request->max_calls() == 0
                         ? kDefaultMaxCalls
                         : std::min(request->max_calls(), kMaxMaxCalls);
  bool slot = s.ok() && ctx_->streams->TryOpen();
  if (s.ok() && !slot) {
    ctx_->metrics->Rejected("open_streams");
    s = ctx_->streams->Refusal();
  }
  auto* call = new WatchCall(this, interval, max_calls, slot);
  if (!s.ok()) {
    call->Finish(ToGrpc(s));
    return call;
  }
  call->Begin();
  return call;
}

grpc::ServerUnaryReactor* AdminServiceImpl::CancelCall(
    grpc::CallbackServerContext* context,
    const admin::v1::CancelCallRequest* request,
    admin::v1::CancelCallResponse* response) {
  auto* reactor = context->DefaultReactor();
  std::string who;
  absl::Status s = Authorize(*context, &who);
  if (s.ok() && request->call_id().empty()) {
    s = InvalidField("call_id", "is required");
  }
  if (s.ok() && request->reason().size() > kMaxOperatorReasonBytes) {
    s = InvalidField("reason", absl::StrCat(request->reason().size(),
                                            " bytes is over the limit of ",
                                            kMaxOperatorReasonBytes));
  }
  if (!s.ok()) {
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  absl::Status why = absl::CancelledError(
      request->reason().empty()
          ? std::string("cancelled by an operator")
          : absl::StrCat("cancelled by an operator: ", request->reason()));
  std::vector<CallRegistry::Entry> hit =
      ctx_->calls->CancelCall(request->call_id(), why);
  if (hit.empty()) {
    reactor->Finish(ToGrpc(absl::NotFoundError(absl::StrCat(
        "no call in flight has call_id ", Quote(request->call_id())))));
    return reactor;
  }
  status_->FillCall(hit.front(), absl::Now(), response->mutable_call());
  ctx_->logger->Log(LogLevel::kWarn, "call_cancelled_by_operator", "",
                    {{"call_id", request->call_id()},
                     {"calls", absl::StrCat(hit.size())},
                     {"operator", who},
                     {"reason", request->reason()}});
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace jobgroup

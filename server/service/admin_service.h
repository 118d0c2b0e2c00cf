// AdminService: the operator's gRPC API (proto/jobgroup/admin/v1): the
// calls in flight (ListCalls), a live view of the server (WatchServer), and
// cancelling one call (CancelCall). Thin over ServerStatus and the call
// registry.
//
// Registered only when the server has admin tokens (--admin_tokens_file);
// every method needs one of them ("authorization: Bearer TOKEN"). A job
// token (--auth_tokens_file) is refused with PERMISSION_DENIED, any other
// caller with UNAUTHENTICATED. WatchServer streams take a slot of
// --max_open_streams like every other stream.
//
// Thread-safe; calls run concurrently on gRPC's callback threads.
#ifndef JOBGROUP_SERVER_SERVICE_ADMIN_SERVICE_H_
#define JOBGROUP_SERVER_SERVICE_ADMIN_SERVICE_H_

#include <memory>

#include "absl/status/status.h"
#include "jobgroup/admin/v1/admin.grpc.pb.h"
#include "server/service/authenticator.h"
#include "server/service/server_status.h"
#include "server/service/service_context.h"

namespace jobgroup {

// The longest CancelCallRequest.reason accepted.
inline constexpr size_t kMaxOperatorReasonBytes = 200;

class AdminServiceImpl final : public admin::v1::AdminService::CallbackService {
 public:
  // `ctx` and `status` must outlive the service; `admin_tokens` is not null.
  AdminServiceImpl(const ServiceContext* ctx, ServerStatus* status,
                   std::shared_ptr<const Authenticator> admin_tokens);

  grpc::ServerUnaryReactor* ListCalls(
      grpc::CallbackServerContext* context,
      const admin::v1::ListCallsRequest* request,
      admin::v1::ListCallsResponse* response) override;
  grpc::ServerWriteReactor<admin::v1::WatchServerResponse>* WatchServer(
      grpc::CallbackServerContext* context,
      const admin::v1::WatchServerRequest* request) override;
  grpc::ServerUnaryReactor* CancelCall(
      grpc::CallbackServerContext* context,
      const admin::v1::CancelCallRequest* request,
      admin::v1::CancelCallResponse* response) override;

 private:
  class WatchCall;
  // OK with the admin token's name in `who`, or the refusal.
  absl::Status Authorize(const grpc::CallbackServerContext& context,
                         std::string* who) const;

  const ServiceContext* const ctx_;
  ServerStatus* const status_;
  const std::shared_ptr<const Authenticator> admin_tokens_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_ADMIN_SERVICE_H_

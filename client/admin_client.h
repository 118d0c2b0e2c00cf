// AdminClient: the CLI's client of jobgroup.admin.v1.AdminService (the
// operator's API: ListCalls, WatchServer, CancelCall), on the same channel
// options as JobClient (target, TLS) with the admin token as
// `authorization: Bearer TOKEN`. Errors are one-line absl::Status messages
// that say what to do: a missing or refused admin token, an admin API that
// is off on the server, an unknown call id, a server that cannot be reached.
//
// Thread-safety: thread-safe; calls may run concurrently from any thread.
// WatchServer's callback runs on the calling thread.
#ifndef JOBGROUP_CLIENT_ADMIN_CLIENT_H_
#define JOBGROUP_CLIENT_ADMIN_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/call_canceller.h"
#include "client/job_client.h"
#include "jobgroup/admin/v1/admin.grpc.pb.h"

namespace jobgroup::client {

// AdminErrorFromGrpc() maps a failed AdminService call of `method` to
// `target` to a one-line status with the same code: UNAUTHENTICATED and
// PERMISSION_DENIED say an admin token is needed, UNIMPLEMENTED that the
// admin API is off, NOT_FOUND (CancelCall) that no such call is in flight;
// connection failures read as JobClient's do. Public for tests.
absl::Status AdminErrorFromGrpc(const grpc::Status& status,
                                absl::string_view target,
                                absl::string_view method,
                                absl::string_view call_id = {});

class AdminClient {
 public:
  // AdminClient::Create() builds the channel for `options` (its
  // bearer_token is ignored) and sends `admin_token` on every call when not
  // empty. Does not connect.
  static absl::StatusOr<std::unique_ptr<AdminClient>> Create(
      const ClientOptions& options, std::string admin_token);

  AdminClient(const AdminClient&) = delete;
  AdminClient& operator=(const AdminClient&) = delete;

  // AdminClient::ListCalls() lists the calls in flight, oldest first.
  // `canceller` (optional) cancels it from another thread.
  absl::StatusOr<jobgroup::admin::v1::ListCallsResponse> ListCalls(
      absl::Duration deadline, CallCanceller* canceller = nullptr);

  // AdminClient::CancelCall() cancels the call `call_id`, with `reason`.
  absl::StatusOr<jobgroup::admin::v1::CancelCallResponse> CancelCall(
      absl::string_view call_id, absl::string_view reason,
      absl::Duration deadline, CallCanceller* canceller = nullptr);

  // AdminClient::WatchServer() reads snapshots every `interval` and hands
  // each to `on_snapshot` until it returns false (then OK), `canceller` is
  // cancelled (Cancelled) or the stream ends (OK when the server ended it
  // cleanly, as a drain does).
  absl::Status WatchServer(
      absl::Duration interval, uint32_t max_calls, CallCanceller* canceller,
      absl::FunctionRef<bool(const jobgroup::admin::v1::ServerSnapshot&)>
          on_snapshot);

  const std::string& target() const { return target_; }

 private:
  AdminClient(std::string target, std::string admin_token,
              std::shared_ptr<grpc::Channel> channel);
  void Prepare(grpc::ClientContext& context,
               std::optional<absl::Duration> deadline) const;

  const std::string target_;
  const std::string admin_token_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<jobgroup::admin::v1::AdminService::Stub> stub_;
};

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_ADMIN_CLIENT_H_

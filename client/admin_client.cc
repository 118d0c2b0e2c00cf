// The client of jobgroup.admin.v1.AdminService; see admin_client.h.
#include "client/admin_client.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/rpc_status.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"

namespace jobgroup::client {

using ::jobgroup::admin::v1::CancelCallRequest;
using ::jobgroup::admin::v1::CancelCallResponse;
using ::jobgroup::admin::v1::ListCallsRequest;
using ::jobgroup::admin::v1::ListCallsResponse;
using ::jobgroup::admin::v1::ServerSnapshot;
using ::jobgroup::admin::v1::WatchServerRequest;
using ::jobgroup::admin::v1::WatchServerResponse;

namespace {

// Registers a context with an optional canceller for its lifetime.
class Registration {
 public:
  Registration(CallCanceller* canceller, grpc::ClientContext* context)
      : canceller_(canceller), context_(context) {
    if (canceller_ != nullptr) canceller_->Register(context_);
  }
  ~Registration() {
    if (canceller_ != nullptr) canceller_->Unregister(context_);
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

 private:
  CallCanceller* const canceller_;
  grpc::ClientContext* const context_;
};

}  // namespace

absl::Status AdminErrorFromGrpc(const grpc::Status& status,
                                absl::string_view target,
                                absl::string_view method,
                                absl::string_view call_id) {
  if (status.ok()) return absl::OkStatus();
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  switch (status.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return absl::Status(
          code,
          absl::StrCat(method, ": ", status.error_message(),
                       " — the admin API needs an admin token (one of the "
                       "server's --admin_tokens_file): give "
                       "--admin-token-file FILE or $JOBGROUP_ADMIN_TOKEN"));
    case grpc::StatusCode::UNIMPLEMENTED:
      return absl::Status(
          code, absl::StrCat("the admin API is off on the server at ", target,
                             " (start jobgroupd with --admin_tokens_file)"));
    case grpc::StatusCode::NOT_FOUND:
      if (!call_id.empty()) {
        return absl::Status(
            code, absl::StrCat("no call ", call_id, " in flight on ", target,
                               " (it may have ended; 'jobgroup calls list' "
                               "shows the calls in flight)"));
      }
      break;
    default:
      break;
  }
  return FromGrpcStatus(status, target, method);
}

absl::StatusOr<std::unique_ptr<AdminClient>> AdminClient::Create(
    const ClientOptions& options, std::string admin_token) {
  ClientOptions channel_options = options;
  channel_options.bearer_token.clear();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = NewChannel(
      channel_options, absl::StrCat("jobgroup/", ClientVersion(), " admin"));
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<AdminClient>(new AdminClient(
      options.target, std::move(admin_token), *std::move(channel)));
}

AdminClient::AdminClient(std::string target, std::string admin_token,
                         std::shared_ptr<grpc::Channel> channel)
    : target_(std::move(target)),
      admin_token_(std::move(admin_token)),
      channel_(std::move(channel)),
      stub_(jobgroup::admin::v1::AdminService::NewStub(channel_)) {}

void AdminClient::Prepare(grpc::ClientContext& context,
                          std::optional<absl::Duration> deadline) const {
  if (deadline.has_value()) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + *deadline));
  }
  if (!admin_token_.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", admin_token_));
  }
}

absl::StatusOr<ListCallsResponse> AdminClient::ListCalls(
    absl::Duration deadline, CallCanceller* canceller) {
  grpc::ClientContext context;
  Prepare(context, deadline);
  ListCallsResponse response;
  grpc::Status status;
  {
    Registration registration(canceller, &context);
    status = stub_->ListCalls(&context, ListCallsRequest(), &response);
  }
  if (!status.ok()) return AdminErrorFromGrpc(status, target_, "ListCalls");
  return response;
}

absl::StatusOr<CancelCallResponse> AdminClient::CancelCall(
    absl::string_view call_id, absl::string_view reason,
    absl::Duration deadline, CallCanceller* canceller) {
  grpc::ClientContext context;
  Prepare(context, deadline);
  CancelCallRequest request;
  request.set_call_id(std::string(call_id));
  request.set_reason(std::string(reason));
  CancelCallResponse response;
  grpc::Status status;
  {
    Registration registration(canceller, &context);
    status = stub_->CancelCall(&context, request, &response);
  }
  if (!status.ok()) {
    return AdminErrorFromGrpc(status, target_, "CancelCall", call_id);
  }
  return response;
}

absl::Status AdminClient::WatchServer(
    absl::Duration interval, uint32_t max_calls, CallCanceller* canceller,
    absl::FunctionRef<bool(const ServerSnapshot&)> on_snapshot) {
  grpc::ClientContext context;
  Prepare(context, std::nullopt);
  WatchServerRequest request;
  *request.mutable_interval() =
      google::protobuf::util::TimeUtil::NanosecondsToDuration(
          absl::ToInt64Nanoseconds(interval));
  request.set_max_calls(max_calls);
  bool stopped = false;
  grpc::Status status;
  {
    Registration registration(canceller, &context);
    std::unique_ptr<grpc::ClientReader<WatchServerResponse>> reader =
        stub_->WatchServer(&context, request);
    WatchServerResponse response;
    while (reader->Read(&response)) {
      if (!on_snapshot(response.snapshot())) {
        stopped = true;
        context.TryCancel();
        break;
      }
    }
    status = reader->Finish();
  }
  if (stopped) return absl::OkStatus();
  if (!status.ok()) return AdminErrorFromGrpc(status, target_, "WatchServer");
  return absl::OkStatus();
}

}  // namespace jobgroup::client

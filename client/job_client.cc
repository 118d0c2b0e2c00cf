// The gRPC client of jobgroupd; see job_client.h.
#include "client/job_client.h"

#include <atomic>
#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "client/rpc_status.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

#ifndef JOBGROUP_CLIENT_VERSION
#define JOBGROUP_CLIENT_VERSION "0.0.0-dev"
#endif

namespace jobgroup::client {
namespace {

using ::jobgroup::v1::BatchSummary;
using ::jobgroup::v1::JobResult;

// Calls go to every resolved address in turn, so the replicas behind one DNS
// name share the load. Service configs published in DNS are ignored: the
// client's own is the one that holds.
constexpr char kServiceConfig[] =
    R"({"loadBalancingConfig": [{"round_robin": {}}]})";

absl::StatusOr<std::string> ReadPemFile(absl::string_view what,
                                        const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", what, " file \"", path, "\""));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeCredentials(
    const ClientOptions& options) {
  if (options.tls_ca_file.empty() && options.tls_cert_file.empty() &&
      options.tls_key_file.empty()) {
    return grpc::InsecureChannelCredentials();
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate needs both --tls-cert and --tls-key");
  }
  grpc::SslCredentialsOptions ssl;
  if (!options.tls_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPemFile("TLS CA", options.tls_ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!options.tls_cert_file.empty()) {
    absl::StatusOr<std::string> cert =
        ReadPemFile("TLS certificate", options.tls_cert_file);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key =
        ReadPemFile("TLS key", options.tls_key_file);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  return grpc::SslCredentials(ssl);
}

// CallWatchdog cancels a call that has no deadline once `wait_limit` has
// passed, so that the server applies its own default deadline while the
// client still never waits forever, and registers the call with the
// CallOptions' canceller, if any. Lives on the calling thread's stack,
// declared after the ClientContext it cancels; its thread only waits.
class CallWatchdog {
 public:
  CallWatchdog(grpc::ClientContext& context, const CallOptions& call)
      : context_(context), canceller_(call.canceller) {
    if (canceller_ != nullptr) canceller_->Register(&context_);
    if (call.deadline.has_value()) return;
    thread_ = std::thread([this, &context, limit = call.wait_limit] {
      if (!done_.WaitForNotificationWithTimeout(limit)) {
        fired_.store(true, std::memory_order_release);
        context.TryCancel();
      }
    });
  }
  ~CallWatchdog() {
    if (canceller_ != nullptr) canceller_->Unregister(&context_);
    done_.Notify();
    if (thread_.joinable()) thread_.join();
  }
  CallWatchdog(const CallWatchdog&) = delete;
  CallWatchdog& operator=(const CallWatchdog&) = delete;

  // CallWatchdog::fired() says whether the watchdog cancelled the call.
  bool fired() const { return fired_.load(std::memory_order_acquire); }

 private:
  grpc::ClientContext& context_;
  CallCanceller* const canceller_;
  absl::Notification done_;
  std::atomic<bool> fired_{false};
  std::thread thread_;
};

}  // namespace

absl::Status JobClient::CallError(const grpc::Status& status,
                                  absl::string_view method, bool gave_up,
                                  const CallOptions& call,
                                  absl::string_view call_id) const {
  absl::Status s;
  if (gave_up && status.error_code() == grpc::StatusCode::CANCELLED) {
    s = absl::DeadlineExceededError(
        absl::StrCat(method, ": no answer from ", options_.target, " within ",
                     absl::FormatDuration(call.wait_limit)));
  } else {
    s = FromGrpcStatus(status, options_.target, method);
  }
  if (call_id.empty() || IsConnectionFailure(status)) return s;
  return absl::Status(s.code(),
                      absl::StrCat(s.message(), " (call ", call_id, ")"));
}

std::string NewRequestId() {
  // One generator per thread, seeded once from the OS.
  thread_local std::mt19937_64 bits{[] {
    std::random_device seed;
    return (static_cast<uint64_t>(seed()) << 32) ^ seed();
  }()};
  uint64_t hi = bits();
  uint64_t lo = bits();
  return absl::StrFormat("%016x%016x", hi, lo);
}

absl::string_view ClientVersion() { return JOBGROUP_CLIENT_VERSION; }

absl::string_view ServingStatusName(ServingStatus status) {
  switch (status) {
    case ServingStatus::kServing:
      return "SERVING";
    case ServingStatus::kNotServing:
      return "NOT_SERVING";
    case ServingStatus::kServiceUnknown:
      return "SERVICE_UNKNOWN";
    case ServingStatus::kUnknown:
      break;
  }
  return "UNKNOWN";
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> NewChannel(
    const ClientOptions& options, absl::string_view user_agent,
    bool own_connection) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeCredentials(options);
  if (!credentials.ok()) return credentials.status();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  // The calls go to every resolved address in turn.
  args.SetServiceConfigJSON(kServiceConfig);
  args.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);
  args.SetUserAgentPrefix(std::string(user_agent));
  if (own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (!options.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(options.tls_server_name);
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.target, *credentials, args);
  if (channel == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create a channel to \"", options.target, "\""));
  }
  return channel;
}

absl::StatusOr<std::unique_ptr<JobClient>> JobClient::Create(
    const ClientOptions& options) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError(
        "empty target: give the server as HOST:PORT");
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      NewChannel(options, absl::StrCat("jobgroup/", ClientVersion()));
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<JobClient>(
      new JobClient(options, *std::move(channel)));
}

JobClient::JobClient(ClientOptions options,
                     std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      stub_(jobgroup::v1::JobService::NewStub(channel_)) {}

JobClient::~JobClient() = default;

std::string JobClient::PrepareContext(grpc::ClientContext& context,
                                      const CallOptions& call,
                                      bool job_call) const {
  if (call.deadline.has_value()) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + *call.deadline));
  }
  if (!options_.bearer_token.empty()) {
    context.AddMetadata("authorization",
                        absl::StrCat("Bearer ", options_.bearer_token));
  }
  if (!job_call) return {};
  std::string id = call.request_id.empty() ? NewRequestId() : call.request_id;
  context.AddMetadata("x-request-id", id);
  return id;
}

absl::StatusOr<jobgroup::v1::RunBatchResponse> JobClient::RunBatch(
    const jobgroup::v1::RunBatchRequest& request, const CallOptions& call) {
  grpc::ClientContext context;
  const std::string id = PrepareContext(context, call, /*job_call=*/true);
  jobgroup::v1::RunBatchResponse response;
  grpc::Status status;
  bool gave_up = false;
  {
    CallWatchdog watchdog(context, call);
    status = stub_->RunBatch(&context, request, &response);
    gave_up = watchdog.fired();
  }
  if (!status.ok()) return CallError(status, "RunBatch", gave_up, call, id);
  return response;
}

absl::StatusOr<BatchSummary> JobClient::StreamBatch(
    const jobgroup::v1::StreamBatchRequest& request, const CallOptions& call,
    absl::FunctionRef<void(const jobgroup::v1::StreamBatchResponse&)>
        on_response) {
  grpc::ClientContext context;
  const std::string id = PrepareContext(context, call, /*job_call=*/true);
  std::optional<BatchSummary> summary;
  grpc::Status status;
  bool gave_up = false;
  {
    CallWatchdog watchdog(context, call);
    std::unique_ptr<grpc::ClientReader<jobgroup::v1::StreamBatchResponse>>
        reader = stub_->StreamBatch(&context, request);
    jobgroup::v1::StreamBatchResponse response;
    while (reader->Read(&response)) {
      on_response(response);
      if (response.has_summary()) summary = response.summary();
    }
    status = reader->Finish();
    gave_up = watchdog.fired();
  }
  if (!status.ok()) {
    return CallError(status, "StreamBatch", gave_up, call, id);
  }
  if (!summary.has_value()) {
    return absl::DataLossError(
        "StreamBatch: the server ended the stream "
        "without a summary");
  }
  return *std::move(summary);
}

namespace {

// WriteJobs() runs on Process()'s writer thread: it pulls jobs from `source`,
// groups them into messages and writes each one, which blocks while gRPC's
// flow control says the server is behind. Returns a source error; a failed
// Write means the call has ended, and the reader reports why.
absl::Status WriteJobs(
    grpc::ClientReaderWriter<jobgroup::v1::ProcessRequest,
                             jobgroup::v1::ProcessResponse>& stream,
    JobSource& source, const ProcessOptions& options,
    const std::atomic<bool>& stop) {
  jobgroup::v1::ProcessRequest request;
  *request.mutable_options() = options.batch;
  bool sent_any = false;
  size_t bytes = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    jobgroup::v1::Job* job = request.add_jobs();
    absl::StatusOr<bool> more = source.Next(*job);
    if (!more.ok() || !*more) {
      request.mutable_jobs()->RemoveLast();
      if (!more.ok()) return more.status();
      break;
    }
    bytes += job->ByteSizeLong();
    if (static_cast<size_t>(request.jobs_size()) >=
            options.max_jobs_per_message ||
        bytes >= options.max_bytes_per_message || !source.ReadyNow()) {
      if (!stream.Write(request)) return absl::OkStatus();
      sent_any = true;
      request.Clear();
      bytes = 0;
    }
  }
  if (stop.load(std::memory_order_relaxed)) return absl::OkStatus();
  // The options travel in the first message even when there are no jobs.
  if (request.jobs_size() > 0 || !sent_any) {
    if (!stream.Write(request)) return absl::OkStatus();
  }
  stream.WritesDone();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BatchSummary> JobClient::Process(
    const ProcessOptions& options, JobSource& source, const CallOptions& call,
    absl::FunctionRef<void(const JobResult&)> on_result) {
  grpc::ClientContext context;
  const std::string id = PrepareContext(context, call, /*job_call=*/true);
  CallWatchdog watchdog(context, call);
  std::unique_ptr<grpc::ClientReaderWriter<jobgroup::v1::ProcessRequest,
                                           jobgroup::v1::ProcessResponse>>
      stream = stub_->Process(&context);

  std::atomic<bool> stop{false};
  std::atomic<bool> writer_done{false};
  absl::Status source_status;  // Written by the writer, read after join().
  std::thread writer([&] {
    source_status = WriteJobs(*stream, source, options, stop);
    // A bad input ends the call: the jobs already sent are cancelled.
    if (!source_status.ok()) context.TryCancel();
    writer_done.store(true, std::memory_order_release);
  });

  jobgroup::v1::ProcessResponse response;
  std::optional<BatchSummary> summary;
  while (stream->Read(&response)) {
    for (const JobResult& result : response.results()) on_result(result);
    if (options.after_each_message) options.after_each_message();
    if (response.has_summary()) {
      summary = response.summary();
      if (options.on_summary) options.on_summary(*summary);
    }
  }
  // Read() returned false: the call is over and its status is final, also
  // when the server ended it (deadline, error) while input remained.
  const grpc::Status status = stream->Finish();
  // Stop the writer. Cancelling wakes a Write() waiting for flow control and
  // can no longer change the status.
  stop.store(true, std::memory_order_relaxed);
  if (!writer_done.load(std::memory_order_acquire)) context.TryCancel();
  writer.join();
  if (!source_status.ok()) return source_status;
  if (!status.ok()) {
    return CallError(status, "Process", watchdog.fired(), call, id);
  }
  if (!summary.has_value()) {
    return absl::DataLossError(
        "Process: the server ended the stream without a summary");
  }
  return *std::move(summary);
}

absl::StatusOr<jobgroup::v1::GetServerInfoResponse> JobClient::GetServerInfo(
    const CallOptions& call) {
  grpc::ClientContext context;
  PrepareContext(context, call);
  jobgroup::v1::GetServerInfoResponse response;
  grpc::Status status;
  bool gave_up = false;
  {
    CallWatchdog watchdog(context, call);
    status = stub_->GetServerInfo(
        &context, jobgroup::v1::GetServerInfoRequest(), &response);
    gave_up = watchdog.fired();
  }
  if (!status.ok()) return CallError(status, "GetServerInfo", gave_up, call);
  return response;
}

absl::StatusOr<ServingStatus> JobClient::CheckHealth(absl::string_view service,
                                                     const CallOptions& call) {
  grpc::ClientContext context;
  PrepareContext(context, call);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(std::string(service));
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status;
  bool gave_up = false;
  {
    CallWatchdog watchdog(context, call);
    status = grpc::health::v1::Health::NewStub(channel_)->Check(
        &context, request, &response);
    gave_up = watchdog.fired();
  }
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    return ServingStatus::kServiceUnknown;
  }
  if (!status.ok()) {
    return CallError(status, "health check (grpc.health.v1.Health/Check)",
                     gave_up, call);
  }
  switch (response.status()) {
    case grpc::health::v1::HealthCheckResponse::SERVING:
      return ServingStatus::kServing;
    case grpc::health::v1::HealthCheckResponse::NOT_SERVING:
      return ServingStatus::kNotServing;
    case grpc::health::v1::HealthCheckResponse::SERVICE_UNKNOWN:
      return ServingStatus::kServiceUnknown;
    default:
      return ServingStatus::kUnknown;
  }
}

}  // namespace jobgroup::client

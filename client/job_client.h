// JobClient: the C++ client of jobgroupd. It wraps the JobService calls
// (RunBatch, StreamBatch, Process, GetServerInfo) and the standard health
// check, and reports every failure as an absl::Status whose message fits on
// one line and, when the server cannot be reached, says so.
//
//   auto client = JobClient::Create({.target = "localhost:50051"});
//   auto reply = (*client)->RunBatch(request, {.deadline = absl::Seconds(30)});
//
// One channel per JobClient: a `host:port` or `dns:///host:port` target is
// resolved to every address and calls are spread over them round robin, so
// several replicas share the load.
//
// Thread-safety: a JobClient is thread-safe; calls may run concurrently from
// any number of threads. Callbacks run on the calling thread.
#ifndef JOBGROUP_CLIENT_JOB_CLIENT_H_
#define JOBGROUP_CLIENT_JOB_CLIENT_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/call_canceller.h"
#include "client/job_source.h"
#include "jobgroup/v1/jobgroup.grpc.pb.h"

namespace jobgroup::client {

// ClientOptions say where the server is and how to talk to it.
struct ClientOptions {
  // `host:port`, `dns:///host:port`, `ipv4:1.2.3.4:5,1.2.3.6:5` or any other
  // gRPC target.
  std::string target = "localhost:50051";

  // TLS. All empty means plaintext. With `tls_ca_file` (PEM roots; empty
  // means the system's roots when a client certificate is given) the server
  // is verified; `tls_cert_file` and `tls_key_file` (PEM) present a client
  // certificate for mutual TLS. `tls_server_name` overrides the name checked
  // against the server's certificate.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_server_name;

  // Sent as `authorization: Bearer <token>` on every call when not empty.
  std::string bearer_token;

  // Largest message sent or received.
  int max_message_bytes = 256 * 1024 * 1024;
};

// CallOptions shape one call.
struct CallOptions {
  // Sent as the call's gRPC deadline; for the batch calls it bounds the whole
  // batch on the server too. nullopt sends none, so the server applies its
  // default deadline.
  std::optional<absl::Duration> deadline;
  // Without a deadline, the client still waits at most this long: then it
  // cancels the call (DeadlineExceeded "... no answer within 1h"). Not sent
  // to the server.
  absl::Duration wait_limit = absl::Hours(1);
  // Optional: cancels the call from another thread (Ctrl-C); the call then
  // ends as if the client had gone away (CANCELLED), results already
  // delivered staying delivered. Must outlive the call.
  CallCanceller* canceller = nullptr;
  // The call's id, sent as x-request-id metadata on RunBatch, StreamBatch
  // and Process: the server uses it as the call's id (summary.call_id and
  // its log lines). Empty: the client makes one (32 hex digits). Errors of
  // these calls name it ("... (call 3f2a...)").
  std::string request_id;
};

// A new call id for x-request-id: 32 lowercase hex digits (128 random
// bits). Thread-safe.
std::string NewRequestId();

// ProcessOptions shape one Process call.
struct ProcessOptions {
  // Sent in the first message of the stream.
  jobgroup::v1::BatchOptions batch;
  // Jobs are grouped into messages of at most this many jobs or about this
  // many bytes; a message is sent early when the source would block. These
  // bound the client's memory together with gRPC's flow-control window.
  size_t max_jobs_per_message = 256;
  size_t max_bytes_per_message = 1024 * 1024;
  // Optional: called on the calling thread after the results of each reply
  // message went to `on_result`, e.g. to flush an output once per message
  // rather than once per result.
  std::function<void()> after_each_message;
  // Optional: called on the calling thread with the summary when a message
  // carries it. Also when the call then fails: a Process call that the
  // server ends before the input does sends the outcomes of the jobs it
  // read and its summary, then a status that is not OK.
  std::function<void(const jobgroup::v1::BatchSummary&)> on_summary;
};

// ServingStatus is the answer of the standard health check.
enum class ServingStatus {
  kUnknown,
  kServing,
  kNotServing,
  // The server does not know the service asked about.
  kServiceUnknown,
};

// ClientVersion() is the version of this client, e.g. "0.1.0".
absl::string_view ClientVersion();

// ServingStatusName() returns "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN" or
// "UNKNOWN".
absl::string_view ServingStatusName(ServingStatus status);

// NewChannel()
//
// The channel JobClient uses for `options`: credentials (TLS and client
// certificate from the files named), message-size limits, round robin over
// every resolved address, the TLS name override. `own_connection` gives the
// channel a connection of its own instead of sharing one with equal
// channels (a load generator opens several).
absl::StatusOr<std::shared_ptr<grpc::Channel>> NewChannel(
    const ClientOptions& options, absl::string_view user_agent,
    bool own_connection = false);

class JobClient {
 public:
  // JobClient::Create() builds the channel; it does not connect, so an
  // unreachable server is reported by the first call. Errors: a TLS file that
  // cannot be read, an empty target.
  static absl::StatusOr<std::unique_ptr<JobClient>> Create(
      const ClientOptions& options);

  ~JobClient();
  JobClient(const JobClient&) = delete;
  JobClient& operator=(const JobClient&) = delete;

  // JobClient::RunBatch() runs `request` and returns every result in request
  // order with the summary.
  absl::StatusOr<jobgroup::v1::RunBatchResponse> RunBatch(
      const jobgroup::v1::RunBatchRequest& request, const CallOptions& call);

  // JobClient::StreamBatch() runs `request` and calls `on_response` with
  // each message as it arrives (results in completion order; the last one
  // carries the summary), then returns the summary. An error after some
  // messages leaves those delivered.
  absl::StatusOr<jobgroup::v1::BatchSummary> StreamBatch(
      const jobgroup::v1::StreamBatchRequest& request, const CallOptions& call,
      absl::FunctionRef<void(const jobgroup::v1::StreamBatchResponse&)>
          on_response);

  // JobClient::Process() streams the jobs of `source` to the server while
  // results stream back: a writer thread pulls jobs lazily and each Write
  // waits for gRPC flow control, so memory stays bounded however long the
  // input is; the end of the source half-closes the stream. `on_result` is
  // called on the calling thread with each result as it arrives. Returns the
  // summary of the last message.
  //
  // Errors: a source error cancels the call and is returned as is (results
  // already delivered stay delivered); a call error is mapped like the other
  // calls. Process() returns only after the source's Next() has returned, so
  // a source blocked on input delays the return after an early end.
  absl::StatusOr<jobgroup::v1::BatchSummary> Process(
      const ProcessOptions& options, JobSource& source, const CallOptions& call,
      absl::FunctionRef<void(const jobgroup::v1::JobResult&)> on_result);

  // JobClient::GetServerInfo() describes the server.
  absl::StatusOr<jobgroup::v1::GetServerInfoResponse> GetServerInfo(
      const CallOptions& call);

  // JobClient::CheckHealth() asks grpc.health.v1.Health/Check about
  // `service` ("" is the whole server). An unknown service is
  // kServiceUnknown, not an error.
  absl::StatusOr<ServingStatus> CheckHealth(absl::string_view service,
                                            const CallOptions& call);

  const std::string& target() const { return options_.target; }

 private:
  JobClient(ClientOptions options, std::shared_ptr<grpc::Channel> channel);
  // Sets the deadline and the token; for a job-running call (`job_call`)
  // also the x-request-id, whose value it returns (empty otherwise).
  std::string PrepareContext(grpc::ClientContext& context,
                             const CallOptions& call,
                             bool job_call = false) const;
  // The error of a failed call; names `call_id` when it is not empty and
  // the server was reached.
  absl::Status CallError(const grpc::Status& status, absl::string_view method,
                         bool gave_up, const CallOptions& call,
                         absl::string_view call_id = {}) const;

  const ClientOptions options_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<jobgroup::v1::JobService::Stub> stub_;
};

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_JOB_CLIENT_H_

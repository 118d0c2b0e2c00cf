// libFuzzer target: the real service path, in process. One JobgroupServer
// (the one jobgroupd runs, built-in kinds, no TLS, no tokens, no metrics)
// listens on 127.0.0.1 with small limits; each input is sent to it over a
// real gRPC channel as raw request bytes (grpc::GenericStub), so bytes that
// do not parse reach the server's own parse path (CallGate::ReadRequest)
// and the ones that do run as jobs. The validator alone is fuzzed by
// validation_fuzz; this one checks what a client sees.
//
// Input: the first byte picks the method (% 3): RunBatch, StreamBatch or
// Process. For RunBatch and StreamBatch the rest is the one request
// message. For Process the rest is up to kMaxProcessMessages messages, each
// a length byte and that many bytes, the last one taking whatever is left.
//
// Whatever the input, the call must end with a status (the client's deadline
// bounds it; libFuzzer's -timeout catches a hang), every reply message must
// parse as the method's response and carry no result without an outcome, a
// summary may come on the last message only and must count every result, and
// a call that ends OK must have parsed every message it was sent (the
// generated type says whether the fuzzed bytes parse) and answered every job
// sent, once each. An invariant that breaks aborts. With
// SERVICE_FUZZ_VERBOSE set in the environment, each call's status is written
// to stderr.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "google/protobuf/stubs/logging.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/channel_arguments.h"
#include "jobgroup/v1/jobgroup.pb.h"
#include "server/service/jobgroup_server.h"
#include "server/service/server_options.h"

namespace {

namespace v1 = jobgroup::v1;

constexpr int kMaxProcessMessages = 4;
// The client's deadline: long enough for every job an input can hold under
// ASan when nothing sleeps, short enough that a sleeping one costs little.
constexpr auto kCallDeadline = std::chrono::milliseconds(500);

enum class Method { kRunBatch, kStreamBatch, kProcess };

const char* MethodPath(Method m) {
  switch (m) {
    case Method::kRunBatch:
      return "/jobgroup.v1.JobService/RunBatch";
    case Method::kStreamBatch:
      return "/jobgroup.v1.JobService/StreamBatch";
    case Method::kProcess:
      return "/jobgroup.v1.JobService/Process";
  }
  return "";
}

[[noreturn]] void Broken(const char* what, const grpc::Status& status) {
  std::fprintf(stderr, "service_fuzz: invariant broken: %s (status %d: %s)\n",
               what, static_cast<int>(status.error_code()),
               status.error_message().c_str());
  std::abort();
}

// The server and a channel to it, started once and never stopped: they
// stay reachable from this static, so LeakSanitizer does not report them.
struct Env {
  Env() {
    jobgroup::ServerOptions o;
    o.server_name = "service_fuzz";
    o.listen = "127.0.0.1:0";
    o.metrics_listen = "";  // No metrics endpoint.
    o.workers = 2;
    o.queue_capacity = 256;
    o.max_jobs_per_call = 64;
    o.max_payload_bytes = 4096;
    o.max_message_bytes = 256 << 10;  // Must be over 2 * kMessageRoomBytes.
    o.max_output_bytes = o.max_message_bytes - jobgroup::kMessageRoomBytes;
    o.max_inflight_jobs = 1024;
    o.max_concurrency = 64;
    o.process_window = 64;
    o.memory_budget_bytes = 64 << 20;
    o.default_deadline = absl::Seconds(2);
    o.max_deadline = absl::Seconds(2);
    o.stream_idle_timeout = absl::Seconds(1);
    o.log_level = jobgroup::LogLevel::kError;  // One line per call otherwise.
    auto started = jobgroup::JobgroupServer::Start(std::move(o));
    if (!started.ok()) {
      std::fprintf(stderr, "service_fuzz: the server did not start: %s\n",
                   started.status().ToString().c_str());
      std::abort();
    }
    server = std::move(*started).release();
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);  // The server's limit is the one.
    channel =
        grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(server->port()),
                                  grpc::InsecureChannelCredentials(), args);
    stub = std::make_unique<grpc::GenericStub>(channel);
    verbose = std::getenv("SERVICE_FUZZ_VERBOSE") != nullptr;
  }
  jobgroup::JobgroupServer* server = nullptr;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::GenericStub> stub;
  grpc::CompletionQueue cq;  // One call at a time uses it.
  bool verbose = false;      // SERVICE_FUZZ_VERBOSE set: each call's status.
};

Env* env = nullptr;

// Waits for the one operation in flight on env->cq; its ok bit.
bool Await(void* tag) {
  void* got = nullptr;
  bool ok = false;
  if (!env->cq.Next(&got, &ok) || got != tag) {
    std::fprintf(stderr, "service_fuzz: completion queue out of step\n");
    std::abort();
  }
  return ok;
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes.data(), bytes.size());
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

struct Reply {
  grpc::Status status;
  std::vector<std::string> messages;
};

// One call: the messages written, the client's half-close, every reply
// read until the end, the status.
Reply Call(Method method, const std::vector<std::string>& messages) {
  Reply reply;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      env->stub->PrepareCall(&context, MethodPath(method), &env->cq);
  void* const tag = call.get();
  call->StartCall(tag);
  bool open = Await(tag);
  for (const std::string& m : messages) {
    if (!open) break;
    grpc::ByteBuffer buffer = ToBuffer(m);
    call->Write(buffer, tag);
    open = Await(tag);
  }
  if (open) {
    call->WritesDone(tag);
    open = Await(tag);
  }
  // Reads end with ok false once the server has ended the call (or the
  // deadline has); a failed write does not stop them.
  for (;;) {
    grpc::ByteBuffer buffer;
    call->Read(&buffer, tag);
    if (!Await(tag)) break;
    reply.messages.push_back(FromBuffer(buffer));
  }
  call->Finish(&reply.status, tag);
  Await(tag);
  if (env->verbose) {
    std::fprintf(stderr,
                 "service_fuzz: %s: %zu messages sent, %zu read, "
                 "status %d %s\n",
                 MethodPath(method), messages.size(), reply.messages.size(),
                 static_cast<int>(reply.status.error_code()),
                 reply.status.error_message().c_str());
  }
  return reply;
}

bool Specified(const v1::JobResult& r) {
  return r.outcome() != v1::JOB_OUTCOME_UNSPECIFIED &&
         v1::JobOutcome_IsValid(r.outcome());
}

// A summary counts every result it closes, each outcome once.
void CheckSummary(const v1::BatchSummary& s, uint64_t results,
                  const grpc::Status& status) {
  if (s.total() != results) Broken("summary.total != results", status);
  if (s.jobs_read() != s.total()) Broken("summary.jobs_read != total", status);
  if (s.succeeded() + s.failed() + s.cancelled() + s.deadline_exceeded() +
          s.rejected() !=
      s.total()) {
    Broken("summary outcome counts do not add up to total", status);
  }
}

// Error codes the server must not end a call with for anything a client
// sends: they would mean a failure of its own, not of the request.
void CheckCode(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::DATA_LOSS:
    case grpc::StatusCode::UNIMPLEMENTED:
      Broken("the server failed on its own", status);
    default:
      break;
  }
}

void RunBatch(const std::string& request_bytes) {
  Reply reply = Call(Method::kRunBatch, {request_bytes});
  CheckCode(reply.status);
  if (!reply.status.ok()) {
    if (!reply.messages.empty())
      Broken("a failed unary call replied", reply.status);
    return;
  }
  v1::RunBatchRequest request;
  if (!request.ParseFromString(request_bytes)) {
    Broken("OK for a request that does not parse", reply.status);
  }
  if (reply.messages.size() != 1) Broken("OK without one reply", reply.status);
  v1::RunBatchResponse response;
  if (!response.ParseFromString(reply.messages[0])) {
    Broken("the reply does not parse", reply.status);
  }
  if (response.results_size() != request.jobs_size()) {
    Broken("results != jobs", reply.status);
  }
  for (int i = 0; i < response.results_size(); ++i) {
    const v1::JobResult& r = response.results(i);
    if (!Specified(r)) Broken("a result without an outcome", reply.status);
    if (r.index() != static_cast<uint64_t>(i)) {
      Broken("a result out of request order", reply.status);
    }
  }
  if (!response.has_summary()) Broken("no summary", reply.status);
  CheckSummary(response.summary(), response.results_size(), reply.status);
}

// StreamBatch and Process replies alike: results in completion order, the
// summary on the last message. When the call ends OK, `jobs` results, one
// for each index below it.
template <typename Response>
void CheckStream(const Reply& reply, uint64_t jobs, bool all_parsed) {
  CheckCode(reply.status);
  std::vector<bool> seen(jobs, false);
  uint64_t results = 0;
  bool summary = false;
  for (size_t i = 0; i < reply.messages.size(); ++i) {
    Response response;
    if (!response.ParseFromString(reply.messages[i])) {
      Broken("a reply message does not parse", reply.status);
    }
    if (summary) Broken("a message after the summary", reply.status);
    for (const v1::JobResult& r : response.results()) {
      if (!Specified(r)) Broken("a result without an outcome", reply.status);
      ++results;
      if (reply.status.ok()) {
        if (r.index() >= jobs)
          Broken("a result index out of range", reply.status);
        if (seen[r.index()]) Broken("two results for one job", reply.status);
        seen[r.index()] = true;
      }
    }
    if (response.has_summary()) {
      summary = true;
      CheckSummary(response.summary(), results, reply.status);
    }
  }
  if (!reply.status.ok()) return;
  if (!all_parsed) Broken("OK for a message that does not parse", reply.status);
  if (!summary) Broken("OK without a summary", reply.status);
  if (results != jobs) Broken("results != jobs", reply.status);
}

void StreamBatch(const std::string& request_bytes) {
  Reply reply = Call(Method::kStreamBatch, {request_bytes});
  v1::StreamBatchRequest request;
  bool parsed = request.ParseFromString(request_bytes);
  CheckStream<v1::StreamBatchResponse>(reply, parsed ? request.jobs_size() : 0,
                                       parsed);
}

void Process(const uint8_t* data, size_t size) {
  std::vector<std::string> messages;
  uint64_t jobs = 0;
  bool all_parsed = true;
  size_t i = 0;
  while (i < size && messages.size() < kMaxProcessMessages) {
    size_t n = size - i - 1;  // The last message takes the rest.
    if (messages.size() + 1 < kMaxProcessMessages && data[i] < n) n = data[i];
    ++i;
    messages.emplace_back(reinterpret_cast<const char*>(data + i), n);
    i += n;
    v1::ProcessRequest request;
    if (all_parsed && request.ParseFromString(messages.back())) {
      jobs += request.jobs_size();
    } else {
      all_parsed = false;  // The server reads no message after it.
    }
  }
  CheckStream<v1::ProcessResponse>(Call(Method::kProcess, messages), jobs,
                                   all_parsed);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // Protobuf logs an ERROR line for every string that is not UTF-8, which
  // most inputs hold; FATAL still aborts after the handler.
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  env = new Env;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0:
      RunBatch(rest);
      break;
    case 1:
      StreamBatch(rest);
      break;
    default:
      Process(data + 1, size - 1);
      break;
  }
  return 0;
}

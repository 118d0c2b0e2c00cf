// null_service: a jobgroup.v1.JobService that does no job work, so that
// `jobgroup bench` against it measures what gRPC and protobuf alone cost on
// this machine: the ceiling jobgroupd's figures are compared with
// (bench/null_bench.sh). Every job "succeeds" at once with its payload as
// output; there is no queue, no deadline, no validation.
//
//   null_service [--listen=HOST:PORT]   (default 127.0.0.1:0, a free port)
//
// Prints "null_service listening on HOST:PORT port=N" on stderr once ready;
// SIGINT or SIGTERM stops it. Built like jobgroupd's server (callback API,
// default gRPC settings, the same message size limits), so the difference
// between the two is jobgroupd's own work.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "jobgroup/v1/jobgroup.grpc.pb.h"

namespace {

using ::jobgroup::v1::BatchSummary;
using ::jobgroup::v1::Job;
using ::jobgroup::v1::JobResult;
using ::jobgroup::v1::ProcessRequest;
using ::jobgroup::v1::ProcessResponse;
using ::jobgroup::v1::StreamBatchResponse;

// Like jobgroupd: results per stream message at most.
constexpr int kResultsPerMessage = 1024;
// Process: reply messages queued at most before the service stops reading,
// so a client that does not read cannot make it buffer without bound.
constexpr size_t kMaxQueuedReplies = 8;
constexpr int kMaxMessageBytes = 256 * 1024 * 1024;

// The result jobgroupd's echo would give, minus the timings: SUCCEEDED,
// output = payload, one attempt, served by the primary.
void Echo(const Job& job, uint64_t index, JobResult* result) {
  result->set_index(index);
  result->set_id(job.id().empty() ? std::to_string(index) : job.id());
  result->set_outcome(jobgroup::v1::JOB_OUTCOME_SUCCEEDED);
  result->set_output(job.payload());
  result->set_attempts(1);
}

void Succeeded(uint64_t jobs, BatchSummary* summary) {
  summary->set_total(jobs);
  summary->set_succeeded(jobs);
  summary->mutable_elapsed();
}

// StreamBatch: every reply message is built up front, then written one
// after another.
class NullStreamBatch
    : public grpc::ServerWriteReactor<jobgroup::v1::StreamBatchResponse> {
 public:
  explicit NullStreamBatch(const jobgroup::v1::StreamBatchRequest& request) {
    const int jobs = request.jobs_size();
    for (int i = 0; i < jobs; i += kResultsPerMessage) {
      StreamBatchResponse& message = messages_.emplace_back();
      const int end = std::min(jobs, i + kResultsPerMessage);
      message.mutable_results()->Reserve(end - i);
      for (int j = i; j < end; ++j) {
        Echo(request.jobs(j), j, message.add_results());
      }
    }
    if (messages_.empty()) messages_.emplace_back();
    Succeeded(jobs, messages_.back().mutable_summary());
    StartWrite(&messages_[0]);
  }

  void OnWriteDone(bool ok) override {
    if (ok && ++next_ < messages_.size()) {
      StartWrite(&messages_[next_]);
      return;
    }
    Finish(ok ? grpc::Status::OK
              : grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
  }

  void OnDone() override { delete this; }

 private:
  std::vector<StreamBatchResponse> messages_;
  size_t next_ = 0;  // Touched by write reactions only, one at a time.
};

// Process: each message read becomes one reply message of results; the
// client's half-close brings the summary and the end. Reads and writes
// overlap, so their reactions share `mu_`.
class NullProcess
    : public grpc::ServerBidiReactor<ProcessRequest, ProcessResponse> {
 public:
  NullProcess() { StartRead(&request_); }

  void OnReadDone(bool ok) override {
    ProcessResponse reply;
    if (ok) {
      reply.mutable_results()->Reserve(request_.jobs_size());
      for (const Job& job : request_.jobs()) {
        Echo(job, next_index_++, reply.add_results());
      }
    } else {
      Succeeded(next_index_, reply.mutable_summary());
    }
    const ProcessResponse* write = nullptr;
    bool read_more = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      if (!ok || reply.results_size() > 0) {
        replies_.push_back(std::move(reply));
        if (!writing_) write = &replies_.front();
        writing_ = true;
      }
      read_more = ok && replies_.size() < kMaxQueuedReplies;
      read_paused_ = ok && !read_more;
    }
    if (write != nullptr) StartWrite(write);
    if (read_more) StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    const ProcessResponse* write = nullptr;
    bool resume_read = false;
    bool finish = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const bool was_last = replies_.front().has_summary();
      replies_.pop_front();
      finish = finished_ = !ok || was_last;
      if (!finish && !replies_.empty()) {
        write = &replies_.front();
      } else {
        writing_ = false;
      }
      if (read_paused_ && !finish) {
        read_paused_ = false;
        resume_read = true;
      }
    }
    if (write != nullptr) StartWrite(write);
    if (resume_read) StartRead(&request_);
    if (finish) {
      Finish(ok ? grpc::Status::OK
                : grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
    }
  }

  void OnDone() override { delete this; }

 private:
  ProcessRequest request_;   // Touched by read reactions only.
  uint64_t next_index_ = 0;  // Likewise.
  std::mutex mu_;
  // The front is being written when writing_; std::deque keeps it in place
  // while others are pushed behind it.
  std::deque<ProcessResponse> replies_;
  bool writing_ = false;
  bool read_paused_ = false;
  // The call is finishing: nothing more is read or written.
  bool finished_ = false;
};

class NullJobService final : public jobgroup::v1::JobService::CallbackService {
 public:
  grpc::ServerUnaryReactor* RunBatch(
      grpc::CallbackServerContext* context,
      const jobgroup::v1::RunBatchRequest* request,
      jobgroup::v1::RunBatchResponse* response) override {
    const int jobs = request->jobs_size();
    response->mutable_results()->Reserve(jobs);
    for (int i = 0; i < jobs; ++i) {
      Echo(request->jobs(i), i, response->add_results());
    }
    Succeeded(jobs, response->mutable_summary());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerWriteReactor<StreamBatchResponse>* StreamBatch(
      grpc::CallbackServerContext*,
      const jobgroup::v1::StreamBatchRequest* request) override {
    return new NullStreamBatch(*request);
  }

  grpc::ServerBidiReactor<ProcessRequest, ProcessResponse>* Process(
      grpc::CallbackServerContext*) override {
    return new NullProcess();
  }

  grpc::ServerUnaryReactor* GetServerInfo(
      grpc::CallbackServerContext* context,
      const jobgroup::v1::GetServerInfoRequest*,
      jobgroup::v1::GetServerInfoResponse* response) override {
    response->set_version("null_service");
    jobgroup::v1::KindInfo* echo = response->add_kinds();
    echo->set_name("echo");
    echo->set_description("every job, whatever its kind: output = payload");
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--listen=", 0) == 0) {
      listen = arg.substr(std::strlen("--listen="));
    } else if (arg == "--listen" && i + 1 < argc) {
      listen = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: null_service [--listen=HOST:PORT]  (default "
                   "127.0.0.1:0)\nunexpected argument \"%s\"\n",
                   arg.c_str());
      return 2;
    }
  }
  // gRPC's threads inherit the mask: only sigwait() below sees the signals.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  NullJobService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "null_service: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::fprintf(stderr, "null_service listening on %s port=%d\n", listen.c_str(),
               port);
  std::fflush(stderr);

  int signal = 0;
  sigwait(&stop_signals, &signal);
  server->Shutdown();
  return 0;
}

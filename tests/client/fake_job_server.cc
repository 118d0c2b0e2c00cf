// The client tests' fake jobgroupd; see fake_job_server.h.
#include "tests/client/fake_job_server.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/health_check_service_interface.h"

namespace jobgroup::client::testing {
namespace {

using ::jobgroup::v1::BatchSummary;
using ::jobgroup::v1::Job;
using ::jobgroup::v1::JobResult;

JobResult ResultFor(const Job& job, uint64_t index) {
  JobResult result;
  result.set_index(index);
  result.set_id(job.id().empty() ? absl::StrCat(index) : job.id());
  if (job.kind() == "fail") {
    result.set_outcome(jobgroup::v1::JOB_OUTCOME_FAILED);
    result.mutable_error()->set_code(2);
    result.mutable_error()->set_message("asked to fail");
  } else {
    result.set_outcome(jobgroup::v1::JOB_OUTCOME_SUCCEEDED);
    result.set_output(job.payload());
  }
  result.set_attempts(1);
  return result;
}

void Count(const JobResult& result, BatchSummary& summary) {
  summary.set_total(summary.total() + 1);
  if (result.outcome() == jobgroup::v1::JOB_OUTCOME_SUCCEEDED) {
    summary.set_succeeded(summary.succeeded() + 1);
  } else {
    summary.set_failed(summary.failed() + 1);
  }
}

}  // namespace

grpc::Status FakeJobService::RunBatch(
    grpc::ServerContext* context, const jobgroup::v1::RunBatchRequest* request,
    jobgroup::v1::RunBatchResponse* response) {
  Record(*context);
  {
    absl::MutexLock lock(&mu);
    run_batch_peers.insert(context->peer());
  }
  if (run_batch_delay > absl::ZeroDuration()) absl::SleepFor(run_batch_delay);
  if (request->jobs().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "jobs: at least one job is required");
  }
  for (int i = 0; i < request->jobs_size(); ++i) {
    *response->add_results() = ResultFor(request->jobs(i), i);
    Count(response->results(i), *response->mutable_summary());
  }
  return grpc::Status::OK;
}

grpc::Status FakeJobService::StreamBatch(
    grpc::ServerContext* context,
    const jobgroup::v1::StreamBatchRequest* request,
    grpc::ServerWriter<jobgroup::v1::StreamBatchResponse>* writer) {
  Record(*context);
  BatchSummary summary;
  for (int i = 0; i < request->jobs_size(); ++i) {
    jobgroup::v1::StreamBatchResponse response;
    *response.add_results() = ResultFor(request->jobs(i), i);
    Count(response.results(0), summary);
    if (i + 1 == request->jobs_size()) *response.mutable_summary() = summary;
    writer->Write(response);
  }
  return grpc::Status::OK;
}

grpc::Status FakeJobService::Process(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<jobgroup::v1::ProcessResponse,
                             jobgroup::v1::ProcessRequest>* stream) {
  Record(*context);
  {
    absl::MutexLock lock(&mu);
    process_deadline_left =
        context->deadline() == std::chrono::system_clock::time_point::max()
            ? absl::InfiniteDuration()
            : absl::FromChrono(context->deadline()) - absl::Now();
  }
  bool stopped = false;
  jobgroup::v1::ProcessRequest request;
  BatchSummary summary;
  uint64_t index = 0;
  int messages = 0;
  while (stream->Read(&request)) {
    ++messages;
    {
      absl::MutexLock lock(&mu);
      options_in_message.push_back(request.has_options());
      if (messages == 1) process_options = request.options();
    }
    jobgroup::v1::ProcessResponse response;
    for (const Job& job : request.jobs()) {
      *response.add_results() = ResultFor(job, index++);
      Count(*response.results().rbegin(), summary);
    }
    if (response.results_size() > 0) stream->Write(response);
    if (stop_after_messages > 0 && messages == stop_after_messages) {
      absl::SleepFor(stall);
      if (on_stall_end) on_stall_end();
      summary.set_deadline_hit(true);
      stopped = true;
      break;
    }
  }
  if (context->IsCancelled()) {
    process_cancelled = true;
    return grpc::Status::CANCELLED;
  }
  jobgroup::v1::ProcessResponse last;
  summary.set_jobs_read(summary.total());
  *last.mutable_summary() = summary;
  stream->Write(last);
  if (stopped && stop_code != grpc::StatusCode::OK) {
    return grpc::Status(stop_code,
                        "the call's deadline passed with its input still open");
  }
  return grpc::Status::OK;
}

grpc::Status FakeJobService::GetServerInfo(
    grpc::ServerContext* context, const jobgroup::v1::GetServerInfoRequest*,
    jobgroup::v1::GetServerInfoResponse* response) {
  Record(*context);
  response->set_name("fake-jobgroupd");
  response->set_version("fake");
  response->mutable_limits()->mutable_default_deadline()->set_seconds(30);
  response->mutable_limits()->mutable_max_deadline()->set_seconds(600);
  return grpc::Status::OK;
}

void FakeJobService::Record(const grpc::ServerContext& context) {
  ++calls;
  auto it = context.client_metadata().find("authorization");
  absl::MutexLock lock(&mu);
  authorization = it == context.client_metadata().end()
                      ? ""
                      : std::string(it->second.data(), it->second.size());
  had_deadline =
      context.deadline() != std::chrono::system_clock::time_point::max();
}

FakeServer::FakeServer(bool fixed_window,
                       std::shared_ptr<grpc::ServerCredentials> credentials) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  if (fixed_window) builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddListeningPort(
      "127.0.0.1:0",
      credentials != nullptr ? credentials : grpc::InsecureServerCredentials(),
      &port_);
  builder.RegisterService(&service_);
  server_ = builder.BuildAndStart();
}

FakeServer::~FakeServer() {
  server_->Shutdown(absl::ToChronoTime(absl::Now()));
}

std::string FakeServer::target() const {
  return absl::StrCat("127.0.0.1:", port_);
}

Job MakeJob(std::string kind, std::string payload) {
  Job job;
  job.set_kind(std::move(kind));
  job.set_payload(std::move(payload));
  return job;
}

}  // namespace jobgroup::client::testing

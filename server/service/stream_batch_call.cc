// StreamBatch: all the jobs up front, results streamed as they finish
// (StreamingCall), the summary in the last message. The request comes raw
// and is parsed onto an arena of its own once the token and its shape have
// been checked (CallGate::ReadRequest()), and freed once its jobs are
// specs, before any of them runs.
#include <string>
#include <utility>

#include "google/protobuf/arena.h"
#include "server/core/caller_runs.h"
#include "server/service/arena_messages.h"
#include "server/service/job_calls.h"
#include "server/service/result_stream.h"

namespace jobgroup {
namespace {

class StreamBatchCall final
    : public StreamingCall<grpc::ServerWriteReactor<v1::StreamBatchResponse>,
                           v1::StreamBatchResponse> {
 public:
  StreamBatchCall(const ServiceContext& ctx,
                  grpc::CallbackServerContext* context)
      : StreamingCall(ctx, context, Method::kStreamBatch),
        request_arena_(CallArenaOptions(&request_block_)),
        request_(google::protobuf::Arena::CreateMessage<v1::StreamBatchRequest>(
            &request_arena_)) {}

  void Start(grpc::ByteBuffer& raw) {
    const ServiceContext& ctx = gate_.ctx();
    if (absl::Status s = gate_.ReadRequest(raw, kJobsField, *request_);
        !s.ok()) {
      return FailBeforeRun(s);
    }
    absl::StatusOr<TaskGroup::Options> options =
        gate_.AcceptBatch(request_->jobs(), request_->options());
    if (!options.ok()) return FailBeforeRun(options.status());
    StartRun(*options);
    RunAllJobs(*run_, *ctx.validator, request_->jobs(), gate_.traceparent(),
               request_arena_.SpaceUsed(), &specs_, [this] {
                 request_ = nullptr;
                 request_arena_.Reset();
               });
  }

  void OnCancel() override {
    gate_.Cancelled();
    if (run_) run_->Cancel(CancelCause::kClient);
  }
  void OnDone() override { delete this; }

 private:
  void NamesOf(absl::Span<const JobResult> results, JobName* names,
               uint64_t*) override {
    // The call's share of each spec goes to the result, which keeps it
    // while the sink takes it.
    const auto* jobs = request_ == nullptr ? nullptr : &request_->jobs();
    for (const JobResult& r : results) {
      *names++ = TakeJobName(specs_, jobs, r.index);
    }
  }

  static constexpr int kJobsField = 1;  // StreamBatchRequest.jobs

  FirstArenaBlock request_block_;
  google::protobuf::Arena request_arena_;
  // On request_arena_; null once its jobs are specs_.
  v1::StreamBatchRequest* request_;
  // One per job, each dropped once the job's result is taken.
  JobSpecs specs_;
};
}  // namespace

grpc::ServerWriteReactor<v1::StreamBatchResponse>* StartStreamBatchCall(
    const ServiceContext& ctx, grpc::CallbackServerContext* context,
    grpc::ByteBuffer* raw) {
  auto* call = new StreamBatchCall(ctx, context);
  {
    // As in RunBatch: a small call of quick jobs runs on this thread.
    CallerRuns caller_runs;
    call->Start(*raw);
  }
  return call;
}

}  // namespace jobgroup

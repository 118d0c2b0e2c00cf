// RunBatch: one unary reactor per call. The request comes raw; it is parsed
// onto an arena of its own once the token and its shape have been checked
// (CallGate::ReadRequest()), and freed once its jobs are specs, before any
// of them runs. Every result has its slot in the
// response up front; the run's sink fills them from any thread, and the
// reply goes out when the run is done — unless it would be over the message
// limit: then the call ends RESOURCE_EXHAUSTED (counted and logged so),
// saying how large it would have been and pointing to the streaming calls.
#include <atomic>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/core/caller_runs.h"
#include "server/core/task_group.h"
#include "server/service/arena_messages.h"
#include "server/service/call_gate.h"
#include "server/service/job_calls.h"
#include "server/service/proto_mapping.h"

namespace jobgroup {
namespace {

class RunBatchCall final : public grpc::ServerUnaryReactor {
 public:
  RunBatchCall(const ServiceContext& ctx, grpc::CallbackServerContext* context,
               v1::RunBatchResponse* response)
      : gate_(ctx, context, Method::kRunBatch),
        request_arena_(CallArenaOptions(&request_block_)),
        request_(google::protobuf::Arena::CreateMessage<v1::RunBatchRequest>(
            &request_arena_)),
        response_(response),
        sink_(this) {}

  void Start(grpc::ByteBuffer& raw) {
    const ServiceContext& ctx = gate_.ctx();
    if (absl::Status s = gate_.ReadRequest(raw, kJobsField, *request_);
        !s.ok()) {
      return Fail(s);
    }
    absl::StatusOr<TaskGroup::Options> options =
        gate_.AcceptBatch(request_->jobs(), request_->options());
    if (!options.ok()) return Fail(options.status());
    const uint64_t n = request_->jobs_size();
    // Every result has its slot up front; sinks fill them from any thread.
    auto* results = response_->mutable_results();
    results->Reserve(static_cast<int>(n));
    for (uint64_t i = 0; i < n; ++i) results->Add();
    policy_ = options->policy;
    run_ = TaskGroup::Create(ctx.executor, *options, &sink_);
    gate_.Register(run_);
    RunAllJobs(*run_, *ctx.validator, request_->jobs(), gate_.traceparent(),
               request_arena_.SpaceUsed(), &specs_, [this] {
                 request_ = nullptr;
                 request_arena_.Reset();
               });
  }

  // Starts the call; returns the reactor gRPC is to drive it with. A call
  // over before it returns (refused, or a small call of quick jobs, run
  // here on the thread that read it: CallerRuns) is sent with the
  // context's default reactor, and this one is deleted: gRPC runs the
  // OnDone() of a reactor of ours on its executor, a thread hop per call
  // that its default reactor, having nothing to do there, is spared.
  grpc::ServerUnaryReactor* Begin(grpc::CallbackServerContext* context,
                                  grpc::ByteBuffer& raw) {
    {
      CallerRuns caller_runs;
      Start(raw);
    }
    Stage expected = Stage::kStarting;
    if (stage_.compare_exchange_strong(expected, Stage::kStarted,
                                       std::memory_order_acq_rel)) {
      return this;  // Still running: End() finishes it.
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(std::move(ended_status_));
    delete this;
    return reactor;
  }

  void OnCancel() override {
    gate_.Cancelled();
    if (run_) run_->Cancel(CancelCause::kClient);
  }
  void OnDone() override { delete this; }

 private:
  // OK, or RESOURCE_EXHAUSTED when the reply would be over
  // --max_message_bytes. The exact size is computed only when a cheap
  // bound over the results says the reply might not fit.
  absl::Status CheckReplySize() const {
    const uint64_t limit = gate_.ctx().options->max_message_bytes;
    uint64_t bound = kSummaryBytesAtMost;
    for (const v1::JobResult& r : response_->results()) {
      bound += ResultBytesAtMost(r);
    }
    if (bound <= limit) return absl::OkStatus();
    uint64_t bytes = response_->ByteSizeLong();
    if (bytes <= limit) return absl::OkStatus();
    return absl::ResourceExhaustedError(absl::StrCat(
        "the reply would be ", bytes,
        " bytes, over the server's message "
        "limit of ",
        limit,
        " bytes (--max_message_bytes): every job ran, "
        "but its results cannot be sent in one message; use StreamBatch or "
        "Process, which send results as they finish in messages under the "
        "limit, or send fewer jobs per call"));
  }

  class Sink : public ResultSink {
   public:
    explicit Sink(RunBatchCall* call) : call_(call) {}
    bool OnResult(JobResult r) override {
      return OnResults(absl::MakeSpan(&r, 1)) == 1;
    }
    uint64_t OnResults(absl::Span<JobResult> results) override {
      CallGate::DoneBatch done;
      const auto* jobs =
          call_->request_ == nullptr ? nullptr : &call_->request_->jobs();
      for (JobResult& r : results) {
        // The job's last use of its spec here: the call's share goes.
        const JobName name = TakeJobName(call_->specs_, jobs, r.index);
        if (call_->gate_.JobDone(name.kind, r, done)) {
          call_->OnOutputOverLimit(r);
        }
        FillResult(
            r, name.id,
            call_->response_->mutable_results(static_cast<int>(r.index)));
      }
      call_->gate_.JobsDone(done);
      return results.size();
    }
    void OnDone(const BatchSummary& run_summary) override {
      BatchSummary summary = call_->gate_.Summary(run_summary);
      call_->gate_.FillSummary(summary, call_->specs_.size(),
                               call_->response_->mutable_summary());
      absl::Status s = call_->CheckReplySize();
      if (!s.ok()) call_->response_->Clear();
      s = call_->gate_.End(s, &summary);
      call_->End(ToGrpc(s));
    }

   private:
    RunBatchCall* const call_;
  };

  void Fail(const absl::Status& s) { End(ToGrpc(gate_.End(s, nullptr))); }

  // Sends the reply with `status`; from any thread, once. While the call
  // is still being started (Begin() has not returned), only keeps the
  // status for Begin() to send.
  void End(grpc::Status status) {
    ended_status_ = std::move(status);
    Stage expected = Stage::kStarting;
    if (stage_.compare_exchange_strong(expected, Stage::kEndedWhileStarting,
                                       std::memory_order_acq_rel)) {
      return;
    }
    Finish(std::move(ended_status_));
  }

  // A job FAILED for its output's size (CallGate::JobDone) after the run
  // counted it as a success: under FAIL_FAST it cancels the others, as
  // any failure does.
  void OnOutputOverLimit(const JobResult& r) {
    if (policy_ != FailurePolicy::kFailFast) return;
    run_->Cancel(CancelCause::kFailFast, absl::CancelledError(absl::StrCat(
                                             "cancelled because job ", r.index,
                                             " failed: ", r.error.message())));
  }

  static constexpr int kJobsField = 1;  // RunBatchRequest.jobs

  enum class Stage : uint8_t {
    kStarting,            // In Begin(): End() keeps the status.
    kEndedWhileStarting,  // End() came first: Begin() sends the reply.
    kStarted,             // Begin() returned this reactor: End() finishes.
  };
  std::atomic<Stage> stage_{Stage::kStarting};
  grpc::Status ended_status_;  // Written by End() before it moves stage_.

  CallGate gate_;
  FirstArenaBlock request_block_;
  google::protobuf::Arena request_arena_;
  // On request_arena_; null once its jobs are specs_.
  v1::RunBatchRequest* request_;
  // One per job, each dropped once the job's result is in its slot.
  JobSpecs specs_;
  v1::RunBatchResponse* const response_;
  Sink sink_;
  FailurePolicy policy_ = FailurePolicy::kFailFast;
  std::shared_ptr<TaskGroup> run_;
};
}  // namespace

grpc::ServerUnaryReactor* StartRunBatchCall(
    const ServiceContext& ctx, grpc::CallbackServerContext* context,
    grpc::ByteBuffer* raw, v1::RunBatchResponse* response) {
  auto* call = new RunBatchCall(ctx, context, response);
  return call->Begin(context, *raw);
}

}  // namespace jobgroup

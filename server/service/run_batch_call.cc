// RunBatch: one unary reactor per call. Every result has its slot in the
// response up front; the run's sink fills them from any thread, and the
// reply goes out when the run is done.
#include <memory>
#include <utility>

#include "server/core/batch_run.h"
#include "server/service/call_gate.h"
#include "server/service/job_calls.h"
#include "server/service/proto_mapping.h"

namespace jobgroup {
namespace {

class RunBatchCall final : public grpc::ServerUnaryReactor {
 public:
  RunBatchCall(const ServiceContext& ctx, grpc::CallbackServerContext* context,
               const v1::RunBatchRequest* request,
               v1::RunBatchResponse* response)
      : gate_(ctx, context, Method::kRunBatch),
        request_(request),
        response_(response),
        sink_(this) {}

  void Start() {
    const ServiceContext& ctx = gate_.ctx();
    absl::StatusOr<BatchRun::Options> options =
        gate_.AcceptBatch(request_->jobs(), request_->options());
    if (!options.ok()) return Fail(options.status());
    uint64_t n = request_->jobs_size();
    // Every result has its slot up front; sinks fill them from any thread.
    auto* results = response_->mutable_results();
    results->Reserve(static_cast<int>(n));
    for (uint64_t i = 0; i < n; ++i) results->Add();
    run_ = BatchRun::Create(ctx.dispatcher, *options, &sink_);
    gate_.Register(run_);
    RunAllJobs(*run_, *ctx.validator, request_->jobs());
  }

  void OnCancel() override {
    gate_.Cancelled();
    if (run_) run_->Cancel(CancelCause::kClient);
  }
  void OnDone() override { delete this; }

 private:
  class Sink : public ResultSink {
   public:
    explicit Sink(RunBatchCall* call) : call_(call) {}
    bool OnResult(JobResult r) override {
      const v1::Job& job = call_->request_->jobs(static_cast<int>(r.index));
      call_->gate_.JobDone(job.kind(), r);
      FillResult(r, job.id(),
                 call_->response_->mutable_results(static_cast<int>(r.index)));
      return true;
    }
    void OnDone(const BatchSummary& summary) override {
      FillSummary(summary, call_->response_->mutable_summary());
      call_->Finish(ToGrpc(call_->gate_.End(absl::OkStatus(), &summary)));
    }

   private:
    RunBatchCall* const call_;
  };

  void Fail(const absl::Status& s) { Finish(ToGrpc(gate_.End(s, nullptr))); }

  CallGate gate_;
  const v1::RunBatchRequest* const request_;
  v1::RunBatchResponse* const response_;
  Sink sink_;
  std::shared_ptr<BatchRun> run_;
};
}  // namespace

grpc::ServerUnaryReactor* StartRunBatchCall(
    const ServiceContext& ctx, grpc::CallbackServerContext* context,
    const v1::RunBatchRequest* request, v1::RunBatchResponse* response) {
  auto* call = new RunBatchCall(ctx, context, request, response);
  call->Start();
  return call;
}

}  // namespace jobgroup

// StreamBatch: all the jobs up front, results streamed as they finish
// (StreamingCall), the summary in the last message.
#include <string>
#include <utility>

#include "server/service/job_calls.h"
#include "server/service/result_stream.h"

namespace jobgroup {
namespace {

class StreamBatchCall final
    : public StreamingCall<grpc::ServerWriteReactor<v1::StreamBatchResponse>,
                           v1::StreamBatchResponse> {
 public:
  StreamBatchCall(const ServiceContext& ctx,
                  grpc::CallbackServerContext* context,
                  const v1::StreamBatchRequest* request)
      : StreamingCall(ctx, context, Method::kStreamBatch), request_(request) {}

  void Start() {
    const ServiceContext& ctx = gate_.ctx();
    absl::StatusOr<BatchRun::Options> options =
        gate_.AcceptBatch(request_->jobs(), request_->options());
    if (!options.ok()) return FailBeforeRun(options.status());
    StartRun(*options);
    RunAllJobs(*run_, *ctx.validator, request_->jobs());
  }

  void OnCancel() override {
    gate_.Cancelled();
    if (run_) run_->Cancel(CancelCause::kClient);
  }
  void OnDone() override { delete this; }

 private:
  std::pair<std::string, std::string> KindAndId(const JobResult& r) override {
    const v1::Job& job = request_->jobs(static_cast<int>(r.index));
    return {job.kind(), job.id()};
  }

  const v1::StreamBatchRequest* const request_;
};
}  // namespace

grpc::ServerWriteReactor<v1::StreamBatchResponse>* StartStreamBatchCall(
    const ServiceContext& ctx, grpc::CallbackServerContext* context,
    const v1::StreamBatchRequest* request) {
  auto* call = new StreamBatchCall(ctx, context, request);
  call->Start();
  return call;
}

}  // namespace jobgroup

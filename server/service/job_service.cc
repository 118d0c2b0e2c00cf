// JobServiceImpl: each job-running method hands its call to its reactor
// (job_calls.h); GetServerInfo answers from the shared context.
#include "server/service/job_service.h"

#include <grpcpp/impl/codegen/server_callback_handlers.h>

#include <utility>

#include "server/service/call_gate.h"
#include "server/service/job_calls.h"
#include "server/service/proto_mapping.h"

namespace jobgroup {
namespace {

// Indexes among JobService's methods (jobgroup.proto's order).
constexpr int kRunBatchMethodIndex = 0;
constexpr int kStreamBatchMethodIndex = 1;
constexpr int kProcessMethodIndex = 2;

}  // namespace

JobServiceImpl::JobServiceImpl(ServiceContext ctx) : ctx_(std::move(ctx)) {
  // Raw requests, typed replies: replaces the handlers the generated
  // CallbackService registered (job_calls.h says why).
  auto* run_batch =
      new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer,
                                               v1::RunBatchResponse>(
          [this](grpc::CallbackServerContext* context,
                 const grpc::ByteBuffer* raw, v1::RunBatchResponse* response) {
            // The buffer is the call's (run_batch_messages_' holder); the call
            // empties it once parsed.
            return StartRunBatchCall(
                ctx_, context, const_cast<grpc::ByteBuffer*>(raw), response);
          });
  run_batch->SetMessageAllocator(&run_batch_messages_);
  MarkMethodRawCallback(kRunBatchMethodIndex, run_batch);
  MarkMethodRawCallback(kStreamBatchMethodIndex,
                        new grpc::internal::CallbackServerStreamingHandler<
                            grpc::ByteBuffer, v1::StreamBatchResponse>(
                            [this](grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* raw) {
                              // gRPC keeps the buffer until the call is over;
                              // the call empties it once parsed.
                              return StartStreamBatchCall(
                                  ctx_, context,
                                  const_cast<grpc::ByteBuffer*>(raw));
                            }));
  MarkMethodRawCallback(
      kProcessMethodIndex,
      new grpc::internal::CallbackBidiHandler<grpc::ByteBuffer,
                                              v1::ProcessResponse>(
          [this](grpc::CallbackServerContext* context) {
            return StartProcessCall(ctx_, context);
          }));
}

grpc::ServerUnaryReactor* JobServiceImpl::GetServerInfo(
    grpc::CallbackServerContext* context, const v1::GetServerInfoRequest*,
    v1::GetServerInfoResponse* response) {
  absl::Time start = absl::Now();
  ctx_.metrics->CallStarted(Method::kGetServerInfo);
  if (absl::Status s = Authenticate(ctx_, *context); !s.ok()) {
    ctx_.metrics->CallHandled(Method::kGetServerInfo,
                              static_cast<int>(s.code()), absl::Now() - start);
    auto* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  response->set_name(ctx_.server_name);
  response->set_version(ctx_.version);
  for (const JobKind* k : ctx_.kinds->List()) {
    v1::KindInfo* info = response->add_kinds();
    info->set_name(k->info.name);
    info->set_backend(k->info.backend);
    info->set_description(k->info.description);
  }
  for (const Semaphore* b : ctx_.backends->List()) {
    v1::BackendInfo* info = response->add_backends();
    info->set_name(b->name());
    info->set_capacity(b->capacity());
    info->set_in_use(b->in_use());
    info->set_waiting(b->waiting());
  }
  response->mutable_queue()->set_capacity(ctx_.workers->queue_capacity());
  response->mutable_queue()->set_depth(ctx_.workers->queue_depth());
  response->mutable_queue()->set_parked(ctx_.workers->queue_parked());
  response->mutable_workers()->set_total(ctx_.workers->workers());
  response->mutable_workers()->set_busy(ctx_.workers->busy());
  response->mutable_workers()->set_long_running(ctx_.workers->long_tasks());
  response->mutable_workers()->set_threads(ctx_.workers->threads());
  const ServerOptions& o = *ctx_.options;
  v1::Limits* limits = response->mutable_limits();
  limits->set_max_jobs_per_call(o.max_jobs_per_call);
  limits->set_max_payload_bytes(o.max_payload_bytes);
  SetDuration(o.default_deadline, limits->mutable_default_deadline());
  SetDuration(o.max_deadline, limits->mutable_max_deadline());
  limits->set_max_inflight_jobs(ctx_.admission->limit());
  limits->set_inflight_jobs(ctx_.jobs_in_flight->load());
  limits->set_max_concurrency(o.max_concurrency);
  limits->set_max_output_bytes(o.max_output_bytes);
  limits->set_max_message_bytes(o.max_message_bytes);
  limits->set_memory_budget_bytes(ctx_.memory->limit());
  limits->set_memory_in_use_bytes(ctx_.memory->used());
  ctx_.metrics->CallHandled(Method::kGetServerInfo, 0, absl::Now() - start);
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}
}  // namespace jobgroup

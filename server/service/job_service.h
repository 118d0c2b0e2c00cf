// JobService: the gRPC face of jobgroup, thin over the core. Each call is a
// small callback reactor that validates, admits, hands the jobs to a
// TaskGroup and turns its results into protobuf messages; no reaction
// blocks. gRPC status is made from absl::Status in proto_mapping only.
// RunBatch, StreamBatch and Process are registered with raw requests
// (job_calls.h), so they have no typed method here.
//
// Thread-safe; calls run concurrently on gRPC's callback threads.
#ifndef JOBGROUP_SERVER_SERVICE_JOB_SERVICE_H_
#define JOBGROUP_SERVER_SERVICE_JOB_SERVICE_H_

#include <utility>

#include "jobgroup/v1/jobgroup.grpc.pb.h"
#include "server/service/arena_messages.h"
#include "server/service/service_context.h"

namespace jobgroup {

class JobServiceImpl final : public v1::JobService::CallbackService {
 public:
  explicit JobServiceImpl(ServiceContext ctx);

  // What every call of the service reads; lives as long as the service.
  const ServiceContext& context() const { return ctx_; }

  grpc::ServerUnaryReactor* GetServerInfo(
      grpc::CallbackServerContext* context,
      const v1::GetServerInfoRequest* request,
      v1::GetServerInfoResponse* response) override;

 private:
  ServiceContext ctx_;
  // RunBatch's parsed request and its response live on one arena per call.
  RawRequestArenaAllocator<v1::RunBatchResponse> run_batch_messages_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_JOB_SERVICE_H_

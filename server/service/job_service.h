// JobService: the gRPC face of jobgroup, thin over the core. Each call is a
// small callback reactor that validates, admits, hands the jobs to a
// BatchRun and turns its results into protobuf messages; no reaction
// blocks. gRPC status is made from absl::Status in proto_mapping only.
// Process is registered with raw reads (job_calls.h), so it has no typed
// method here.
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

  grpc::ServerUnaryReactor* RunBatch(grpc::CallbackServerContext* context,
                                     const v1::RunBatchRequest* request,
                                     v1::RunBatchResponse* response) override;
  grpc::ServerWriteReactor<v1::StreamBatchResponse>* StreamBatch(
      grpc::CallbackServerContext* context,
      const v1::StreamBatchRequest* request) override;
  grpc::ServerUnaryReactor* GetServerInfo(
      grpc::CallbackServerContext* context,
      const v1::GetServerInfoRequest* request,
      v1::GetServerInfoResponse* response) override;

 private:
  ServiceContext ctx_;
  // RunBatch's request and response live on one arena per call.
  ArenaMessageAllocator<v1::RunBatchRequest, v1::RunBatchResponse>
      run_batch_messages_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_JOB_SERVICE_H_

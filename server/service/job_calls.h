// The reactors of JobService's job-running methods, one file each
// (run_batch_call.cc, stream_batch_call.cc, process_call.cc). Each Start*
// creates the call's reactor, starts it and returns it to gRPC, which owns
// it; the reactor deletes itself in OnDone(). `ctx` outlives every call.
#ifndef JOBGROUP_SERVER_SERVICE_JOB_CALLS_H_
#define JOBGROUP_SERVER_SERVICE_JOB_CALLS_H_

#include <grpcpp/grpcpp.h>

#include "jobgroup/v1/jobgroup.pb.h"
#include "server/service/service_context.h"

namespace jobgroup {

grpc::ServerUnaryReactor* StartRunBatchCall(
    const ServiceContext& ctx, grpc::CallbackServerContext* context,
    const v1::RunBatchRequest* request, v1::RunBatchResponse* response);

grpc::ServerWriteReactor<v1::StreamBatchResponse>* StartStreamBatchCall(
    const ServiceContext& ctx, grpc::CallbackServerContext* context,
    const v1::StreamBatchRequest* request);

// Process reads its messages raw and parses them itself (process_call.cc);
// JobServiceImpl registers it so.
grpc::ServerBidiReactor<grpc::ByteBuffer, v1::ProcessResponse>*
StartProcessCall(const ServiceContext& ctx,
                 grpc::CallbackServerContext* context);

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_JOB_CALLS_H_

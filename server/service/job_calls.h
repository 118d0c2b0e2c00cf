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

// Every job-running call gets its request raw (grpc::ByteBuffer) and
// parses it itself, after checking the token and the request's shape
// (CallGate::ReadRequest()), so that a request is never parsed for a caller
// without a token, nor when its parse would not fit the memory budget;
// JobServiceImpl registers them so. `raw` is the call's and the reactor
// empties it once parsed.
grpc::ServerUnaryReactor* StartRunBatchCall(
    const ServiceContext& ctx, grpc::CallbackServerContext* context,
    grpc::ByteBuffer* raw, v1::RunBatchResponse* response);

grpc::ServerWriteReactor<v1::StreamBatchResponse>* StartStreamBatchCall(
    const ServiceContext& ctx, grpc::CallbackServerContext* context,
    grpc::ByteBuffer* raw);

// Process reads each message raw and parses it (process_call.cc).
grpc::ServerBidiReactor<grpc::ByteBuffer, v1::ProcessResponse>*
StartProcessCall(const ServiceContext& ctx,
                 grpc::CallbackServerContext* context);

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_JOB_CALLS_H_

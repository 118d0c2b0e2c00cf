// A fake jobgroupd for the client's tests: a JobService that runs every job
// at once ("fail" fails, anything else echoes its payload), served with
// gRPC's standard health service on a free 127.0.0.1 port. Real gRPC over
// loopback, so the client's calls, flow control and errors are the real ones.
//
// Thread-safety: the service's handlers run on gRPC threads; the knobs
// (stop_after_messages, stall, on_stall_end, run_batch_delay) must be set
// before the first call; the recorded fields are atomics or guarded by `mu`.
// GetServerInfo answers version "fake", default deadline 30s and max deadline
// 10m.
#ifndef JOBGROUP_TESTS_CLIENT_FAKE_JOB_SERVER_H_
#define JOBGROUP_TESTS_CLIENT_FAKE_JOB_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "jobgroup/v1/jobgroup.grpc.pb.h"

namespace jobgroup::client::testing {

class FakeJobService final : public jobgroup::v1::JobService::Service {
 public:
  // Process stops reading after this many messages (0: never), waits
  // `stall`, then answers with what it has, like a server whose deadline hit.
  int stop_after_messages = 0;
  absl::Duration stall = absl::ZeroDuration();
  // Called when the stall ends, before the reply.
  std::function<void()> on_stall_end;
  // The status Process ends with when it stops early: OK (a server breaking
  // its promise) or, say, DEADLINE_EXCEEDED (as jobgroupd's deadline does).
  grpc::StatusCode stop_code = grpc::StatusCode::OK;
  // RunBatch waits this long before it answers.
  absl::Duration run_batch_delay = absl::ZeroDuration();

  std::atomic<int> calls{0};
  std::atomic<bool> process_cancelled{false};
  absl::Mutex mu;
  // For each Process message: whether it carried options.
  std::vector<bool> options_in_message ABSL_GUARDED_BY(mu);
  jobgroup::v1::BatchOptions process_options ABSL_GUARDED_BY(mu);
  // The authorization metadata of the last call.
  std::string authorization ABSL_GUARDED_BY(mu);
  // Whether the last call carried a deadline.
  bool had_deadline ABSL_GUARDED_BY(mu) = false;
  // The peers (client address and port: one per connection) of RunBatch
  // calls.
  std::set<std::string> run_batch_peers ABSL_GUARDED_BY(mu);
  // Time left to the deadline of the last Process call as it began
  // (infinite when it had none).
  absl::Duration process_deadline_left ABSL_GUARDED_BY(mu) =
      absl::InfiniteDuration();

  grpc::Status RunBatch(grpc::ServerContext* context,
                        const jobgroup::v1::RunBatchRequest* request,
                        jobgroup::v1::RunBatchResponse* response) override;
  grpc::Status StreamBatch(
      grpc::ServerContext* context,
      const jobgroup::v1::StreamBatchRequest* request,
      grpc::ServerWriter<jobgroup::v1::StreamBatchResponse>* writer) override;
  grpc::Status Process(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<jobgroup::v1::ProcessResponse,
                               jobgroup::v1::ProcessRequest>* stream) override;
  grpc::Status GetServerInfo(
      grpc::ServerContext* context,
      const jobgroup::v1::GetServerInfoRequest* request,
      jobgroup::v1::GetServerInfoResponse* response) override;

 private:
  void Record(const grpc::ServerContext& context);
};

// FakeServer serves a FakeJobService until destroyed.
class FakeServer {
 public:
  // `fixed_window` turns off the growth of HTTP/2 flow-control windows, so
  // that what a stalled server lets in is small and predictable.
  // `credentials` default to plaintext.
  explicit FakeServer(
      bool fixed_window = false,
      std::shared_ptr<grpc::ServerCredentials> credentials = nullptr);
  ~FakeServer();

  FakeJobService& service() { return service_; }
  grpc::Server& server() { return *server_; }
  // "127.0.0.1:PORT".
  std::string target() const;

 private:
  FakeJobService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// MakeJob() builds a job of `kind` with `payload`.
jobgroup::v1::Job MakeJob(std::string kind, std::string payload = "");

}  // namespace jobgroup::client::testing

#endif  // JOBGROUP_TESTS_CLIENT_FAKE_JOB_SERVER_H_

// Streams that a client opens and leaves open, against the real jobgroupd
// on loopback (issue 15, part 4): a Process stream that sends nothing is
// ended after --stream_idle_timeout, and by the call's deadline counted
// from its start; one connection never has more than
// --max_concurrent_streams streams open in the server; past
// --max_open_streams a new Process, RunBatch or Health Watch is refused
// with RESOURCE_EXHAUSTED and counted. After each, a normal call succeeds.
//
// Every wait is bounded by the work with wide margins (tens of seconds for
// what takes about one), never by a sleep that hopes.
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace jobgroup::testing {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// Polls until the series has value `want`, for up to `timeout`.
bool WaitForMetric(const ServerProcess& server, const std::string& series,
                   double want, absl::Duration timeout = absl::Seconds(20)) {
  absl::Time give_up = absl::Now() + timeout;
  while (absl::Now() < give_up) {
    if (server.MetricValue(series) == want) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

// A Process stream that opens and sends nothing (no message, no
// half-close) until the server ends it or the test cancels it.
// `deadline_ms` 0: no client deadline.
class SilentProcess final
    : public grpc::ClientBidiReactor<v1::ProcessRequest, v1::ProcessResponse> {
 public:
  SilentProcess(v1::JobService::Stub& stub, int deadline_ms) {
    if (deadline_ms > 0) SetDeadlineMs(&ctx_, deadline_ms);
    stub.async()->Process(&ctx_, this);
    StartCall();
  }
  void OnDone(const grpc::Status& s) override {
    status_ = s;
    done_.Notify();
  }
  void Cancel() { ctx_.TryCancel(); }
  // True once the call has ended, waiting up to `timeout`.
  bool WaitDone(absl::Duration timeout) {
    return done_.WaitForNotificationWithTimeout(timeout);
  }
  const grpc::Status& status() const { return status_; }

 private:
  grpc::ClientContext ctx_;
  grpc::Status status_;
  absl::Notification done_;
};

// A Health Watch of the whole server: records the first status received
// and the call's end.
class Watcher final : public grpc::ClientReadReactor<HealthCheckResponse> {
 public:
  explicit Watcher(Health::Stub& stub) {
    SetDeadlineMs(&ctx_, 60000);
    stub.async()->Watch(&ctx_, &request_, this);
    StartRead(&response_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (ok && !first_.HasBeenNotified()) {
      first_status_ = response_.status();
      first_.Notify();
    }
  }
  void OnDone(const grpc::Status& s) override {
    status_ = s;
    done_.Notify();
  }
  void Cancel() { ctx_.TryCancel(); }
  bool WaitFirst(absl::Duration t) {
    return first_.WaitForNotificationWithTimeout(t);
  }
  bool WaitDone(absl::Duration t) {
    return done_.WaitForNotificationWithTimeout(t);
  }
  HealthCheckResponse::ServingStatus first_status() const {
    return first_status_;
  }
  const grpc::Status& status() const { return status_; }

 private:
  grpc::ClientContext ctx_;
  HealthCheckRequest request_;
  HealthCheckResponse response_;
  HealthCheckResponse::ServingStatus first_status_ =
      HealthCheckResponse::UNKNOWN;
  grpc::Status status_;
  absl::Notification first_;
  absl::Notification done_;
};

// A normal call: three echo jobs, all SUCCEEDED.
void ExpectEchoCallSucceeds(const ServerProcess& server) {
  auto stub = server.NewStub();
  v1::RunBatchRequest request;
  for (int i = 0; i < 3; ++i) *request.add_jobs() = MakeJob("echo");
  v1::RunBatchResponse response;
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 10000);
  grpc::Status s = stub->RunBatch(&ctx, request, &response);
  ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message() << "\n"
                      << server.Log();
  EXPECT_EQ(response.summary().succeeded(), 3u);
}

TEST(StreamLimitsTest, ProcessStreamThatSendsNothingIsEndedAfterIdleLimit) {
  ServerProcess server(JOBGROUPD_PATH, {"--stream_idle_timeout=1s"});
  auto stub = server.NewStub();
  // The client would wait a minute; the server ends it after about 1 s.
  SilentProcess call(*stub, 60000);
  ASSERT_TRUE(call.WaitDone(absl::Seconds(30))) << server.Log();
  EXPECT_EQ(call.status().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << call.status().error_message();
  EXPECT_TRUE(
      absl::StrContains(call.status().error_message(), "--stream_idle_timeout"))
      << call.status().error_message();
  EXPECT_EQ(
      server.MetricValue("jobgroup_rejected_total{reason=\"stream_idle\"}"), 1);
  EXPECT_TRUE(WaitForMetric(server, "jobgroup_open_streams", 0));
  ExpectEchoCallSucceeds(server);
}

TEST(StreamLimitsTest, ProcessDeadlineRunsFromTheStreamsStart) {
  // No client deadline, an idle limit longer than the default deadline:
  // the default deadline, counted from the stream's start, ends it.
  ServerProcess server(JOBGROUPD_PATH,
                       {"--stream_idle_timeout=10m", "--default_deadline=1s"});
  auto stub = server.NewStub();
  SilentProcess call(*stub, 0);
  ASSERT_TRUE(call.WaitDone(absl::Seconds(30))) << server.Log();
  EXPECT_EQ(call.status().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << call.status().error_message();
  EXPECT_TRUE(
      absl::StrContains(call.status().error_message(), "deadline passed"))
      << call.status().error_message();
  ExpectEchoCallSucceeds(server);
}

TEST(StreamLimitsTest, OneConnectionNeverHasMoreThanItsLimitOpen) {
  constexpr int kLimit = 4;
  ServerProcess server(JOBGROUPD_PATH,
                       {absl::StrCat("--max_concurrent_streams=", kLimit),
                        "--stream_idle_timeout=10m"});
  auto stub = server.NewStub();  // One channel: one connection.
  std::vector<std::unique_ptr<SilentProcess>> calls;
  for (int i = 0; i < 3 * kLimit; ++i) {
    calls.push_back(std::make_unique<SilentProcess>(*stub, 60000));
  }
  ASSERT_TRUE(WaitForMetric(server, "jobgroup_open_streams", kLimit))
      << server.MetricValue("jobgroup_open_streams") << "\n"
      << server.Log();
  // The others wait in the client's transport: the server never sees more.
  for (int i = 0; i < 20; ++i) {
    EXPECT_LE(server.MetricValue("jobgroup_open_streams"), kLimit);
    absl::SleepFor(absl::Milliseconds(25));
  }
  for (auto& c : calls) EXPECT_FALSE(c->WaitDone(absl::ZeroDuration()));
  for (auto& c : calls) c->Cancel();
  for (auto& c : calls) ASSERT_TRUE(c->WaitDone(absl::Seconds(20)));
  EXPECT_TRUE(WaitForMetric(server, "jobgroup_open_streams", 0));
  ExpectEchoCallSucceeds(server);
}

TEST(StreamLimitsTest, PastTheTotalCapNewStreamsAreRefusedAndCounted) {
  ServerProcess server(JOBGROUPD_PATH,
                       {"--max_open_streams=3", "--stream_idle_timeout=10m"});
  // Two Process streams and a health watcher, each on its own connection,
  // fill the cap.
  std::vector<std::unique_ptr<v1::JobService::Stub>> stubs;
  std::vector<std::unique_ptr<SilentProcess>> calls;
  for (int i = 0; i < 2; ++i) {
    stubs.push_back(server.NewStub());
    calls.push_back(std::make_unique<SilentProcess>(*stubs.back(), 60000));
  }
  auto health = Health::NewStub(server.NewChannel());
  Watcher watcher(*health);
  ASSERT_TRUE(watcher.WaitFirst(absl::Seconds(20))) << server.Log();
  EXPECT_EQ(watcher.first_status(), HealthCheckResponse::SERVING);
  ASSERT_TRUE(WaitForMetric(server, "jobgroup_open_streams", 3))
      << server.Log();

  auto stub = server.NewStub();
  SilentProcess refused(*stub, 60000);
  ASSERT_TRUE(refused.WaitDone(absl::Seconds(20)));
  EXPECT_EQ(refused.status().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << refused.status().error_message();
  EXPECT_TRUE(
      absl::StrContains(refused.status().error_message(), "--max_open_streams"))
      << refused.status().error_message();

  Watcher refused_watch(*health);
  ASSERT_TRUE(refused_watch.WaitDone(absl::Seconds(20)));
  EXPECT_EQ(refused_watch.status().error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);

  v1::RunBatchRequest request;
  *request.add_jobs() = MakeJob("echo");
  v1::RunBatchResponse response;
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 10000);
  EXPECT_EQ(stub->RunBatch(&ctx, request, &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(
      server.MetricValue("jobgroup_rejected_total{reason=\"open_streams\"}"),
      3);
  EXPECT_EQ(server.MetricValue("jobgroup_open_streams"), 3);

  // Once they end, the slots are back.
  for (auto& c : calls) c->Cancel();
  watcher.Cancel();
  for (auto& c : calls) ASSERT_TRUE(c->WaitDone(absl::Seconds(20)));
  ASSERT_TRUE(watcher.WaitDone(absl::Seconds(20)));
  EXPECT_TRUE(WaitForMetric(server, "jobgroup_open_streams", 0));
  ExpectEchoCallSucceeds(server);
  Watcher again(*health);
  ASSERT_TRUE(again.WaitFirst(absl::Seconds(20)));
  EXPECT_EQ(again.first_status(), HealthCheckResponse::SERVING);
  again.Cancel();
  ASSERT_TRUE(again.WaitDone(absl::Seconds(20)));
}

}  // namespace
}  // namespace jobgroup::testing

// SIGTERM and SIGINT against a running jobgroupd: health turns NOT_SERVING,
// new calls are refused, calls in flight finish within --drain_timeout,
// the rest are cancelled with their outcomes delivered, exit code 0.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace jobgroup::testing {
namespace {

using v1::RunBatchRequest;
using v1::RunBatchResponse;

struct AsyncCall {
  grpc::ClientContext ctx;
  RunBatchRequest req;
  RunBatchResponse resp;
  grpc::Status status;
  std::atomic<bool> done{false};
  void Start(v1::JobService::Stub& stub) {
    stub.async()->RunBatch(&ctx, &req, &resp, [this](grpc::Status s) {
      status = s;
      done = true;
    });
  }
  bool Wait(int ms) {
    for (int i = 0; i < ms / 5 && !done; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done;
  }
};

TEST(DrainTest, CallsInFlightFinishAndNewCallsAreRefused) {
  ServerProcess server(JOBGROUPD_PATH, {"--drain_timeout=30s"});
  auto stub = server.NewStub();
  AsyncCall call;
  for (int i = 0; i < 20; ++i)
    *call.req.add_jobs() = MakeJob("sleep", {{"ms", "700"}});
  call.Start(*stub);
  ASSERT_TRUE(WaitForInflightJobs(*stub, 20)) << "the call never arrived";
  auto start = std::chrono::steady_clock::now();
  std::atomic<int> code{-2};
  std::thread stopper([&] { code = server.Stop(SIGTERM); });
  // A new call while draining is refused. (One sent before the signal has
  // been handled is still served: try until the drain has begun.)
  RunBatchRequest req;
  *req.add_jobs() = MakeJob("echo");
  grpc::Status s;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  do {
    grpc::ClientContext ctx;
    RunBatchResponse resp;
    s = stub->RunBatch(&ctx, req, &resp);
  } while (s.ok() && std::chrono::steady_clock::now() < give_up);
  EXPECT_EQ(s.error_code(), grpc::UNAVAILABLE) << s.error_message();
  ASSERT_TRUE(call.Wait(10000));
  ASSERT_TRUE(call.status.ok());
  EXPECT_EQ(call.resp.summary().succeeded(), 20u);
  stopper.join();
  EXPECT_EQ(code.load(), 0);
  // The drain ends with the 700 ms jobs, not at its 30 s timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_NE(server.Log().find("stopped"), std::string::npos);
}

TEST(DrainTest, CallsPastTheDrainTimeoutAreCancelledWithOutcomes) {
  ServerProcess server(JOBGROUPD_PATH, {"--drain_timeout=300ms"});
  auto stub = server.NewStub();
  AsyncCall call;
  for (int i = 0; i < 10; ++i)
    *call.req.add_jobs() = MakeJob("sleep", {{"ms", "30000"}});
  *call.req.add_jobs() = MakeJob("echo");
  call.Start(*stub);
  ASSERT_TRUE(WaitForInflightJobs(*stub, 10)) << "the call never arrived";
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(server.Stop(SIGINT), 0);
  // The drain timeout (300 ms) ends it, not the 30 s jobs.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  ASSERT_TRUE(call.Wait(2000));
  ASSERT_TRUE(call.status.ok()) << call.status.error_message();
  EXPECT_EQ(call.resp.summary().cancelled(), 10u);
  EXPECT_EQ(call.resp.summary().succeeded(), 1u);
  EXPECT_EQ(call.resp.results_size(), 11);
}

TEST(DrainTest, ALongCpuBoundJobIsStoppedByTheDrain) {
  // A compute job of 10^8 rounds would run for minutes; it checks
  // cancellation between rounds, so the drain stops it. (A handler that
  // never checks is FaultsTest.AHandlerIgnoringCancellationCannotWedge...)
  ServerProcess server(JOBGROUPD_PATH, {"--drain_timeout=200ms"});
  auto stub = server.NewStub();
  AsyncCall call;
  v1::Job job = MakeJob("compute", {{"rounds", "100000000"}});
  *call.req.add_jobs() = job;
  call.Start(*stub);
  ASSERT_TRUE(WaitForInflightJobs(*stub, 1)) << "the call never arrived";
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  // Stopped by the drain, not after the minutes of its rounds.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  ASSERT_TRUE(call.Wait(2000));
  EXPECT_EQ(call.resp.summary().cancelled(), 1u);
}

}  // namespace
}  // namespace jobgroup::testing

namespace jobgroup::testing {
namespace {

// --log_format=json: start-up, every finished call and shutdown are one
// JSON object a line, with the call's method, jobs and outcome counts.
TEST(LogTest, JsonLogsAreOneObjectPerLine) {
  ServerProcess server(JOBGROUPD_PATH, {"--log_format=json"});
  auto stub = server.NewStub();
  grpc::ClientContext ctx;
  RunBatchRequest req;
  *req.add_jobs() = MakeJob("echo");
  *req.add_jobs() = MakeJob("fail");
  req.mutable_options()->set_failure_policy(v1::FAILURE_POLICY_COLLECT_ALL);
  RunBatchResponse resp;
  ASSERT_TRUE(stub->RunBatch(&ctx, req, &resp).ok());
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  std::string log = server.Log();
  int lines = 0;
  bool started = false, call = false, stopped = false;
  size_t pos = 0;
  while (pos < log.size()) {
    size_t end = log.find('\n', pos);
    if (end == std::string::npos) end = log.size();
    std::string line = log.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    ++lines;
    EXPECT_EQ(line.front(), '{') << line;
    EXPECT_EQ(line.back(), '}') << line;
    started |= line.find("\"event\":\"started\"") != std::string::npos;
    stopped |= line.find("\"event\":\"stopped\"") != std::string::npos;
    if (line.find("\"event\":\"call_finished\"") != std::string::npos) {
      call = true;
      EXPECT_NE(line.find("\"method\":\"RunBatch\""), std::string::npos);
      EXPECT_NE(line.find("\"jobs\":2"), std::string::npos) << line;
      EXPECT_NE(line.find("\"succeeded\":1"), std::string::npos) << line;
      EXPECT_NE(line.find("\"failed\":1"), std::string::npos) << line;
      EXPECT_NE(line.find("\"deadline_hit\":false"), std::string::npos);
    }
  }
  EXPECT_GE(lines, 3);
  EXPECT_TRUE(started && call && stopped) << log;
}

}  // namespace
}  // namespace jobgroup::testing

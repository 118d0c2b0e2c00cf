// How calls end, against a running jobgroupd (issue 14): a call the client
// cancels is counted and logged as cancelled, never OK. After each test the
// server is idle (nothing in flight, no call registered, so an idle
// SIGTERM drains at once).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace jobgroup::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string Metrics(const ServerProcess& server) {
  std::string cmd = absl::StrCat(
      "curl -s http://127.0.0.1:", server.metrics_port(), "/metrics");
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  return out;
}

// The value of grpc_server_handled_total for `method` and `code`, 0 when
// absent.
double Handled(const ServerProcess& server, const std::string& method,
               const std::string& code) {
  std::string metrics = Metrics(server);
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (!absl::StartsWith(line, "grpc_server_handled_total{")) continue;
    if (!absl::StrContains(line, absl::StrCat("grpc_method=\"", method, "\"")))
      continue;
    if (!absl::StrContains(line, absl::StrCat("grpc_code=\"", code, "\"")))
      continue;
    return std::stod(std::string(line.substr(line.rfind(' ') + 1)));
  }
  return 0;
}

// Polls (bounded by a wide margin) until nothing is in flight: every job of
// every call has its outcome and the gauge is back to zero.
void ExpectNothingInFlight(ServerProcess& server) {
  auto stub = server.NewStub();
  v1::GetServerInfoResponse info;
  auto give_up = Clock::now() + std::chrono::seconds(30);
  bool idle = false;
  while (!idle && Clock::now() < give_up) {
    grpc::ClientContext ctx;
    info.Clear();
    ASSERT_TRUE(stub->GetServerInfo(&ctx, {}, &info).ok());
    idle = info.queue().depth() == 0 && info.limits().inflight_jobs() == 0;
    for (const auto& b : info.backends()) {
      idle = idle && b.in_use() == 0 && b.waiting() == 0;
    }
    if (!idle) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(idle) << info.DebugString();
}

// The end of every test: nothing in flight, and no call left registered,
// which an idle SIGTERM proves by draining at once (a call left in the
// drain registry would hold the drain for the whole --drain_timeout, 30 s
// here). The process exits soon after; its /metrics endpoint takes up to
// 2 s more to stop (civetweb's poll quantum), hence the wider bound on
// the whole exit.
void ExpectIdleThenQuickExit(ServerProcess& server) {
  ExpectNothingInFlight(server);
  auto start = Clock::now();
  EXPECT_EQ(server.Stop(SIGTERM, 60), 0);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  std::string log = server.Log();
  size_t at = log.find("stopped drain_ms=");
  ASSERT_NE(at, std::string::npos) << log;
  int drain_ms = std::stoi(log.substr(at + strlen("stopped drain_ms=")));
  EXPECT_LT(drain_ms, 2000) << "an idle drain waited: a call is registered";
}

std::vector<std::string> Flags(std::vector<std::string> more) {
  // A long drain, so that a call left registered cannot go unnoticed.
  std::vector<std::string> flags = {"--drain_timeout=30s"};
  flags.insert(flags.end(), more.begin(), more.end());
  return flags;
}

TEST(CallEndingsTest, ClientCancelsAreCountedCanceled) {
  ServerProcess server(JOBGROUPD_PATH, Flags({}));
  auto stub = server.NewStub();
  auto info_stub = server.NewStub();
  auto wait_for_inflight = [&](uint64_t n) {
    ASSERT_TRUE(WaitForInflightJobs(*info_stub, n));
  };
  v1::RunBatchRequest req;
  for (int i = 0; i < 10; ++i) {
    *req.add_jobs() = MakeJob("sleep", {{"ms", "60000"}});
  }
  {
    grpc::ClientContext ctx;
    v1::RunBatchResponse resp;
    std::thread canceller([&] {
      wait_for_inflight(10);
      ctx.TryCancel();
    });
    grpc::Status s = stub->RunBatch(&ctx, req, &resp);
    canceller.join();
    EXPECT_EQ(s.error_code(), grpc::CANCELLED);
  }
  ExpectNothingInFlight(server);
  {
    v1::StreamBatchRequest sreq;
    *sreq.mutable_jobs() = req.jobs();
    grpc::ClientContext ctx;
    auto reader = stub->StreamBatch(&ctx, sreq);
    wait_for_inflight(10);
    ctx.TryCancel();
    v1::StreamBatchResponse msg;
    while (reader->Read(&msg)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::CANCELLED);
  }
  ExpectNothingInFlight(server);
  {
    grpc::ClientContext ctx;
    auto stream = stub->Process(&ctx);
    v1::ProcessRequest preq;
    *preq.mutable_jobs() = req.jobs();
    ASSERT_TRUE(stream->Write(preq));
    wait_for_inflight(10);
    ctx.TryCancel();
    v1::ProcessResponse msg;
    while (stream->Read(&msg)) {
    }
    EXPECT_EQ(stream->Finish().error_code(), grpc::CANCELLED);
  }
  ExpectNothingInFlight(server);
  // The server's own accounting: Canceled, never OK.
  for (const char* method : {"RunBatch", "StreamBatch", "Process"}) {
    EXPECT_EQ(Handled(server, method, "Canceled"), 1) << method;
    EXPECT_EQ(Handled(server, method, "OK"), 0) << method;
  }
  ExpectIdleThenQuickExit(server);
}

}  // namespace
}  // namespace jobgroup::testing

// --adaptive_limit against the real jobgroupd on loopback: under a load
// that builds a queue the server refuses calls at once with
// RESOURCE_EXHAUSTED and the retry hint, counts them as
// reason="adaptive_limit" and shows its limit falling; at light load it
// refuses nothing.
//
// The queue is made of work, not of a slow machine: sleep jobs on a backend
// of one permit, so that a call's first job waits for every job ahead of it
// (tens of milliseconds each) whatever the machine's speed. Loops are bounded
// by calls, with wide margins, never by a sleep that hopes.
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace jobgroup::testing {
namespace {

using v1::RunBatchRequest;
using v1::RunBatchResponse;

std::string MetadataValue(
    const std::multimap<grpc::string_ref, grpc::string_ref>& md,
    const std::string& key) {
  auto it = md.find(key);
  return it == md.end() ? ""
                        : std::string(it->second.data(), it->second.size());
}

constexpr char kLimit[] = "jobgroup_adaptive_limit";
constexpr char kRefused[] =
    "jobgroup_rejected_total{reason=\"adaptive_limit\"}";

// What the first refusal looked like.
struct Refusal {
  grpc::StatusCode code = grpc::OK;
  std::string message;
  std::string pushback;
  std::string retry_after;
};

TEST(AdaptiveLimitTest, AQueueIsRefusedEarlyWithTheRetryHint) {
  // The normal delay is taken as at least 20 ms, so that only the queue
  // below (hundreds of milliseconds) counts, not a slow machine.
  ServerProcess server(JOBGROUPD_PATH,
                       {"--adaptive_limit", "--adaptive_limit_queue_delay=20ms",
                        "--max_inflight_jobs=10000", "--backend=slot=1"});
  EXPECT_EQ(server.MetricValue(kLimit), 10000);
  EXPECT_EQ(server.MetricValue(kRefused), 0);

  // 16 clients, each with one call of 2 sleep(20 ms) jobs on the one-permit
  // backend at a time: the first job of a call waits for the ~30 jobs
  // ahead of it, about 600 ms. Each stops at its first refusal, or after
  // 200 calls (over a minute) if none comes.
  constexpr int kClients = 16;
  std::atomic<bool> refused{false};
  std::atomic<int> ok_calls{0};
  absl::Mutex mu;
  Refusal first;
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      auto stub = server.NewStub();
      RunBatchRequest req;
      for (int j = 0; j < 2; ++j) {
        *req.add_jobs() = MakeJob("sleep", {{"ms", "20"}}, "slot");
      }
      for (int i = 0; i < 200 && !refused.load(); ++i) {
        grpc::ClientContext ctx;
        SetDeadlineMs(&ctx, 60000);
        RunBatchResponse resp;
        grpc::Status s = stub->RunBatch(&ctx, req, &resp);
        if (s.ok()) {
          ok_calls.fetch_add(1);
          continue;
        }
        absl::MutexLock lock(&mu);
        if (!refused.exchange(true)) {
          first.code = s.error_code();
          first.message = s.error_message();
          first.pushback = MetadataValue(ctx.GetServerTrailingMetadata(),
                                         "grpc-retry-pushback-ms");
          first.retry_after =
              MetadataValue(ctx.GetServerTrailingMetadata(), "retry-after-ms");
        }
        return;
      }
    });
  }
  for (std::thread& t : clients) t.join();

  ASSERT_TRUE(refused.load()) << "no call was refused in " << ok_calls.load()
                              << " calls; limit " << server.MetricValue(kLimit);
  EXPECT_EQ(first.code, grpc::RESOURCE_EXHAUSTED) << first.message;
  EXPECT_TRUE(absl::StrContains(first.message, "adaptive limit"))
      << first.message;
  EXPECT_EQ(first.pushback, "250");
  EXPECT_EQ(first.retry_after, "250");
  EXPECT_GE(server.MetricValue(kRefused), 1);
  // Under what the load held in flight (16 calls of 2 jobs), far under the
  // static limit.
  double limit = server.MetricValue(kLimit);
  EXPECT_GE(limit, 1);
  EXPECT_LE(limit, 2 * kClients);
  EXPECT_GT(
      server.MetricValue(
          "jobgroup_adaptive_limit_queue_delay_seconds{window=\"short\"}"),
      0.04);
  // The refusal did not cost the rest: with the load gone, a call is
  // admitted and served, even one of 10,000 jobs, far over the limit now
  // (admission compares what is in flight, nothing, with the limit).
  auto stub = server.NewStub();
  RunBatchRequest req;
  for (int j = 0; j < 10000; ++j) *req.add_jobs() = MakeJob("echo");
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 60000);
  RunBatchResponse resp;
  grpc::Status s = stub->RunBatch(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.summary().succeeded(), 10000u);
}

TEST(AdaptiveLimitTest, LightLoadIsNeverRefused) {
  // With the floor as above: on a host so loaded that waking a worker
  // takes milliseconds, that wait is the machine's, not a queue's, and the
  // test must not depend on it (the unit tests drive the default floor).
  ServerProcess server(JOBGROUPD_PATH, {"--adaptive_limit",
                                        "--adaptive_limit_queue_delay=20ms"});
  // Four clients, one 10-echo-job call at a time each: never more than 40
  // jobs in flight, none of them waiting for long.
  constexpr int kClients = 4;
  constexpr int kCalls = 300;
  std::atomic<int> failed{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      auto stub = server.NewStub();
      RunBatchRequest req;
      for (int j = 0; j < 10; ++j) *req.add_jobs() = MakeJob("echo");
      for (int i = 0; i < kCalls; ++i) {
        grpc::ClientContext ctx;
        SetDeadlineMs(&ctx, 30000);
        RunBatchResponse resp;
        grpc::Status s = stub->RunBatch(&ctx, req, &resp);
        if (!s.ok() || resp.summary().succeeded() != 10u) failed.fetch_add(1);
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(server.MetricValue(kRefused), 0)
      << "short-term delay "
      << server.MetricValue(
             "jobgroup_adaptive_limit_queue_delay_seconds{window=\"short\"}");
  // Never used to half of it, so never moved from --max_inflight_jobs.
  EXPECT_EQ(server.MetricValue(kLimit), 1000000);
}

TEST(AdaptiveLimitTest, OffByDefault) {
  ServerProcess server(JOBGROUPD_PATH, {});
  EXPECT_EQ(server.MetricValue(kLimit), -1);
  EXPECT_EQ(server.MetricValue(kRefused), 0);
}

}  // namespace
}  // namespace jobgroup::testing

// Faults and abuse against a running jobgroupd: a client killed mid-stream,
// a handler that ignores cancellation, 10,000 tiny calls at once, 2x
// overload, and a short soak. In every one, each accepted job has exactly
// one outcome, and once idle every permit is back and the queue is empty.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace jobgroup::testing {
namespace {

using Clock = std::chrono::steady_clock;

// What keeps the server from being idle, each invariant broken with its
// numbers ("inflight_jobs 200 (want 0: ...); backend db: in_use 3, waiting
// 0 (want 0, 0; capacity 8)"); empty when it is idle: no job in flight,
// the queue empty, no permit held and no one waiting for one.
std::string NotIdle(const v1::GetServerInfoResponse& info) {
  std::vector<std::string> broken;
  if (info.limits().inflight_jobs() != 0) {
    broken.push_back(absl::StrCat("inflight_jobs ",
                                  info.limits().inflight_jobs(),
                                  " (want 0: admitted jobs not answered)"));
  }
  if (info.queue().depth() != 0) {
    broken.push_back(
        absl::StrCat("queue depth ", info.queue().depth(), " (want 0)"));
  }
  if (info.queue().parked() != 0) {
    broken.push_back(
        absl::StrCat("queue parked ", info.queue().parked(), " (want 0)"));
  }
  for (const auto& b : info.backends()) {
    if (b.in_use() != 0 || b.waiting() != 0) {
      broken.push_back(absl::StrCat(
          "backend ", b.name(), ": in_use ", b.in_use(), ", waiting ",
          b.waiting(), " (want 0, 0; capacity ", b.capacity(), ")"));
    }
  }
  return absl::StrJoin(broken, "; ");
}

// Polls until the server is idle (see NotIdle()); if it is not within
// `timeout_ms`, fails saying what is left, with the workers' state.
void ExpectIdle(v1::JobService::Stub& stub, int timeout_ms = 10000) {
  v1::GetServerInfoResponse info;
  auto give_up = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string not_idle = "no answer to GetServerInfo";
  while (!not_idle.empty() && Clock::now() < give_up) {
    grpc::ClientContext ctx;
    info.Clear();
    grpc::Status s = stub.GetServerInfo(&ctx, {}, &info);
    ASSERT_TRUE(s.ok()) << "GetServerInfo: " << s.error_message();
    not_idle = NotIdle(info);
    if (!not_idle.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  EXPECT_EQ(not_idle, "") << "the server is not idle " << timeout_ms
                          << " ms after its last call; workers busy "
                          << info.workers().busy() << " of "
                          << info.workers().total();
}

// The last `n` lines of `log`.
std::string Tail(const std::string& log, int n) {
  size_t pos = log.size();
  if (pos > 0 && log[pos - 1] == '\n') --pos;
  for (int i = 0; i < n; ++i) {
    size_t newline = pos == 0 ? std::string::npos : log.rfind('\n', pos - 1);
    if (newline == std::string::npos) return log;
    pos = newline;
  }
  return log.substr(pos + 1);
}

// Stops the server with SIGTERM and expects exit code 0; otherwise says
// what Stop() returned and what the server logged last (how the drain went:
// the calls still registered, the handlers stuck).
void ExpectCleanStop(ServerProcess& server) {
  const int code = server.Stop(SIGTERM);
  EXPECT_EQ(code, 0) << (code == -1
                             ? "jobgroupd did not exit within 15 s of SIGTERM "
                               "(Stop() returned -1; it was killed)"
                             : absl::StrCat("jobgroupd exited with ", code))
                     << "; the end of its log:\n"
                     << Tail(server.Log(), 15);
}

void ExpectSummaryAddsUp(const v1::BatchSummary& s, uint64_t jobs) {
  EXPECT_EQ(s.total(), jobs);
  EXPECT_EQ(s.succeeded() + s.failed() + s.cancelled() + s.deadline_exceeded() +
                s.rejected(),
            jobs);
}

TEST(FaultsTest, ClientKilledMidStreamFreesEverything) {
  ServerProcess server(JOBGROUPD_PATH, {"--backend=db=4"});
  auto stub = server.NewStub();
  pid_t cli = fork();
  if (cli == 0) {
    std::string target = "--target=" + server.target();
    execl(JOBGROUP_CLI_PATH, JOBGROUP_CLI_PATH, "process", target.c_str(),
          "--kind", "sleep", "--param", "ms=30000", "--backend", "db",
          "--count", "100000", "--max-concurrency", "50", "--output", "jsonl",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until the server holds the call's jobs, then kill the client.
  bool busy = false;
  auto give_up = Clock::now() + std::chrono::seconds(30);
  while (!busy && Clock::now() < give_up) {
    grpc::ClientContext ctx;
    v1::GetServerInfoResponse info;
    ASSERT_TRUE(stub->GetServerInfo(&ctx, {}, &info).ok());
    for (const auto& b : info.backends()) {
      if (b.name() == "db") busy = b.in_use() == 4;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(busy);
  kill(cli, SIGKILL);
  waitpid(cli, nullptr, 0);
  ExpectIdle(*stub);
  // And it serves the next caller.
  grpc::ClientContext ctx;
  v1::RunBatchRequest req;
  *req.add_jobs() = MakeJob("echo");
  v1::RunBatchResponse resp;
  ASSERT_TRUE(stub->RunBatch(&ctx, req, &resp).ok());
  ExpectCleanStop(server);
}

TEST(FaultsTest, AHandlerIgnoringCancellationCannotWedgeTheServer) {
  ServerProcess server(JOBGROUPD_EXAMPLE_PATH,
                       {"--drain_timeout=300ms", "--workers=2"});
  auto stub = server.NewStub();
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 400);
  v1::RunBatchRequest req;
  *req.add_jobs() = MakeJob("stubborn", {{"ms", "20000"}});
  *req.add_jobs() = MakeJob("echo");
  auto start = Clock::now();
  v1::RunBatchResponse resp;
  ASSERT_TRUE(stub->RunBatch(&ctx, req, &resp).ok());
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(400));
  EXPECT_EQ(resp.results(0).outcome(), v1::JOB_OUTCOME_DEADLINE_EXCEEDED);
  EXPECT_EQ(resp.results(1).outcome(), v1::JOB_OUTCOME_SUCCEEDED);
  // The stuck worker shows in metrics.
  std::string metrics;
  auto give_up = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < give_up) {
    metrics = server.Metrics();
    if (metrics.find("jobgroup_handlers_abandoned 1") != std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(metrics.find("jobgroup_handlers_abandoned 1"), std::string::npos);
  // The other worker still serves.
  grpc::ClientContext ctx2;
  v1::RunBatchRequest echo;
  *echo.add_jobs() = MakeJob("echo");
  ASSERT_TRUE(stub->RunBatch(&ctx2, echo, &resp).ok());
  EXPECT_EQ(resp.summary().succeeded(), 1u);
  // Shutdown is not held past the drain timeout by the stuck handler (it
  // would hold it for most of its 20 s).
  start = Clock::now();
  ExpectCleanStop(server);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(8));
}

TEST(FaultsTest, TenThousandTinyCallsAtOnce) {
  ServerProcess server(JOBGROUPD_PATH, {});
  auto channel = server.NewChannel();
  auto stub = v1::JobService::NewStub(channel);
  constexpr int kCalls = 10000;
  std::vector<grpc::ClientContext> ctxs(kCalls);
  std::vector<v1::RunBatchResponse> resps(kCalls);
  v1::RunBatchRequest req;
  *req.add_jobs() = MakeJob("echo");
  *req.add_jobs() = MakeJob("sleep", {{"ms", "1"}});
  std::atomic<int> done{0}, ok{0};
  for (int c = 0; c < kCalls; ++c) {
    SetDeadlineMs(&ctxs[c], 60000);
    stub->async()->RunBatch(&ctxs[c], &req, &resps[c], [&](grpc::Status s) {
      ok += s.ok();
      ++done;
    });
  }
  auto give_up = Clock::now() + std::chrono::seconds(60);
  while (done < kCalls && Clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(done.load(), kCalls);
  EXPECT_EQ(ok.load(), kCalls);
  for (const auto& r : resps) {
    ExpectSummaryAddsUp(r.summary(), 2);
    EXPECT_EQ(r.summary().succeeded(), 2u);
  }
  ExpectIdle(*stub);
  ExpectCleanStop(server);
}

TEST(FaultsTest, TwiceTheAdmissionLimitIsRefusedFastAndTheRestMeetDeadlines) {
  // 40 calls of 50 sleeping jobs each against room for 1,000: half fit.
  // The refused ones hear so at once, long before the first accepted one
  // can end; the accepted ones finish within their deadline. (The jobs are
  // long enough that no accepted call ends, and makes room, before the
  // last call arrives, however slow the machine.)
  ServerProcess server(JOBGROUPD_PATH, {"--max_inflight_jobs=1000"});
  auto stub = server.NewStub();
  constexpr int kCalls = 40;
  std::vector<grpc::ClientContext> ctxs(kCalls);
  std::vector<v1::RunBatchResponse> resps(kCalls);
  std::vector<grpc::Status> status(kCalls);
  std::vector<Clock::duration> took(kCalls);
  v1::RunBatchRequest req;
  for (int i = 0; i < 50; ++i)
    *req.add_jobs() = MakeJob("sleep", {{"ms", "2000"}});
  std::atomic<int> done{0};
  long rss_before = server.RssBytes();
  for (int c = 0; c < kCalls; ++c) {
    SetDeadlineMs(&ctxs[c], 10000);
    auto start = Clock::now();
    stub->async()->RunBatch(&ctxs[c], &req, &resps[c],
                            [&, c, start](grpc::Status s) {
                              status[c] = s;
                              took[c] = Clock::now() - start;
                              ++done;
                            });
  }
  while (done < kCalls)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  int accepted = 0, refused = 0;
  for (int c = 0; c < kCalls; ++c) {
    if (status[c].ok()) {
      ++accepted;
      EXPECT_EQ(resps[c].summary().succeeded(), 50u);
      EXPECT_GE(took[c], std::chrono::milliseconds(2000));
    } else {
      ++refused;
      EXPECT_EQ(status[c].error_code(), grpc::RESOURCE_EXHAUSTED);
      EXPECT_LT(took[c], std::chrono::milliseconds(1000));
    }
  }
  EXPECT_EQ(accepted, 20);
  EXPECT_EQ(refused, 20);
  if (!kUnderAsan) EXPECT_LT(server.RssBytes() - rss_before, 100L << 20);
  ExpectIdle(*stub);
  ExpectCleanStop(server);
}

TEST(FaultsTest, ShortSoakKeepsMemoryAndThreadsFlat) {
  ServerProcess server(JOBGROUPD_PATH, {"--backend=db=8"});
  auto stub = server.NewStub();
  std::atomic<bool> stop{false};
  std::atomic<long> calls{0}, jobs{0};
  auto load = [&](int seed) {
    auto s = server.NewStub();
    int n = 0;
    while (!stop) {
      v1::RunBatchRequest req;
      req.mutable_options()->set_failure_policy(v1::FAILURE_POLICY_COLLECT_ALL);
      for (int i = 0; i < 200; ++i) {
        int k = (seed + n + i) % 10;
        *req.add_jobs() = k == 0  ? MakeJob("fail")
                          : k < 4 ? MakeJob("sleep", {{"ms", "2"}}, "db")
                                  : MakeJob("echo");
      }
      grpc::ClientContext ctx;
      SetDeadlineMs(&ctx, (n % 7 == 0) ? 30 : 5000);  // Some deadlines hit.
      v1::RunBatchResponse resp;
      if (s->RunBatch(&ctx, req, &resp).ok()) {
        ExpectSummaryAddsUp(resp.summary(), 200);
        jobs += 200;
      }
      ++calls;
      ++n;
    }
  };
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) clients.emplace_back(load, t);
  std::this_thread::sleep_for(std::chrono::seconds(4));  // Warm up.
  long rss_warm = server.RssBytes();
  int threads_warm = server.Threads();
  std::this_thread::sleep_for(std::chrono::seconds(10));
  long rss_end = server.RssBytes();
  int threads_end = server.Threads();
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_GT(calls.load(), 30) << "in 14 s of load; " << jobs << " jobs";
  if (!kUnderAsan) {
    EXPECT_LT(rss_end - rss_warm, 20L << 20)
        << "RSS " << rss_warm << " -> " << rss_end << " after " << calls
        << " calls, " << jobs << " jobs";
  }
  EXPECT_LE(threads_end, threads_warm + 2)
      << "threads " << threads_warm << " after the warm-up, " << threads_end
      << " at the end of the soak";
  ExpectIdle(*stub);
  ExpectCleanStop(server);
}

}  // namespace
}  // namespace jobgroup::testing

// The semantics of DESIGN.md against a running jobgroupd over real gRPC:
// exactly one outcome per job, the deadline wrapping the group with partial
// results before the client's deadline, fail-fast and collect-all, backend
// caps counted from inside the handlers, rounds, cancellation freeing every
// permit, admission refusals, and a thread count that does not grow with
// calls.
#include <atomic>
#include <chrono>
#include <map>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace jobgroup::testing {
namespace {

using v1::JobResult;
using v1::RunBatchRequest;
using v1::RunBatchResponse;

std::map<v1::JobOutcome, int> CountOutcomes(const RunBatchResponse& r) {
  std::map<v1::JobOutcome, int> n;
  for (const JobResult& j : r.results()) ++n[j.outcome()];
  return n;
}

// Every job has exactly one result, in request order, and the summary adds
// up to the number of jobs sent.
void ExpectOneOutcomeEach(const RunBatchRequest& req,
                          const RunBatchResponse& resp) {
  ASSERT_EQ(resp.results_size(), req.jobs_size());
  for (int i = 0; i < resp.results_size(); ++i) {
    EXPECT_EQ(resp.results(i).index(), static_cast<uint64_t>(i));
    EXPECT_NE(resp.results(i).outcome(), v1::JOB_OUTCOME_UNSPECIFIED);
  }
  const v1::BatchSummary& s = resp.summary();
  EXPECT_EQ(s.total(), static_cast<uint64_t>(req.jobs_size()));
  EXPECT_EQ(s.succeeded() + s.failed() + s.cancelled() + s.deadline_exceeded() +
                s.rejected(),
            s.total());
  auto n = CountOutcomes(resp);
  EXPECT_EQ(n[v1::JOB_OUTCOME_SUCCEEDED], static_cast<int>(s.succeeded()));
  EXPECT_EQ(n[v1::JOB_OUTCOME_DEADLINE_EXCEEDED],
            static_cast<int>(s.deadline_exceeded()));
}

// Polls GetServerInfo until `backend` has no permit held and no waiter.
bool BackendIdle(v1::JobService::Stub& stub, const std::string& backend,
                 int timeout_ms = 3000) {
  auto give_up =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < give_up) {
    grpc::ClientContext ctx;
    v1::GetServerInfoResponse info;
    if (stub.GetServerInfo(&ctx, {}, &info).ok()) {
      for (const auto& b : info.backends()) {
        if (b.name() == backend && b.in_use() == 0 && b.waiting() == 0 &&
            info.queue().depth() == 0 && info.queue().parked() == 0) {
          return true;
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

class BatchSemanticsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess(
        JOBGROUPD_EXAMPLE_PATH,
        {"--backend=db=4", "--backend=pool=3", "--workers=2"});
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(SIGTERM), 0);
    delete server_;
  }
  static ServerProcess* server_;
};
ServerProcess* BatchSemanticsTest::server_ = nullptr;

TEST_F(BatchSemanticsTest, EchoBatchSucceedsInRequestOrder) {
  auto stub = server_->NewStub();
  RunBatchRequest req;
  for (int i = 0; i < 1000; ++i) {
    v1::Job* j = req.add_jobs();
    j->set_kind("echo");
    j->set_payload(absl::StrCat("p", i));
    if (i % 2) j->set_id(absl::StrCat("id-", i));
  }
  grpc::ClientContext ctx;
  RunBatchResponse resp;
  ASSERT_TRUE(stub->RunBatch(&ctx, req, &resp).ok());
  ExpectOneOutcomeEach(req, resp);
  EXPECT_EQ(resp.summary().succeeded(), 1000u);
  EXPECT_EQ(resp.results(7).output(), "p7");
  EXPECT_EQ(resp.results(7).id(), "id-7");
  EXPECT_EQ(resp.results(8).id(), "8");
}

// 60,000 jobs with a param each: about 24 MB once parsed, over
// kSpecsFirstOverBytes, so the server makes them all into specs and frees
// the parsed request before the first starts. Every job still has its
// result, with its own id and output, in RunBatch and in StreamBatch.
TEST_F(BatchSemanticsTest, RequestFreedBeforeItsJobsStartAnswersEveryJob) {
  constexpr int kJobs = 60000;
  auto stub = server_->NewStub();
  RunBatchRequest req;
  v1::StreamBatchRequest sreq;
  for (int i = 0; i < kJobs; ++i) {
    v1::Job* j = req.add_jobs();
    j->set_kind("echo");
    j->set_payload(absl::StrCat("p", i));
    (*j->mutable_params())["n"] = absl::StrCat(i);
    if (i % 2) j->set_id(absl::StrCat("id-", i));
    *sreq.add_jobs() = *j;
  }
  auto expect_result = [](const JobResult& r, int i) {
    EXPECT_EQ(r.outcome(), v1::JOB_OUTCOME_SUCCEEDED) << i;
    EXPECT_EQ(r.output(), absl::StrCat("p", i));
    EXPECT_EQ(r.id(), i % 2 ? absl::StrCat("id-", i) : absl::StrCat(i));
  };
  {
    grpc::ClientContext ctx;
    SetDeadlineMs(&ctx, 120000);
    RunBatchResponse resp;
    grpc::Status s = stub->RunBatch(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ExpectOneOutcomeEach(req, resp);
    for (int i = 0; i < kJobs; ++i) expect_result(resp.results(i), i);
  }
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 120000);
  auto reader = stub->StreamBatch(&ctx, sreq);
  std::vector<int> seen(kJobs, 0);
  v1::StreamBatchResponse msg;
  uint64_t summary_total = 0;
  while (reader->Read(&msg)) {
    for (const JobResult& r : msg.results()) {
      ASSERT_LT(r.index(), static_cast<uint64_t>(kJobs));
      ++seen[r.index()];
      expect_result(r, static_cast<int>(r.index()));
    }
    if (msg.has_summary()) summary_total = msg.summary().total();
  }
  grpc::Status s = reader->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(summary_total, static_cast<uint64_t>(kJobs));
  for (int i = 0; i < kJobs; ++i) EXPECT_EQ(seen[i], 1) << i;
}

TEST_F(BatchSemanticsTest, DeadlineGivesPartialResultsBeforeTheClientDeadline) {
  auto stub = server_->NewStub();
  RunBatchRequest req;
  for (int i = 0; i < 5; ++i)
    *req.add_jobs() = MakeJob("sleep", {{"ms", "10"}});
  for (int i = 0; i < 15; ++i) {
    *req.add_jobs() = MakeJob("sleep", {{"ms", "10000"}});
  }
  grpc::ClientContext ctx;
  auto start = std::chrono::system_clock::now();
  SetDeadlineMs(&ctx, 500);
  RunBatchResponse resp;
  grpc::Status s = stub->RunBatch(&ctx, req, &resp);
  auto took = std::chrono::system_clock::now() - start;
  // A reply, not a bare DEADLINE_EXCEEDED: the server ends the group a
  // margin before the client's deadline.
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_LT(took, std::chrono::milliseconds(500));
  EXPECT_GE(took, std::chrono::milliseconds(400));
  ExpectOneOutcomeEach(req, resp);
  EXPECT_EQ(resp.summary().succeeded(), 5u);
  EXPECT_EQ(resp.summary().deadline_exceeded(), 15u);
  EXPECT_TRUE(resp.summary().deadline_hit());
  for (int i = 5; i < 20; ++i) {
    EXPECT_EQ(resp.results(i).error().code(), grpc::DEADLINE_EXCEEDED);
  }
  EXPECT_TRUE(BackendIdle(*stub, "local"));
}

TEST_F(BatchSemanticsTest, JobsNotStartedBeforeTheDeadlineNeverStart) {
  auto stub = server_->NewStub();
  RunBatchRequest req;
  // pool has 3 permits: 3 jobs run, 9 wait and must never start.
  for (int i = 0; i < 12; ++i) {
    *req.add_jobs() = MakeJob("occupancy", {{"ms", "5000"}}, "pool");
  }
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 300);
  RunBatchResponse resp;
  ASSERT_TRUE(stub->RunBatch(&ctx, req, &resp).ok());
  ExpectOneOutcomeEach(req, resp);
  EXPECT_EQ(resp.summary().deadline_exceeded(), 12u);
  int ran = 0;
  for (const auto& r : resp.results()) {
    ran += r.has_run_time();
  }
  EXPECT_EQ(ran, 3);
  EXPECT_TRUE(BackendIdle(*stub, "pool"));
}

TEST_F(BatchSemanticsTest, FailFastCancelsTheSiblings) {
  auto stub = server_->NewStub();
  RunBatchRequest req;
  for (int i = 0; i < 10; ++i) {
    *req.add_jobs() = MakeJob("sleep", {{"ms", "5000"}});
  }
  *req.add_jobs() = MakeJob("fail", {{"ms", "50"}, {"message", "db down"}});
  grpc::ClientContext ctx;
  auto start = std::chrono::steady_clock::now();
  RunBatchResponse resp;
  ASSERT_TRUE(stub->RunBatch(&ctx, req, &resp).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ExpectOneOutcomeEach(req, resp);
  EXPECT_EQ(resp.summary().failed(), 1u);
  EXPECT_EQ(resp.summary().cancelled(), 10u);
  EXPECT_EQ(resp.results(10).error().message(), "db down");
  EXPECT_NE(resp.results(0).error().message().find("job 10 failed"),
            std::string::npos);
  EXPECT_TRUE(BackendIdle(*stub, "local"));
}

TEST_F(BatchSemanticsTest, CollectAllRunsEveryJob) {
  auto stub = server_->NewStub();
  RunBatchRequest req;
  req.mutable_options()->set_failure_policy(v1::FAILURE_POLICY_COLLECT_ALL);
  for (int i = 0; i < 10; ++i) {
    *req.add_jobs() = MakeJob("sleep", {{"ms", "100"}});
  }
  *req.add_jobs() = MakeJob("fail", {{"message", "x"}});
  *req.add_jobs() = MakeJob("fail", {{"message", "y"}});
  grpc::ClientContext ctx;
  RunBatchResponse resp;
  ASSERT_TRUE(stub->RunBatch(&ctx, req, &resp).ok());
  ExpectOneOutcomeEach(req, resp);
  EXPECT_EQ(resp.summary().succeeded(), 10u);
  EXPECT_EQ(resp.summary().failed(), 2u);
  EXPECT_EQ(resp.results(11).error().message(), "y");
}

TEST_F(BatchSemanticsTest, BackendCapIsNeverExceededAndStaysFullyUsed) {
  auto stub = server_->NewStub();
  RunBatchRequest req;
  // db has 4 permits; 40 jobs of 50 ms need 10 waves.
  for (int i = 0; i < 40; ++i) {
    *req.add_jobs() = MakeJob("occupancy", {{"ms", "50"}}, "db");
  }
  grpc::ClientContext ctx;
  auto start = std::chrono::steady_clock::now();
  RunBatchResponse resp;
  ASSERT_TRUE(stub->RunBatch(&ctx, req, &resp).ok());
  auto took = std::chrono::steady_clock::now() - start;
  ExpectOneOutcomeEach(req, resp);
  int most = 0;
  for (const auto& r : resp.results()) {
    int seen = 0;
    ASSERT_TRUE(absl::SimpleAtoi(r.output(), &seen));
    most = std::max(most, seen);
  }
  EXPECT_EQ(most, 4);  // Counted from inside: never 5, and reached.
  // Fully used: 10 waves of 50 ms, not much more.
  EXPECT_GE(took, std::chrono::milliseconds(500));
  EXPECT_LT(took, std::chrono::milliseconds(1500));
}

TEST_F(BatchSemanticsTest, RoundsOfBatchSizeNeverOverlap) {
  auto stub = server_->NewStub();
  RunBatchRequest req;
  req.mutable_options()->set_batch_size(5);
  // Uneven durations: a round's slow job would overlap the next round's
  // jobs if rounds did not wait for each other.
  for (int i = 0; i < 30; ++i) {
    *req.add_jobs() = MakeJob("occupancy", {{"ms", i % 5 == 0 ? "80" : "5"}});
  }
  grpc::ClientContext ctx;
  auto start = std::chrono::steady_clock::now();
  RunBatchResponse resp;
  ASSERT_TRUE(stub->RunBatch(&ctx, req, &resp).ok());
  auto took = std::chrono::steady_clock::now() - start;
  ExpectOneOutcomeEach(req, resp);
  for (const auto& r : resp.results()) {
    int seen = 0;
    ASSERT_TRUE(absl::SimpleAtoi(r.output(), &seen));
    EXPECT_LE(seen, 5) << "job " << r.index() << " overlapped another round";
  }
  EXPECT_GE(took, std::chrono::milliseconds(6 * 80));  // 6 rounds, serial.
}

TEST_F(BatchSemanticsTest, MaxConcurrencyIsASlidingWindow) {
  auto stub = server_->NewStub();
  RunBatchRequest req;
  req.mutable_options()->set_max_concurrency(6);
  for (int i = 0; i < 60; ++i) {
    *req.add_jobs() = MakeJob("occupancy", {{"ms", i % 3 ? "5" : "40"}});
  }
  grpc::ClientContext ctx;
  RunBatchResponse resp;
  ASSERT_TRUE(stub->RunBatch(&ctx, req, &resp).ok());
  ExpectOneOutcomeEach(req, resp);
  int most = 0;
  for (const auto& r : resp.results()) {
    int seen = 0;
    ASSERT_TRUE(absl::SimpleAtoi(r.output(), &seen));
    most = std::max(most, seen);
  }
  EXPECT_EQ(most, 6);
}

TEST_F(BatchSemanticsTest, CancelledCallFreesEveryPermitAndWorker) {
  auto stub = server_->NewStub();
  RunBatchRequest req;
  for (int i = 0; i < 100; ++i) {
    *req.add_jobs() = MakeJob("occupancy", {{"ms", "30000"}}, "db");
  }
  grpc::ClientContext ctx;
  RunBatchResponse resp;
  std::atomic<bool> done{false};
  grpc::Status status;
  stub->async()->RunBatch(&ctx, &req, &resp, [&](grpc::Status s) {
    status = s;
    done = true;
  });
  // Wait until the backend is full and the rest wait.
  bool full = false;
  for (int i = 0; i < 200 && !full; ++i) {
    grpc::ClientContext ictx;
    v1::GetServerInfoResponse info;
    ASSERT_TRUE(stub->GetServerInfo(&ictx, {}, &info).ok());
    for (const auto& b : info.backends()) {
      if (b.name() == "db") full = b.in_use() == 4 && b.waiting() == 96;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(full);
  ctx.TryCancel();
  for (int i = 0; i < 300 && !done; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(done);
  EXPECT_EQ(status.error_code(), grpc::CANCELLED);
  EXPECT_TRUE(BackendIdle(*stub, "db", 2000));
  // The workers are free again: a new call runs at once.
  RunBatchRequest quick;
  *quick.add_jobs() = MakeJob("echo");
  grpc::ClientContext qctx;
  SetDeadlineMs(&qctx, 1000);
  RunBatchResponse qresp;
  ASSERT_TRUE(stub->RunBatch(&qctx, quick, &qresp).ok());
  EXPECT_EQ(qresp.summary().succeeded(), 1u);
}

TEST_F(BatchSemanticsTest, HandlerFailuresCostOnlyTheirJob) {
  auto stub = server_->NewStub();
  RunBatchRequest req;
  req.mutable_options()->set_failure_policy(v1::FAILURE_POLICY_COLLECT_ALL);
  *req.add_jobs() = MakeJob("compute", {{"rounds", "1000"}});
  *req.add_jobs() = MakeJob("fail");
  *req.add_jobs() = MakeJob("echo");
  grpc::ClientContext ctx;
  RunBatchResponse resp;
  ASSERT_TRUE(stub->RunBatch(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.results(0).outcome(), v1::JOB_OUTCOME_SUCCEEDED);
  EXPECT_EQ(resp.results(0).output().size(), 64u);  // Hex SHA-256.
  EXPECT_EQ(resp.results(1).outcome(), v1::JOB_OUTCOME_FAILED);
  EXPECT_EQ(resp.results(2).outcome(), v1::JOB_OUTCOME_SUCCEEDED);
}

// compute is SHA-256 of the payload, then of the digest's bytes, `rounds`
// times in all (values from Python's hashlib).
TEST_F(BatchSemanticsTest, ComputeIteratesSha256OverTheDigest) {
  auto stub = server_->NewStub();
  RunBatchRequest req;
  for (const char* rounds : {"1", "3", "1000"}) {
    v1::Job* j = req.add_jobs();
    *j = MakeJob("compute", {{"rounds", rounds}});
    j->set_payload("abc");
  }
  grpc::ClientContext ctx;
  RunBatchResponse resp;
  ASSERT_TRUE(stub->RunBatch(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.results(0).output(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(resp.results(1).output(),
            "f2a778f1a6ed3d5bc59a5d79104c598f3f07093f240ca4e91333fb09ed4f36da");
  EXPECT_EQ(resp.results(2).output(),
            "fc8a6b86a13f71cd9a67f558ab6fd82a3dd89186163a017ed8051acf6d3f8f99");
}

// Two compute jobs of 1e8 rounds hold both workers (--workers=2) for many
// seconds. Other calls' jobs still run meanwhile, each on a spare thread
// put in place of a worker held by a long handler: an echo and a 1 ms
// sleep each come back within 3 s (on the old code they waited for the
// compute jobs, ten seconds or more), and GetServerInfo shows the two
// long handlers.
TEST_F(BatchSemanticsTest, LongJobsDoNotHoldUpOtherCalls) {
  auto stub = server_->NewStub();
  RunBatchRequest heavy;
  heavy.mutable_options()->set_failure_policy(v1::FAILURE_POLICY_COLLECT_ALL);
  for (int i = 0; i < 2; ++i) {
    *heavy.add_jobs() = MakeJob("compute", {{"rounds", "100000000"}});
  }
  grpc::ClientContext heavy_ctx;
  SetDeadlineMs(&heavy_ctx, 300000);
  RunBatchResponse heavy_resp;
  std::thread heavy_call(
      [&] { stub->RunBatch(&heavy_ctx, heavy, &heavy_resp).ok(); });
  // Wait (bounded by the work) until both compute handlers count as long.
  bool both_long = false;
  for (int i = 0; i < 2000 && !both_long; ++i) {
    grpc::ClientContext ctx;
    v1::GetServerInfoResponse info;
    if (stub->GetServerInfo(&ctx, {}, &info).ok()) {
      both_long = info.workers().long_running() == 2;
    }
    if (!both_long) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(both_long);
  for (const v1::Job& job :
       {MakeJob("echo"), MakeJob("sleep", {{"ms", "1"}})}) {
    RunBatchRequest quick;
    *quick.add_jobs() = job;
    grpc::ClientContext ctx;
    SetDeadlineMs(&ctx, 3000);
    RunBatchResponse resp;
    grpc::Status s = stub->RunBatch(&ctx, quick, &resp);
    ASSERT_TRUE(s.ok()) << job.kind() << ": " << s.error_message();
    EXPECT_EQ(resp.summary().succeeded(), 1u) << job.kind();
  }
  heavy_ctx.TryCancel();
  heavy_call.join();
  EXPECT_TRUE(BackendIdle(*stub, "cpu"));
}

TEST_F(BatchSemanticsTest, PerJobTimeoutEndsOnlyThatJob) {
  auto stub = server_->NewStub();
  RunBatchRequest req;
  v1::Job slow = MakeJob("sleep", {{"ms", "5000"}});
  slow.mutable_timeout()->set_nanos(100'000'000);
  *req.add_jobs() = slow;
  *req.add_jobs() = MakeJob("sleep", {{"ms", "200"}});
  grpc::ClientContext ctx;
  RunBatchResponse resp;
  ASSERT_TRUE(stub->RunBatch(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.results(0).outcome(), v1::JOB_OUTCOME_DEADLINE_EXCEEDED);
  EXPECT_EQ(resp.results(1).outcome(), v1::JOB_OUTCOME_SUCCEEDED);
  EXPECT_FALSE(resp.summary().deadline_hit());
}

// Many concurrent calls of sleeping jobs: the thread count stays under a
// small bound that does not depend on the number of calls or jobs.
TEST_F(BatchSemanticsTest, ThreadsDoNotGrowWithCallsOrJobs) {
  constexpr int kCalls = 500;
  auto channel = server_->NewChannel();
  auto stub = v1::JobService::NewStub(channel);
  std::vector<grpc::ClientContext> ctxs(kCalls);
  std::vector<RunBatchResponse> resps(kCalls);
  RunBatchRequest req;
  for (int i = 0; i < 10; ++i)
    *req.add_jobs() = MakeJob("sleep", {{"ms", "300"}});
  std::atomic<int> done{0}, ok{0};
  for (int c = 0; c < kCalls; ++c) {
    SetDeadlineMs(&ctxs[c], 20000);
    stub->async()->RunBatch(&ctxs[c], &req, &resps[c], [&](grpc::Status s) {
      ok += s.ok();
      ++done;
    });
  }
  int peak = 0;
  while (done < kCalls) {
    peak = std::max(peak, server_->Threads());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(ok.load(), kCalls);
  for (const auto& r : resps) EXPECT_EQ(r.summary().succeeded(), 10u);
  EXPECT_GT(peak, 0);
  EXPECT_LE(peak, 64) << "threads grew with calls";
}

TEST(AdmissionTest, OverloadIsRefusedAtOnceWithARetryHint) {
  ServerProcess server(JOBGROUPD_PATH, {"--max_inflight_jobs=100"});
  auto stub = server.NewStub();
  RunBatchRequest hold;
  for (int i = 0; i < 100; ++i)
    *hold.add_jobs() = MakeJob("sleep", {{"ms", "2000"}});
  grpc::ClientContext hctx;
  RunBatchResponse hresp;
  std::atomic<bool> held_done{false};
  stub->async()->RunBatch(&hctx, &hold, &hresp,
                          [&](grpc::Status) { held_done = true; });
  ASSERT_TRUE(WaitForInflightJobs(*stub, 100)) << "the first call never came";
  RunBatchRequest more;
  *more.add_jobs() = MakeJob("echo");
  grpc::ClientContext ctx;
  RunBatchResponse resp;
  auto start = std::chrono::steady_clock::now();
  grpc::Status s = stub->RunBatch(&ctx, more, &resp);
  // At once: not after waiting for room (the first call holds it 2 s).
  EXPECT_LT(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(1000));
  EXPECT_EQ(s.error_code(), grpc::RESOURCE_EXHAUSTED);
  auto trailers = ctx.GetServerTrailingMetadata();
  auto it = trailers.find("retry-after-ms");
  ASSERT_NE(it, trailers.end());
  EXPECT_EQ(std::string(it->second.data(), it->second.size()), "250");
  for (int i = 0; i < 500 && !held_done; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(held_done);
  EXPECT_EQ(hresp.summary().succeeded(), 100u);
  // With the first call gone, the same request is admitted.
  grpc::ClientContext ctx2;
  EXPECT_TRUE(stub->RunBatch(&ctx2, more, &resp).ok());
}

}  // namespace
}  // namespace jobgroup::testing

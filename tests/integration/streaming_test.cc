// StreamBatch and Process against a running jobgroupd: results stream as
// they finish, the summary comes last, every job has exactly one result;
// Process holds bounded memory however many jobs stream through it, stops
// reading while its window is full, and a half-close with jobs in flight
// still delivers every outcome. Also fallbacks and retries over the wire.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace jobgroup::testing {
namespace {

using Clock = std::chrono::steady_clock;

class StreamingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess(JOBGROUPD_EXAMPLE_PATH, {"--backend=db=2"});
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(SIGTERM), 0);
    delete server_;
  }
  static ServerProcess* server_;
};
ServerProcess* StreamingTest::server_ = nullptr;

TEST_F(StreamingTest, StreamBatchSendsResultsAsTheyFinishThenTheSummary) {
  auto stub = server_->NewStub();
  v1::StreamBatchRequest req;
  *req.add_jobs() = MakeJob("sleep", {{"ms", "600"}});
  for (int i = 0; i < 50; ++i) *req.add_jobs() = MakeJob("echo");
  grpc::ClientContext ctx;
  auto reader = stub->StreamBatch(&ctx, req);
  v1::StreamBatchResponse msg;
  std::vector<int> seen(51, 0);
  // The message that brought the first echo, and the slow job's.
  int first_echo_message = 0, slow_message = 0;
  bool summary_last = false;
  int messages = 0;
  while (reader->Read(&msg)) {
    ++messages;
    EXPECT_FALSE(summary_last) << "a message after the summary";
    for (const auto& r : msg.results()) {
      if (r.index() == 0) {
        slow_message = messages;
      } else if (first_echo_message == 0) {
        first_echo_message = messages;
      }
      ++seen[r.index()];
    }
    if (msg.has_summary()) {
      summary_last = true;
      EXPECT_EQ(msg.summary().total(), 51u);
      EXPECT_EQ(msg.summary().succeeded(), 51u);
    }
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_TRUE(summary_last);
  for (int n : seen) EXPECT_EQ(n, 1);
  // The echoes came as they finished, before the slow job ended: in an
  // earlier message than its result, not all together at the end.
  EXPECT_GT(first_echo_message, 0);
  EXPECT_LT(first_echo_message, slow_message);
  EXPECT_GE(messages, 2);
}

struct ProcessRun {
  std::vector<int> seen;
  v1::BatchSummary summary;
  bool has_summary = false;
  grpc::Status status;
};

// Streams `n` jobs made by `make` through Process, `per_message` at a time,
// reading results on another thread.
ProcessRun RunProcess(v1::JobService::Stub& stub, int n, int per_message,
                      std::function<v1::Job(int)> make,
                      v1::BatchOptions options = {}, int read_pause_ms = 0) {
  ProcessRun run;
  run.seen.assign(n, 0);
  grpc::ClientContext ctx;
  // A deadline far past what the work needs even under sanitizers on a
  // loaded machine (a million echo jobs take seconds), not the server's
  // 30 s default: the tests that are about deadlines set their own.
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
  auto stream = stub.Process(&ctx);
  std::thread reader([&] {
    if (read_pause_ms) {
      std::this_thread::sleep_for(std::chrono::milliseconds(read_pause_ms));
    }
    v1::ProcessResponse msg;
    while (stream->Read(&msg)) {
      for (const auto& r : msg.results()) {
        if (r.index() < static_cast<uint64_t>(n)) ++run.seen[r.index()];
      }
      if (msg.has_summary()) {
        run.summary = msg.summary();
        run.has_summary = true;
      }
    }
  });
  for (int i = 0; i < n;) {
    v1::ProcessRequest req;
    if (i == 0) *req.mutable_options() = options;
    for (int k = 0; k < per_message && i < n; ++k, ++i)
      *req.add_jobs() = make(i);
    if (!stream->Write(req)) break;
  }
  stream->WritesDone();
  reader.join();
  run.status = stream->Finish();
  return run;
}

TEST_F(StreamingTest, ProcessStreamsAMillionJobsInBoundedMemory) {
  auto stub = server_->NewStub();
  // Warm up, so that the measure starts from a server that has served.
  RunProcess(*stub, 20000, 500, [](int) { return MakeJob("echo"); });
  long before = server_->RssBytes();
  v1::Job echo = MakeJob("echo");
  echo.set_payload("0123456789");
  v1::BatchOptions o;
  o.set_max_concurrency(1000);
  ProcessRun run = RunProcess(
      *stub, 1'000'000, 500, [&](int) { return echo; }, o);
  long after = server_->RssBytes();
  ASSERT_TRUE(run.status.ok()) << run.status.error_message();
  ASSERT_TRUE(run.has_summary);
  EXPECT_EQ(run.summary.total(), 1'000'000u);
  EXPECT_EQ(run.summary.succeeded(), 1'000'000u);
  int missing = 0, twice = 0;
  for (int s : run.seen) {
    missing += s == 0;
    twice += s > 1;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(twice, 0);
  if (!kUnderAsan) {
    EXPECT_LT(after - before, 50L << 20)
        << "RSS grew from " << before << " to " << after;
  }
}

TEST_F(StreamingTest, AClientThatStopsReadingDoesNotGrowServerMemory) {
  auto stub = server_->NewStub();
  long before = server_->RssBytes();
  std::atomic<long> peak{0};
  std::atomic<bool> stop{false};
  std::thread sampler([&] {
    while (!stop) {
      peak = std::max(peak.load(), server_->RssBytes());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  v1::Job big = MakeJob("echo");
  big.set_payload(std::string(10000, 'x'));  // 10 kB results.
  v1::BatchOptions o;
  o.set_max_concurrency(100);
  // 30,000 jobs of 10 kB = 300 MB of results if nothing pushed back; the
  // reader sleeps 5 s before reading anything.
  auto start = Clock::now();
  ProcessRun run = RunProcess(
      *stub, 30000, 100, [&](int) { return big; }, o,
      /*read_pause_ms=*/5000);
  stop = true;
  sampler.join();
  ASSERT_TRUE(run.status.ok()) << run.status.error_message();
  EXPECT_EQ(run.summary.succeeded(), 30000u);
  EXPECT_GE(Clock::now() - start, std::chrono::seconds(5));
  if (!kUnderAsan) {
    EXPECT_LT(peak - before, 80L << 20)
        << "server RSS grew by " << (peak - before) / (1 << 20) << " MB";
  }
}

TEST_F(StreamingTest, HalfCloseWithJobsInFlightStillDeliversEveryOutcome) {
  auto stub = server_->NewStub();
  v1::BatchOptions o;
  o.set_failure_policy(v1::FAILURE_POLICY_COLLECT_ALL);
  ProcessRun run = RunProcess(
      *stub, 200, 50,
      [](int i) {
        return i % 10 == 0 ? MakeJob("fail")
                           : MakeJob("sleep", {{"ms", std::to_string(50 + i)}});
      },
      o);
  ASSERT_TRUE(run.status.ok());
  EXPECT_EQ(run.summary.total(), 200u);
  EXPECT_EQ(run.summary.failed(), 20u);
  EXPECT_EQ(run.summary.succeeded(), 180u);
  for (int s : run.seen) EXPECT_EQ(s, 1);
}

TEST_F(StreamingTest, ProcessRejectsABadJobAndRunsTheRest) {
  auto stub = server_->NewStub();
  ProcessRun run = RunProcess(*stub, 10, 10, [](int i) {
    return i == 3 ? MakeJob("no-such-kind") : MakeJob("echo");
  });
  ASSERT_TRUE(run.status.ok());
  EXPECT_EQ(run.summary.rejected(), 1u);
  EXPECT_EQ(run.summary.succeeded(), 9u);
}

TEST_F(StreamingTest, ProcessDeadlineEndsTheCallWithPartialResults) {
  auto stub = server_->NewStub();
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 600);
  auto stream = stub->Process(&ctx);
  v1::ProcessRequest req;
  for (int i = 0; i < 5; ++i) *req.add_jobs() = MakeJob("echo");
  for (int i = 0; i < 5; ++i)
    *req.add_jobs() = MakeJob("sleep", {{"ms", "10000"}});
  ASSERT_TRUE(stream->Write(req));
  // No half-close: the deadline alone must end the call, with every job
  // read given its outcome, and a status that says the input was cut short.
  v1::ProcessResponse msg;
  v1::BatchSummary summary;
  int results = 0;
  while (stream->Read(&msg)) {
    results += msg.results_size();
    if (msg.has_summary()) summary = msg.summary();
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::DEADLINE_EXCEEDED);
  EXPECT_EQ(results, 10);
  EXPECT_EQ(summary.jobs_read(), 10u);
  EXPECT_EQ(summary.succeeded(), 5u);
  EXPECT_EQ(summary.deadline_exceeded(), 5u);
  EXPECT_TRUE(summary.deadline_hit());
}

TEST_F(StreamingTest, FallbacksServeAndSaySo) {
  auto stub = server_->NewStub();
  v1::RunBatchRequest req;
  v1::Job job = MakeJob("fail", {{"message", "primary url down"}});
  *job.add_fallbacks() = MakeJob("fail", {{"message", "mirror down"}});
  v1::Job good = MakeJob("echo");
  good.set_payload("from fallback 2");
  *job.add_fallbacks() = good;
  *req.add_jobs() = job;
  grpc::ClientContext ctx;
  v1::RunBatchResponse resp;
  ASSERT_TRUE(stub->RunBatch(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.results(0).outcome(), v1::JOB_OUTCOME_SUCCEEDED);
  EXPECT_EQ(resp.results(0).served_by(), 2u);
  EXPECT_EQ(resp.results(0).attempts(), 3u);
  EXPECT_EQ(resp.results(0).output(), "from fallback 2");
}

TEST_F(StreamingTest, RaceCancelsTheLosersAndFreesTheirPermits) {
  auto stub = server_->NewStub();
  v1::RunBatchRequest req;
  req.mutable_options()->set_fallback_mode(v1::FALLBACK_MODE_RACE);
  v1::Job job = MakeJob("fail");
  *job.add_fallbacks() = MakeJob("occupancy", {{"ms", "30000"}}, "db");
  *job.add_fallbacks() = MakeJob("occupancy", {{"ms", "50"}});
  *req.add_jobs() = job;
  grpc::ClientContext ctx;
  auto start = Clock::now();
  v1::RunBatchResponse resp;
  ASSERT_TRUE(stub->RunBatch(&ctx, req, &resp).ok());
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(resp.results(0).served_by(), 2u);
  // The loser held a db permit; it comes back at once.
  bool idle = false;
  for (int i = 0; i < 100 && !idle; ++i) {
    grpc::ClientContext ictx;
    v1::GetServerInfoResponse info;
    ASSERT_TRUE(stub->GetServerInfo(&ictx, {}, &info).ok());
    for (const auto& b : info.backends()) {
      if (b.name() == "db") idle = b.in_use() == 0;
    }
    if (!idle) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(idle);
}

TEST_F(StreamingTest, RetriesObeyTheBackoffAndStopAtTheDeadline) {
  auto stub = server_->NewStub();
  v1::RunBatchRequest req;
  auto* retry = req.mutable_options()->mutable_retry();
  retry->set_max_attempts(4);
  retry->mutable_initial_backoff()->set_nanos(100'000'000);  // 100 ms
  retry->set_backoff_multiplier(2);                          // 100, 200, 400
  *req.add_jobs() = MakeJob("fail");
  grpc::ClientContext ctx;
  auto start = Clock::now();
  v1::RunBatchResponse resp;
  ASSERT_TRUE(stub->RunBatch(&ctx, req, &resp).ok());
  auto took = Clock::now() - start;
  EXPECT_EQ(resp.results(0).attempts(), 4u);
  EXPECT_GE(took, std::chrono::milliseconds(700));
  EXPECT_LT(took, std::chrono::milliseconds(1500));

  // Under a 600 ms deadline (the server's own is 100 ms earlier, at 500)
  // only the first two waits fit: the third attempt fails at 300 ms, and
  // a wait of 400 ms more would pass the deadline. 200 ms to spare for a
  // slow machine.
  grpc::ClientContext ctx2;
  SetDeadlineMs(&ctx2, 600);
  ASSERT_TRUE(stub->RunBatch(&ctx2, req, &resp).ok());
  EXPECT_EQ(resp.results(0).outcome(), v1::JOB_OUTCOME_FAILED);
  EXPECT_EQ(resp.results(0).attempts(), 3u);
}

}  // namespace
}  // namespace jobgroup::testing

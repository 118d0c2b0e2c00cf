// Tests of ServerMetrics' per-job series, read from its real /metrics
// endpoint: each job counts under its kind (found by JobKind, by name, or
// as "unknown"), with the names, types, help and buckets of the metrics
// contract, and no job of racing threads is lost.
#include "server/service/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/core/backends.h"
#include "server/core/job.h"
#include "server/core/job_kind.h"

namespace jobgroup {
namespace {

// GET http://127.0.0.1:port/metrics, the body ("" on error).
std::string Scrape(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    std::string request =
        "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (write(fd, request.data(), request.size()) ==
        static_cast<ssize_t>(request.size())) {
      char buf[65536];
      ssize_t n;
      while ((n = read(fd, buf, sizeof(buf))) > 0) response.append(buf, n);
    }
  }
  close(fd);
  size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

// The value of the sample `series` (name and labels as exposed), or -1.
double Sample(const std::string& page, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (absl::ConsumePrefix(&line, series) && absl::ConsumePrefix(&line, " ")) {
      double v;
      if (absl::SimpleAtod(line, &v)) return v;
    }
  }
  return -1;
}

// The `le` values of the buckets of `series_labels` in histogram `name`.
std::vector<std::string> Bounds(const std::string& page,
                                const std::string& name,
                                const std::string& series_labels) {
  std::vector<std::string> out;
  std::string prefix = absl::StrCat(name, "_bucket{", series_labels, ",le=\"");
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (absl::ConsumePrefix(&line, prefix)) {
      out.emplace_back(line.substr(0, line.find('"')));
    }
  }
  return out;
}

class ServerMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto handler = [](JobContext&) -> absl::StatusOr<std::string> {
      return "";
    };
    ASSERT_TRUE(kinds_.Register({"echo", "local", ""}, handler).ok());
    ASSERT_TRUE(kinds_.Register({"sleep", "db", ""}, handler).ok());
    ASSERT_TRUE(backends_.Add({"local", 2}).ok());
    ASSERT_TRUE(backends_.Add({"db", 1}).ok());
    metrics_ = std::make_unique<ServerMetrics>(
        kinds_, LiveSources{nullptr, &backends_, nullptr, nullptr}, "test");
  }

  void Serve() {
    ASSERT_TRUE(metrics_->Serve("127.0.0.1:0").ok());
    ASSERT_GT(metrics_->port(), 0);
  }
  std::string Page() { return Scrape(metrics_->port()); }

  static JobResult Result(const JobKind* kind, JobOutcome outcome,
                          uint32_t attempts, absl::Duration run) {
    JobResult r;
    r.kind = kind;
    r.outcome = outcome;
    r.attempts = attempts;
    r.run_time = run;
    return r;
  }

  KindRegistry kinds_;
  BackendSet backends_;
  std::unique_ptr<ServerMetrics> metrics_;
};

TEST_F(ServerMetricsTest, JobsCountUnderTheirKindOrUnknown) {
  Serve();
  const JobKind* echo = kinds_.Find("echo");
  metrics_->JobFinished(
      "echo", Result(echo, JobOutcome::kSucceeded, 1, absl::Milliseconds(2)));
  metrics_->JobFinished(
      "echo", Result(echo, JobOutcome::kSucceeded, 3, absl::Milliseconds(4)));
  // Never started (no JobKind): found by name.
  metrics_->JobFinished(
      "echo", Result(nullptr, JobOutcome::kCancelled, 0, absl::ZeroDuration()));
  metrics_->JobFinished(
      "nope", Result(nullptr, JobOutcome::kRejected, 0, absl::ZeroDuration()));
  metrics_->JobFinished(
      "", Result(nullptr, JobOutcome::kRejected, 0, absl::ZeroDuration()));
  std::string page = Page();
  EXPECT_EQ(
      Sample(page, "jobgroup_jobs_total{kind=\"echo\",outcome=\"succeeded\"}"),
      2)
      << page;
  EXPECT_EQ(
      Sample(page, "jobgroup_jobs_total{kind=\"echo\",outcome=\"cancelled\"}"),
      1);
  EXPECT_EQ(
      Sample(page, "jobgroup_jobs_total{kind=\"echo\",outcome=\"failed\"}"), 0);
  EXPECT_EQ(
      Sample(page,
             "jobgroup_jobs_total{kind=\"unknown\",outcome=\"rejected\"}"),
      2);
  EXPECT_EQ(
      Sample(page, "jobgroup_jobs_total{kind=\"sleep\",outcome=\"succeeded\"}"),
      0);
  EXPECT_EQ(Sample(page, "jobgroup_job_attempts_total{kind=\"echo\"}"), 4);
  EXPECT_EQ(Sample(page, "jobgroup_job_run_seconds_count{kind=\"echo\"}"), 2);
  EXPECT_DOUBLE_EQ(Sample(page, "jobgroup_job_run_seconds_sum{kind=\"echo\"}"),
                   0.006);
  EXPECT_EQ(
      Sample(page,
             "jobgroup_job_run_seconds_bucket{kind=\"echo\",le=\"0.001\"}"),
      0);
  EXPECT_EQ(
      Sample(page,
             "jobgroup_job_run_seconds_bucket{kind=\"echo\",le=\"0.005\"}"),
      2);
}

// A call's result label comes from the summary's typed cancel cause, never
// from the wording of its message.
TEST_F(ServerMetricsTest, BatchesCountUnderTheirTypedCancelCause) {
  Serve();
  auto summary = [](CancelCause cause, absl::Status why) {
    BatchSummary s;
    s.Add(JobOutcome::kCancelled);
    s.cancel_cause = cause;
    s.deadline_hit = cause == CancelCause::kDeadline;
    s.cancel_reason = std::move(why);
    return s;
  };
  // Fail-fast whatever the message says; a client cancel whose message
  // reads like fail-fast is still a cancel.
  metrics_->BatchFinished(
      Method::kRunBatch,
      summary(CancelCause::kFailFast, absl::CancelledError("job 3 broke")));
  metrics_->BatchFinished(
      Method::kRunBatch,
      summary(CancelCause::kClient,
              absl::CancelledError("cancelled because job 1 failed")));
  metrics_->BatchFinished(
      Method::kRunBatch,
      summary(CancelCause::kDrain, absl::CancelledError("draining")));
  metrics_->BatchFinished(
      Method::kRunBatch,
      summary(CancelCause::kDeadline, absl::DeadlineExceededError("late")));
  std::string page = Page();
  auto batches = [&](const char* result) {
    return Sample(page,
                  absl::StrCat("jobgroup_batches_total{method=\"RunBatch\","
                               "result=\"",
                               result, "\"}"));
  };
  EXPECT_EQ(batches("failed"), 1) << page;
  EXPECT_EQ(batches("cancelled"), 2);
  EXPECT_EQ(batches("deadline_exceeded"), 1);
  EXPECT_EQ(batches("ok"), 0);
  EXPECT_EQ(
      Sample(page,
             "jobgroup_failfast_cancellations_total{method=\"RunBatch\"}"),
      1);
  EXPECT_EQ(
      Sample(page, "jobgroup_deadline_expiries_total{method=\"RunBatch\"}"), 1);
}

TEST_F(ServerMetricsTest, QueueWaitsCountUnderTheJobsKind) {
  Serve();
  JobSpec job;
  job.kind = "sleep";
  job.resolved_kind = kinds_.Find("sleep");
  metrics_->OnHandlerStart(job, absl::Seconds(1));  // le="1" (inclusive).
  job.resolved_kind = nullptr;                      // By name.
  metrics_->OnHandlerStart(job, absl::Seconds(2));
  std::string page = Page();
  EXPECT_EQ(
      Sample(page, "jobgroup_job_queue_wait_seconds_count{kind=\"sleep\"}"), 2);
  EXPECT_EQ(Sample(page, "jobgroup_job_queue_wait_seconds_sum{kind=\"sleep\"}"),
            3);
  EXPECT_EQ(
      Sample(page,
             "jobgroup_job_queue_wait_seconds_bucket{kind=\"sleep\",le=\"1\"}"),
      1);
  EXPECT_EQ(
      Sample(
          page,
          "jobgroup_job_queue_wait_seconds_bucket{kind=\"sleep\",le=\"2.5\"}"),
      2);
  EXPECT_EQ(
      Sample(page, "jobgroup_job_queue_wait_seconds_count{kind=\"echo\"}"), 0);
}

TEST_F(ServerMetricsTest, PermitWaitsCountUnderTheirBackend) {
  Serve();
  metrics_->OnPermitWait(*backends_.Find("db"), absl::Milliseconds(20));
  metrics_->OnPermitWait(*backends_.Find("db"), absl::ZeroDuration());
  Semaphore other_db("db", 1);  // Not the set's own: found by name.
  metrics_->OnPermitWait(other_db, absl::Milliseconds(20));
  Semaphore stranger("stranger", 1);  // No series: not counted.
  metrics_->OnPermitWait(stranger, absl::Milliseconds(20));
  std::string page = Page();
  EXPECT_EQ(Sample(page, "jobgroup_backend_wait_seconds_count{backend=\"db\"}"),
            3);
  EXPECT_EQ(
      Sample(
          page,
          "jobgroup_backend_wait_seconds_bucket{backend=\"db\",le=\"0.0001\"}"),
      1);
  EXPECT_EQ(
      Sample(page, "jobgroup_backend_wait_seconds_count{backend=\"local\"}"),
      0);
  EXPECT_EQ(page.find("stranger"), std::string::npos);
}

TEST_F(ServerMetricsTest, NothingIsRecordedBeforeServe) {
  metrics_->JobFinished("echo",
                        Result(kinds_.Find("echo"), JobOutcome::kSucceeded, 1,
                               absl::Milliseconds(1)));
  Serve();
  std::string page = Page();
  EXPECT_EQ(
      Sample(page, "jobgroup_jobs_total{kind=\"echo\",outcome=\"succeeded\"}"),
      0)
      << page;
}

// What the metrics contract (tests/metrics) and dashboards rely on.
TEST_F(ServerMetricsTest, PerJobFamiliesKeepTheirNamesTypesHelpAndBuckets) {
  Serve();
  std::string page = Page();
  for (const char* line : {
           "# HELP jobgroup_jobs_total Jobs by kind and outcome.",
           "# TYPE jobgroup_jobs_total counter",
           "# HELP jobgroup_job_attempts_total Attempts made, retries and "
           "fallbacks included.",
           "# TYPE jobgroup_job_attempts_total counter",
           "# HELP jobgroup_job_run_seconds Time a job's handler ran.",
           "# TYPE jobgroup_job_run_seconds histogram",
           "# HELP jobgroup_job_queue_wait_seconds Time from a job's start to "
           "its handler's start (permit and queue waits).",
           "# TYPE jobgroup_job_queue_wait_seconds histogram",
           "# HELP jobgroup_backend_wait_seconds Time waited for a backend "
           "permit, per permit taken: one per job, or one per 500 us slice "
           "of a run of synchronous jobs.",
           "# TYPE jobgroup_backend_wait_seconds histogram",
           "# TYPE jobgroup_job_retries_total counter",
           "# TYPE jobgroup_fallbacks_served_total counter",
       }) {
    EXPECT_NE(page.find(absl::StrCat("\n", line, "\n")), std::string::npos)
        << line;
  }
  const std::vector<std::string> job_buckets = {
      "0.0001", "0.0005", "0.001", "0.005", "0.01", "0.025", "0.05",
      "0.1",    "0.25",   "0.5",   "1",     "2.5",  "5",     "10",
      "30",     "60",     "120",   "300",   "600",  "+Inf"};
  for (const char* kind : {"echo", "sleep", "unknown"}) {
    std::string l = absl::StrCat("kind=\"", kind, "\"");
    EXPECT_EQ(Bounds(page, "jobgroup_job_run_seconds", l), job_buckets) << kind;
    EXPECT_EQ(Bounds(page, "jobgroup_job_queue_wait_seconds", l), job_buckets)
        << kind;
    for (const char* outcome : {"succeeded", "failed", "cancelled",
                                "deadline_exceeded", "rejected"}) {
      EXPECT_EQ(Sample(page, absl::StrCat("jobgroup_jobs_total{", l,
                                          ",outcome=\"", outcome, "\"}")),
                0)
          << kind << " " << outcome;
    }
  }
  EXPECT_EQ(Bounds(page, "jobgroup_backend_wait_seconds", "backend=\"db\""),
            job_buckets);
}

TEST_F(ServerMetricsTest, JobsOfRacingThreadsAreAllCounted) {
  Serve();
  constexpr int kThreads = 4;
  constexpr int kJobs = 20000;
  const JobKind* echo = kinds_.Find("echo");
  JobSpec spec;
  spec.kind = "echo";
  spec.resolved_kind = echo;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kJobs; ++i) {
        metrics_->OnPermitWait(*backends_.Find("local"), absl::ZeroDuration());
        metrics_->OnHandlerStart(spec, absl::Microseconds(50));
        metrics_->JobFinished("echo", Result(echo, JobOutcome::kSucceeded, 1,
                                             absl::Milliseconds(1)));
      }
    });
  }
  // Scrapes while they run must not disturb them.
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(Page().empty());
  for (auto& t : threads) t.join();
  std::string page = Page();
  const double n = kThreads * kJobs;
  EXPECT_EQ(
      Sample(page, "jobgroup_jobs_total{kind=\"echo\",outcome=\"succeeded\"}"),
      n);
  EXPECT_EQ(Sample(page, "jobgroup_job_attempts_total{kind=\"echo\"}"), n);
  EXPECT_EQ(Sample(page, "jobgroup_job_run_seconds_count{kind=\"echo\"}"), n);
  EXPECT_EQ(
      Sample(page,
             "jobgroup_job_run_seconds_bucket{kind=\"echo\",le=\"0.001\"}"),
      n);
  EXPECT_EQ(Sample(page,
                   "jobgroup_job_queue_wait_seconds_bucket{kind=\"echo\",le="
                   "\"0.0001\"}"),
            n);
  EXPECT_EQ(
      Sample(page, "jobgroup_backend_wait_seconds_count{backend=\"local\"}"),
      n);
}

// civetweb looks at its stop flag between polls of up to 2 s: stopping an
// idle endpoint took up to 2 s (a second, on average) until the exposer
// was stopped with knocks on its port. Five stops of endpoints at rest
// would take about 5 s without them; they take milliseconds with them.
TEST_F(ServerMetricsTest, AnIdleEndpointStopsAtOnce) {
  absl::Duration total;
  for (int i = 0; i < 5; ++i) {
    auto metrics = std::make_unique<ServerMetrics>(
        kinds_, LiveSources{nullptr, &backends_, nullptr, nullptr}, "test");
    ASSERT_TRUE(metrics->Serve("127.0.0.1:0").ok());
    ASSERT_FALSE(Scrape(metrics->port()).empty());
    absl::SleepFor(absl::Milliseconds(50));  // Back in its poll.
    absl::Time start = absl::Now();
    metrics.reset();
    total += absl::Now() - start;
  }
  EXPECT_LT(total, absl::Milliseconds(2500));
}

// One client that sends half a request must not hold every scrape: it
// holds one of several threads, and is dropped after a short timeout
// (civetweb's default is 30 s, on its only thread).
TEST_F(ServerMetricsTest, AHalfSentRequestHoldsNoScrapeAndIsDropped) {
  Serve();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(metrics_->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  std::string half = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  ASSERT_EQ(write(fd, half.data(), half.size()),
            static_cast<ssize_t>(half.size()));
  // Scrapes are answered while the half request is open.
  absl::Time start = absl::Now();
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(Page().find("jobgroup_"), std::string::npos);
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(15));
  // The server drops the half request: well before civetweb's default 30 s.
  timeval wait{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  char buf[256];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
  }
  EXPECT_EQ(n, 0) << "still open after 20 s";
  close(fd);
}

}  // namespace
}  // namespace jobgroup

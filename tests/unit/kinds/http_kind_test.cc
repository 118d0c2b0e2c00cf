// Tests of the http job kind through the real core (TaskGroup,
// Executor, backends, workers, timers) against a real HTTP server on
// loopback: output, truncation, per-host and global caps, cancellation and
// deadlines closing connections, retries with Retry-After, fallbacks,
// keep-alive, and every request-forgery route refused.
#include "server/kinds/http_kind.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/unit/kinds/http_test_env.h"
#include "tests/unit/kinds/test_http_server.h"

namespace jobgroup {
namespace {

using ::jobgroup::testing::CollectingSink;
using ::jobgroup::testing::HttpTestEnv;
using ::jobgroup::testing::LoopbackOptions;
using ::jobgroup::testing::Params;
using ::jobgroup::testing::TestHttpServer;

#define EXPECT_CONTAINS(text, part)                                      \
  EXPECT_TRUE(absl::StrContains(text, part)) << "\"" << (text) << "\"\n" \
                                             << "lacks \"" << (part) << "\""

// A loopback port nothing listens on.
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// Runs `jobs` in one call (COLLECT_ALL) and waits for every result.
std::map<uint64_t, JobResult> RunJobs(
    HttpTestEnv& env, std::vector<std::shared_ptr<JobSpec>> jobs,
    TaskGroup::Options o = {}) {
  o.policy = FailurePolicy::kCollectAll;
  CollectingSink sink;
  auto run = TaskGroup::Create(&env.executor(), o, &sink);
  size_t n = jobs.size();
  run->AddJobs(n, [jobs = std::move(jobs)](uint64_t i) { return jobs[i]; });
  run->CloseInput();
  EXPECT_TRUE(sink.Wait(absl::Seconds(30)));
  return sink.results();
}

RetryPolicy Retries(uint32_t attempts) {
  RetryPolicy r;
  r.max_attempts = attempts;
  r.initial_backoff = absl::Milliseconds(10);
  return r;
}

// ---- Requests and output ----

TEST(HttpKindTest, GetReturnsStatusHeadersAndBodyAsJson) {
  TestHttpServer server;
  HttpTestEnv env(LoopbackOptions());
  JobResult r = env.RunOne(env.Job({{"url", server.Url("/ok")}}));
  ASSERT_EQ(r.outcome, JobOutcome::kSucceeded) << r.error;
  EXPECT_EQ(r.output,
            absl::StrCat("{\"status\":200,\"url\":\"", server.Url("/ok"),
                         "\",\"redirects\":0,\"headers\":{\"content-length\":"
                         "\"5\",\"x-served-by\":\"test\"},\"body\":\"hello\","
                         "\"body_encoding\":\"text\",\"body_bytes\":5,"
                         "\"truncated\":false}"));
  EXPECT_EQ(r.attempts, 1u);
}

TEST(HttpKindTest, PostSendsThePayloadAndTheHeaders) {
  TestHttpServer server;
  HttpTestEnv env(LoopbackOptions());
  JobResult r = env.RunOne(
      env.Job({{"url", server.Url("/echo?q=1")},
               {"method", "POST"},
               {"headers", "Content-Type: text/plain\nX-Trace: abc"}},
              "ping"));
  ASSERT_EQ(r.outcome, JobOutcome::kSucceeded) << r.error;
  EXPECT_CONTAINS(r.output, "\"body\":\"POST /echo?q=1\\n");
  EXPECT_CONTAINS(r.output, "\\n\\nping\"");
  auto h = server.last_headers("/echo");
  EXPECT_EQ(h["x-trace"], "abc");
  EXPECT_EQ(h["content-type"], "text/plain");
  EXPECT_EQ(h["content-length"], "4");
  EXPECT_EQ(h["user-agent"], "jobgroup-http/1");
  EXPECT_EQ(h.count("expect"), 0u);
}

TEST(HttpKindTest, RequestsCarryTheCallsTraceparentAndTheTimeLeft) {
  TestHttpServer server;
  HttpTestEnv env(LoopbackOptions());
  const std::string tp =
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  std::shared_ptr<JobSpec> traced = env.Job({{"url", server.Url("/ok")}});
  traced->traceparent = std::make_shared<const std::string>(tp);
  // The job's own header wins over the call's.
  std::shared_ptr<JobSpec> own =
      env.Job({{"url", server.Url("/echo")},
               {"headers",
                "traceparent: "
                "00-11111111111111111111111111111111-2222222222222222-00"}});
  own->traceparent = std::make_shared<const std::string>(tp);
  std::shared_ptr<JobSpec> plain =
      env.Job({{"url", server.Url("/big?bytes=1")}});
  TaskGroup::Options o;
  o.deadline = absl::Now() + absl::Seconds(60);
  auto results = RunJobs(env, {traced, own, plain}, o);
  for (const auto& [i, r] : results) {
    ASSERT_EQ(r.outcome, JobOutcome::kSucceeded) << i << ": " << r.error;
  }
  auto a = server.last_headers("/ok");
  EXPECT_EQ(a["traceparent"], tp);
  int64_t ms = -1;
  ASSERT_TRUE(absl::SimpleAtoi(a["x-request-timeout-ms"], &ms))
      << a["x-request-timeout-ms"];
  EXPECT_GT(ms, 0);
  EXPECT_LE(ms, 60000);
  EXPECT_EQ(server.last_headers("/echo")["traceparent"],
            "00-11111111111111111111111111111111-2222222222222222-00");
  auto c = server.last_headers("/big");
  EXPECT_EQ(c.count("traceparent"), 0u);
  EXPECT_EQ(c.count("x-request-timeout-ms"), 1u);
}

TEST(HttpKindTest, PutDeleteAndHeadUseTheirMethods) {
  TestHttpServer server;
  HttpTestEnv env(LoopbackOptions());
  JobResult put = env.RunOne(
      env.Job({{"url", server.Url("/echo")}, {"method", "PUT"}}, "v"));
  ASSERT_EQ(put.outcome, JobOutcome::kSucceeded) << put.error;
  EXPECT_CONTAINS(put.output, "\"body\":\"PUT /echo\\n");
  EXPECT_CONTAINS(put.output, "\\n\\nv\"");
  JobResult del =
      env.RunOne(env.Job({{"url", server.Url("/echo")}, {"method", "delete"}}));
  ASSERT_EQ(del.outcome, JobOutcome::kSucceeded) << del.error;
  EXPECT_CONTAINS(del.output, "\"body\":\"DELETE /echo\\n");
  JobResult head =
      env.RunOne(env.Job({{"url", server.Url("/ok")}, {"method", "HEAD"}}));
  ASSERT_EQ(head.outcome, JobOutcome::kSucceeded) << head.error;
  EXPECT_CONTAINS(head.output, "\"status\":200");
  EXPECT_CONTAINS(head.output, "\"body\":\"\"");
  // A GET ignores the payload.
  JobResult get = env.RunOne(env.Job({{"url", server.Url("/echo")}}, "x"));
  EXPECT_CONTAINS(get.output, "\"body\":\"GET /echo\\n");
  EXPECT_EQ(server.last_headers("/echo").count("content-length"), 0u);
}

TEST(HttpKindTest, BodyIsCutAtMaxResponseBytesAndTheOutputSaysSo) {
  TestHttpServer server;
  HttpTestEnv env(LoopbackOptions());
  JobResult r = env.RunOne(env.Job({{"url", server.Url("/big?bytes=300000")},
                                    {"max_response_bytes", "1000"}}));
  ASSERT_EQ(r.outcome, JobOutcome::kSucceeded) << r.error;
  EXPECT_CONTAINS(r.output, "\"body_bytes\":1000,\"truncated\":true}");
  EXPECT_CONTAINS(r.output, "\"body\":\"abcdefghijklmnopqrstuvwxyzabc");
  JobResult whole = env.RunOne(env.Job({{"url", server.Url("/big?bytes=1000")},
                                        {"max_response_bytes", "1000"}}));
  EXPECT_CONTAINS(whole.output, "\"body_bytes\":1000,\"truncated\":false}");
  JobResult binary = env.RunOne(env.Job(
      {{"url", server.Url("/binary?bytes=4")}, {"max_response_bytes", "3"}}));
  ASSERT_EQ(binary.outcome, JobOutcome::kSucceeded) << binary.error;
  EXPECT_CONTAINS(binary.output,
                  "\"body\":\"//79\",\"body_encoding\":\"base64\","
                  "\"body_bytes\":3,\"truncated\":true}");
}

TEST(HttpKindTest, AcceptDecidesWhichStatusesSucceed) {
  TestHttpServer server;
  HttpTestEnv env(LoopbackOptions());
  JobResult r = env.RunOne(
      env.Job({{"url", server.Url("/status?code=404")}, {"accept", "404"}}));
  EXPECT_EQ(r.outcome, JobOutcome::kSucceeded) << r.error;
  EXPECT_CONTAINS(r.output, "\"status\":404");
  JobResult no = env.RunOne(env.Job({{"url", server.Url("/status?code=404")}}));
  EXPECT_EQ(no.outcome, JobOutcome::kFailed);
  EXPECT_EQ(no.error.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(no.error.message(),
            absl::StrCat("http GET ", server.Url("/status?code=404"),
                         ": status 404 is not accepted (200-299); body: "
                         "\"status 404\""));
}

// ---- Failures are FAILED, with codes that say what happened ----

TEST(HttpKindTest, ServerErrorsRateLimitsAndConnectionErrorsFail) {
  TestHttpServer server;
  HttpTestEnv env(LoopbackOptions());
  JobResult e500 =
      env.RunOne(env.Job({{"url", server.Url("/status?code=500")}}));
  EXPECT_EQ(e500.outcome, JobOutcome::kFailed);
  EXPECT_EQ(e500.error.code(), absl::StatusCode::kUnavailable);
  JobResult e429 =
      env.RunOne(env.Job({{"url", server.Url("/status?code=429")}}));
  EXPECT_EQ(e429.outcome, JobOutcome::kFailed);
  EXPECT_EQ(e429.error.code(), absl::StatusCode::kResourceExhausted);
  std::string refused_url =
      absl::StrCat("http://127.0.0.1:", ClosedPort(), "/");
  JobResult conn = env.RunOne(env.Job({{"url", refused_url}}));
  EXPECT_EQ(conn.outcome, JobOutcome::kFailed);
  EXPECT_EQ(conn.error.code(), absl::StatusCode::kUnavailable);
  EXPECT_CONTAINS(conn.error.message(), absl::StrCat("http GET ", refused_url));
  EXPECT_CONTAINS(conn.error.message(), "(curl error 7)");
}

TEST(HttpKindTest, FailedRequestsAreRetriedByTheCallsRetryPolicy) {
  TestHttpServer server;
  HttpTestEnv env(LoopbackOptions());
  TaskGroup::Options o;
  o.retry = Retries(3);
  JobResult r =
      env.RunOne(env.Job({{"url", server.Url("/flaky?key=f1&fails=2")}}), o);
  ASSERT_EQ(r.outcome, JobOutcome::kSucceeded) << r.error;
  EXPECT_EQ(r.attempts, 3u);
  EXPECT_EQ(server.arrivals("f1").size(), 3u);
  EXPECT_CONTAINS(r.output, "\"body\":\"ok\"");
}

// ---- Retry-After ----

TEST(HttpKindTest, RetryAfterIsWaitedOutBeforeTheRetry) {
  TestHttpServer server;
  HttpTestEnv env(LoopbackOptions());
  TaskGroup::Options o;
  o.retry = Retries(2);
  for (int code : {429, 503}) {
    std::string key = absl::StrCat("ra", code);
    JobResult r = env.RunOne(
        env.Job(
            {{"url", server.Url(absl::StrCat("/retry_after?key=", key,
                                             "&fails=1&secs=1&code=", code))}}),
        o);
    ASSERT_EQ(r.outcome, JobOutcome::kSucceeded) << r.error;
    EXPECT_EQ(r.attempts, 2u);
    std::vector<absl::Time> at = server.arrivals(key);
    ASSERT_EQ(at.size(), 2u);
    absl::Duration gap = at[1] - at[0];
    EXPECT_GE(gap, absl::Seconds(1)) << code;
    EXPECT_LT(gap, absl::Milliseconds(1800)) << code;
  }
}

TEST(HttpKindTest, RetryAfterTheJobWillNotWaitFailsAtOnceSayingWhy) {
  TestHttpServer server;
  HttpTestEnv env(LoopbackOptions());
  absl::Time start = absl::Now();
  JobResult r = env.RunOne(
      env.Job({{"url", server.Url("/retry_after?key=long&fails=9&secs=60")},
               {"max_retry_after_ms", "100"}}));
  // At once: not after the minute it was asked to wait.
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(r.outcome, JobOutcome::kFailed);
  EXPECT_EQ(r.error.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_CONTAINS(r.error.message(),
                  "(Retry-After 1m not waited: over max_retry_after_ms 100)");

  auto job =
      env.Job({{"url", server.Url("/retry_after?key=dl&fails=9&secs=20")}});
  job->timeout = absl::Seconds(5);
  start = absl::Now();
  r = env.RunOne(job);
  // At once: well before the 5 s timeout (and the 20 s asked for).
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(2500));
  EXPECT_EQ(r.outcome, JobOutcome::kFailed);
  EXPECT_CONTAINS(r.error.message(),
                  "(Retry-After 20s not waited: it would pass the deadline)");
}

TEST(HttpKindTest, CancelDuringRetryAfterWaitEndsAtOnce) {
  TestHttpServer server;
  HttpTestEnv env(LoopbackOptions());
  CollectingSink sink;
  auto run = TaskGroup::Create(&env.executor(), {}, &sink);
  run->AddJobs(1, testing::Repeat(env.Job(
                      {{"url", server.Url("/retry_after?key=c&secs=20")}})));
  run->CloseInput();
  ASSERT_TRUE(server.WaitFor([&] { return server.arrivals("c").size() == 1; }));
  absl::SleepFor(absl::Milliseconds(50));  // The response is in: parked.
  run->Cancel(absl::CancelledError("client cancelled"));
  // At once, not after the 20 s asked for.
  ASSERT_TRUE(sink.Wait(absl::Seconds(5)));
  EXPECT_EQ(sink.Count(JobOutcome::kCancelled), 1);
  EXPECT_TRUE(server.WaitFor([&] { return env.http_backend().in_use() == 0; }));
}

// ---- Caps: per host and global; no thread held ----

TEST(HttpKindTest, PerHostCapIsNeverExceededAndRequestsHoldNoWorker) {
  TestHttpServer server;
  HttpOptions o;
  o.allow = o.allow_private = {"a.test:*", "b.test:*"};
  o.resolve = {absl::StrCat("a.test:", server.port(), ":127.0.0.1"),
               absl::StrCat("b.test:", server.port(), ":127.0.0.1")};
  o.max_per_host = 3;
  o.host_limits = {{"a.test", 2}};
  HttpTestEnv env(o, /*workers=*/1);
  std::vector<std::shared_ptr<JobSpec>> jobs;
  for (int i = 0; i < 24; ++i) {
    const char* host = i % 2 ? "b.test" : "a.test";
    jobs.push_back(env.Job({{"url", server.Url("/slow?ms=100", host)}}));
  }
  absl::Time start = absl::Now();
  auto results = RunJobs(env, jobs);
  absl::Duration took = absl::Now() - start;
  for (auto& [i, r] : results) {
    EXPECT_EQ(r.outcome, JobOutcome::kSucceeded) << i << ": " << r.error;
  }
  EXPECT_EQ(server.peak_in_flight("a.test"), 2);
  EXPECT_EQ(server.peak_in_flight("b.test"), 3);
  EXPECT_EQ(env.kind().host_limits().For("a.test")->peak_in_use(), 2);
  EXPECT_EQ(env.kind().host_limits().For("b.test")->peak_in_use(), 3);
  EXPECT_EQ(env.kind().host_limits().For("a.test")->name(), "http:a.test");
  // a.test: 12 requests of 100 ms, 2 at a time: 600 ms. One worker thread
  // holding each request would need 2.4 s.
  EXPECT_GE(took, absl::Milliseconds(600));
  EXPECT_LT(took, absl::Milliseconds(1500));
  EXPECT_EQ(env.kind().host_limits().For("a.test")->in_use(), 0);
}

TEST(HttpKindTest, HttpBackendCapsRequestsAcrossHosts) {
  TestHttpServer server;
  HttpOptions o;
  o.allow = o.allow_private = {"a.test:*", "b.test:*"};
  o.resolve = {absl::StrCat("a.test:", server.port(), ":127.0.0.1"),
               absl::StrCat("b.test:", server.port(), ":127.0.0.1")};
  o.max_inflight = 3;
  HttpTestEnv env(o);
  EXPECT_EQ(env.http_backend().capacity(), 3);
  std::vector<std::shared_ptr<JobSpec>> jobs;
  for (int i = 0; i < 12; ++i) {
    jobs.push_back(env.Job(
        {{"url", server.Url("/slow?ms=50", i % 2 ? "b.test" : "a.test")}}));
  }
  auto results = RunJobs(env, jobs);
  EXPECT_EQ(results.size(), 12u);
  EXPECT_EQ(server.peak_in_flight_all(), 3);
  EXPECT_EQ(env.http_backend().peak_in_use(), 3);
}

TEST(HttpKindTest, ResponseBodiesInFlightShareATotalCap) {
  TestHttpServer server;
  HttpOptions o = LoopbackOptions();
  o.max_body_bytes = 3 << 20;  // Room for three jobs of 1 MiB.
  MemoryBudget server_memory(uint64_t{1} << 30);
  HttpTestEnv env(o, /*workers=*/2, &server_memory);
  EXPECT_EQ(env.kind().body_bytes().limit(), uint64_t{3} << 20);
  std::vector<std::shared_ptr<JobSpec>> jobs;
  for (int i = 0; i < 12; ++i) {
    jobs.push_back(env.Job({{"url", server.Url("/slow?ms=30")},
                            {"max_response_bytes", absl::StrCat(1 << 20)}}));
  }
  auto results = RunJobs(env, jobs);
  ASSERT_EQ(results.size(), 12u);
  for (auto& [i, r] : results) {
    EXPECT_EQ(r.outcome, JobOutcome::kSucceeded) << i << ": " << r.error;
  }
  // 12 jobs, a backend of 256 and 8 per host would allow 8 at once; the
  // body bytes allow 3.
  EXPECT_EQ(server.peak_in_flight_all(), 3);
  EXPECT_TRUE(server.WaitFor([&] {
    return env.kind().body_bytes().used() == 0 && server_memory.used() == 0;
  }));
  // A job may not ask for more than the whole cap.
  absl::Status s =
      env.Validate({{"url", server.Url("/ok")},
                    {"max_response_bytes", absl::StrCat((3 << 20) + 1)}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(s.message(), "params.max_response_bytes: ");
}

TEST(HttpKindTest, AJobWaitingForBodyBytesIsCancelledAtOnce) {
  TestHttpServer server;
  HttpOptions o = LoopbackOptions();
  o.max_body_bytes = 1 << 20;
  MemoryBudget server_memory(uint64_t{1} << 30);
  HttpTestEnv env(o, /*workers=*/2, &server_memory);
  CollectingSink sink;
  auto run = TaskGroup::Create(&env.executor(), {}, &sink);
  // The first holds the whole cap for 20 s; the second waits for it.
  run->AddJobs(2, testing::Repeat(env.Job(
                      {{"url", server.Url("/slow?ms=20000")},
                       {"max_response_bytes", absl::StrCat(1 << 20)}})));
  run->CloseInput();
  ASSERT_TRUE(server.WaitFor([&] { return server.in_flight_all() == 1; }));
  EXPECT_EQ(server_memory.used(), uint64_t{1} << 20);
  run->Cancel(absl::CancelledError("client cancelled"));
  ASSERT_TRUE(sink.Wait(absl::Seconds(5)));
  EXPECT_EQ(sink.Count(JobOutcome::kCancelled), 2);
  EXPECT_EQ(server.peak_in_flight_all(), 1);  // The waiter never sent one.
  EXPECT_TRUE(server.WaitFor([&] {
    return env.kind().body_bytes().used() == 0 && server_memory.used() == 0;
  }));
}

TEST(HttpKindTest, NameLookupsAtOnceAreBounded) {
  TestHttpServer server;
  HttpOptions o;
  o.max_lookups = 2;
  for (int h = 0; h < 10; ++h) {
    std::string host = absl::StrCat("h", h, ".test");
    o.allow.push_back(absl::StrCat(host, ":*"));
    o.allow_private.push_back(absl::StrCat(host, ":*"));
    o.resolve.push_back(absl::StrCat(host, ":", server.port(), ":127.0.0.1"));
  }
  o.allow.push_back("*.invalid:*");  // Names that never resolve.
  HttpTestEnv env(o);
  std::vector<std::shared_ptr<JobSpec>> jobs;
  for (int i = 0; i < 40; ++i) {
    std::string host = i % 4 == 3 ? absl::StrCat("nx", i, ".invalid")
                                  : absl::StrCat("h", i % 10, ".test");
    jobs.push_back(env.Job({{"url", server.Url("/slow?ms=20", host)}}));
  }
  auto results = RunJobs(env, jobs);
  ASSERT_EQ(results.size(), 40u);
  for (auto& [i, r] : results) {
    if (i % 4 == 3) {
      EXPECT_EQ(r.outcome, JobOutcome::kFailed) << i;
      EXPECT_EQ(r.error.code(), absl::StatusCode::kUnavailable) << r.error;
    } else {
      EXPECT_EQ(r.outcome, JobOutcome::kSucceeded) << i << ": " << r.error;
    }
  }
  HttpClient& client = env.kind().client();
  EXPECT_GE(client.peak_lookups(), 1);
  EXPECT_LE(client.peak_lookups(), 2);
  EXPECT_EQ(client.lookups(), 0);
  EXPECT_EQ(client.waiting_for_lookup(), 0);
}

// ---- Cancellation and deadlines close the connection ----

TEST(HttpKindTest, CancellationAbortsTheTransferAndClosesTheConnection) {
  TestHttpServer server;
  HttpTestEnv env(LoopbackOptions());
  CollectingSink sink;
  auto run = TaskGroup::Create(&env.executor(), {}, &sink);
  run->AddJobs(
      1, testing::Repeat(env.Job({{"url", server.Url("/slow?ms=20000")}})));
  run->CloseInput();
  ASSERT_TRUE(server.WaitFor([&] { return server.in_flight_all() == 1; }));
  run->Cancel(absl::CancelledError("client cancelled"));
  // The transfer is cut at once, not after the 20 s the server would take.
  ASSERT_TRUE(sink.Wait(absl::Seconds(5)));
  EXPECT_EQ(sink.Count(JobOutcome::kCancelled), 1);
  ASSERT_TRUE(server.WaitFor([&] { return server.closed_while_waiting() == 1; },
                             absl::Seconds(5)));
  // The permits and the transfer are all given back.
  EXPECT_TRUE(server.WaitFor([&] {
    return env.http_backend().in_use() == 0 &&
           env.kind().host_limits().For("127.0.0.1")->in_use() == 0 &&
           env.kind().client().in_flight() == 0;
  }));
}

TEST(HttpKindTest, CancellingJobsWaitingForTheHostWithdrawsThem) {
  TestHttpServer server;
  HttpOptions o = LoopbackOptions();
  o.max_per_host = 1;
  HttpTestEnv env(o);
  CollectingSink sink;
  auto run = TaskGroup::Create(&env.executor(), {}, &sink);
  run->AddJobs(
      5, testing::Repeat(env.Job({{"url", server.Url("/slow?ms=20000")}})));
  run->CloseInput();
  ASSERT_TRUE(server.WaitFor([&] {
    return env.kind().host_limits().For("127.0.0.1")->waiting() == 4 &&
           server.in_flight_all() == 1;
  }));
  run->Cancel(absl::CancelledError("client cancelled"));
  ASSERT_TRUE(sink.Wait(absl::Seconds(2)));
  EXPECT_EQ(sink.Count(JobOutcome::kCancelled), 5);
  EXPECT_TRUE(server.WaitFor([&] {
    auto host = env.kind().host_limits().For("127.0.0.1");
    return host->in_use() == 0 && host->waiting() == 0 &&
           env.http_backend().in_use() == 0;
  }));
  // A permit given back by the aborted transfer may reach a job whose own
  // cancellation is a moment behind: its request starts, then is aborted
  // too. Every request that reached the server was cut off.
  EXPECT_TRUE(server.WaitFor([&] {
    return server.in_flight_all() == 0 &&
           server.closed_while_waiting() == server.requests_to("/slow");
  }));
}

TEST(HttpKindTest, TheJobsDeadlineAbortsTheTransfer) {
  TestHttpServer server;
  HttpTestEnv env(LoopbackOptions());
  auto job = env.Job({{"url", server.Url("/slow?ms=20000")}});
  job->timeout = absl::Milliseconds(300);
  absl::Time start = absl::Now();
  JobResult r = env.RunOne(job);
  EXPECT_EQ(r.outcome, JobOutcome::kDeadlineExceeded) << r.error;
  // At the 300 ms timeout, not after the 20 s the server would take.
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_TRUE(server.WaitFor([&] { return server.closed_while_waiting() == 1; },
                             absl::Seconds(5)));
  // The call's deadline works the same way.
  TaskGroup::Options o;
  o.deadline = absl::Now() + absl::Milliseconds(300);
  r = env.RunOne(env.Job({{"url", server.Url("/slow?ms=20000")}}), o);
  EXPECT_EQ(r.outcome, JobOutcome::kDeadlineExceeded) << r.error;
  EXPECT_TRUE(server.WaitFor([&] { return server.closed_while_waiting() == 2; },
                             absl::Seconds(5)));
}

// ---- Fallbacks ----

TEST(HttpKindTest, FallbacksServeWhenThePrimaryFails) {
  // The seed's fetch_with_fallbacks: a mirror list tried in order.
  TestHttpServer server;
  HttpTestEnv env(LoopbackOptions());
  auto job = env.Job({{"url", server.Url("/status?code=503")}});
  JobSpec down = *env.Job(
      {{"url", absl::StrCat("http://127.0.0.1:", ClosedPort(), "/mirror")}});
  JobSpec up = *env.Job({{"url", server.Url("/ok")}});
  job->fallbacks = {down, up};
  JobResult r = env.RunOne(job);
  ASSERT_EQ(r.outcome, JobOutcome::kSucceeded) << r.error;
  EXPECT_EQ(r.served_by, 2u);
  EXPECT_EQ(r.attempts, 3u);
  EXPECT_CONTAINS(r.output, "\"body\":\"hello\"");
}

TEST(HttpKindTest, RacedFallbacksCancelTheSlowMirror) {
  TestHttpServer server;
  HttpTestEnv env(LoopbackOptions());
  auto job = env.Job({{"url", server.Url("/status?code=500")}});
  job->fallbacks = {*env.Job({{"url", server.Url("/slow?ms=20000")}}),
                    *env.Job({{"url", server.Url("/ok")}})};
  TaskGroup::Options o;
  o.fallback_mode = FallbackMode::kRace;
  absl::Time start = absl::Now();
  JobResult r = env.RunOne(job, o);
  ASSERT_EQ(r.outcome, JobOutcome::kSucceeded) << r.error;
  EXPECT_EQ(r.served_by, 2u);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  // The slow mirror is aborted: cut off at the server, or before its
  // request got there.
  EXPECT_TRUE(server.WaitFor([&] {
    return env.kind().client().in_flight() == 0 &&
           env.http_backend().in_use() == 0 && server.in_flight_all() == 0 &&
           server.closed_while_waiting() == server.requests_to("/slow");
  }));
}

// ---- Keep-alive ----

TEST(HttpKindTest, ConnectionsAreKeptAliveAndReusedAcrossJobs) {
  TestHttpServer server;
  HttpOptions o = LoopbackOptions();
  o.max_per_host = 2;
  HttpTestEnv env(o);
  auto results = env.Run(env.Job({{"url", server.Url("/ok")}}), 60);
  for (auto& [i, r] : results) {
    ASSERT_EQ(r.outcome, JobOutcome::kSucceeded) << r.error;
  }
  results = env.Run(env.Job({{"url", server.Url("/echo")}}), 20);
  EXPECT_EQ(results.size(), 20u);
  EXPECT_EQ(server.requests(), 80);
  // Two requests in flight at most: two connections serve all 80.
  EXPECT_LE(server.connections_accepted(), 2);
  EXPECT_EQ(env.kind().client().connections_opened(),
            server.connections_accepted());
  EXPECT_EQ(server.connections_closed(), 0);
}

// ---- Request forgery: every route is refused with a clear error ----

TEST(HttpSsrfTest, LoopbackIsRefusedUnlessAllowedExplicitly) {
  TestHttpServer server;
  HttpOptions o;
  o.allow = {"127.0.0.1:*", "localhost:*"};  // Allowed, but not private.
  HttpTestEnv env(o);
  absl::Status s = env.Validate({{"url", server.Url("/ok")}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "params.url: refused to connect to loopback address 127.0.0.1 "
            "for host \"127.0.0.1\" (allow it with --http_allow_private)");
  // Run anyway (as if validation were skipped): still refused.
  JobResult r = env.RunOne(env.Job({{"url", server.Url("/ok")}}));
  EXPECT_EQ(r.outcome, JobOutcome::kFailed);
  EXPECT_EQ(r.error.code(), absl::StatusCode::kInvalidArgument);
  // A name is checked on the address it resolves to.
  std::string url = server.Url("/ok", "localhost");
  EXPECT_TRUE(env.Validate({{"url", url}}).ok());
  r = env.RunOne(env.Job({{"url", url}}));
  EXPECT_EQ(r.outcome, JobOutcome::kFailed);
  EXPECT_EQ(r.error.code(), absl::StatusCode::kPermissionDenied) << r.error;
  // localhost is 127.0.0.1 and ::1; whichever is tried first is refused.
  EXPECT_CONTAINS(r.error.message(), "refused to connect to loopback address ");
  EXPECT_CONTAINS(r.error.message(),
                  " for host \"localhost\" (allow it with "
                  "--http_allow_private)");
  EXPECT_EQ(server.connections_accepted(), 0);
  EXPECT_GE(env.kind().client().connections_refused(), 1);
}

TEST(HttpSsrfTest, NameResolvingToLoopbackIsRefusedAtConnect) {
  // rebind.test stands for a public name whose DNS answer now points at
  // the server's own loopback (DNS rebinding): allowed as a name, refused
  // as an address.
  TestHttpServer server;
  HttpOptions o;
  o.allow = {"127.0.0.1:*", "rebind.test:*"};
  o.allow_private = {"127.0.0.1:*"};
  o.resolve = {absl::StrCat("rebind.test:", server.port(), ":127.0.0.1")};
  HttpTestEnv env(o);
  std::string url = server.Url("/ok", "rebind.test");
  ASSERT_TRUE(env.Validate({{"url", url}}).ok());
  JobResult r = env.RunOne(env.Job({{"url", url}}));
  EXPECT_EQ(r.outcome, JobOutcome::kFailed);
  EXPECT_EQ(r.error.message(),
            absl::StrCat("http GET ", url,
                         ": refused to connect to loopback address 127.0.0.1 "
                         "for host \"rebind.test\" (allow it with "
                         "--http_allow_private)"));
  EXPECT_EQ(server.connections_accepted(), 0);
  // The same server by its allowed address works.
  r = env.RunOne(env.Job({{"url", server.Url("/ok")}}));
  EXPECT_EQ(r.outcome, JobOutcome::kSucceeded) << r.error;
}

TEST(HttpSsrfTest, HostsOffTheAllowListAndOtherSchemesAreInvalid) {
  HttpOptions o = LoopbackOptions();
  HttpTestEnv env(o);
  EXPECT_EQ(
      env.Validate({{"url", "http://evil.test/"}}).message(),
      "params.url: host \"evil.test\" port 80 is not allowed (not matched "
      "by --http_allow; a pattern without a port allows only 80 and 443)");
  EXPECT_EQ(
      env.Validate({{"url", "http://10.0.0.1/"}}).message(),
      "params.url: host \"10.0.0.1\" port 80 is not allowed (not matched "
      "by --http_allow; a pattern without a port allows only 80 and 443)");
  for (const char* url : {"file:///etc/passwd", "gopher://127.0.0.1:70/",
                          "ftp://127.0.0.1/", "dict://127.0.0.1:11211/"}) {
    absl::Status s = env.Validate({{"url", url}});
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_CONTAINS(s.message(), "is not allowed (only http and https)");
  }
  HttpTestEnv closed{HttpOptions()};
  EXPECT_EQ(closed.Validate({{"url", "http://example.com/"}}).message(),
            "params.url: http jobs are disabled on this server: --http_allow "
            "is empty");
}

TEST(HttpSsrfTest, AnAllowedHostExposesOnlyTheWebPortsUnlessAPortIsNamed) {
  TestHttpServer server;  // On a port of its own, neither 80 nor 443.
  HttpOptions o = LoopbackOptions();
  o.allow = o.allow_private = {"127.0.0.1"};
  HttpTestEnv env(o);
  std::string url = server.Url("/ok");
  absl::Status s = env.Validate({{"url", url}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            absl::StrCat("params.url: host \"127.0.0.1\" port ", server.port(),
                         " is not allowed (not matched by --http_allow; a "
                         "pattern without a port allows only 80 and 443)"));
  // The same message for a port nothing listens on: a refusal never tells
  // open ports from closed ones, and no connection is tried.
  EXPECT_EQ(env.Validate({{"url", "http://127.0.0.1:1/"}}).message(),
            "params.url: host \"127.0.0.1\" port 1 is not allowed (not "
            "matched by --http_allow; a pattern without a port allows only 80 "
            "and 443)");
  EXPECT_EQ(server.connections_accepted(), 0);
  // Naming the port allows it.
  o.allow = o.allow_private = {absl::StrCat("127.0.0.1:", server.port())};
  HttpTestEnv named(o);
  JobResult r = named.RunOne(named.Job({{"url", url}}));
  EXPECT_EQ(r.outcome, JobOutcome::kSucceeded) << r.error;
}

TEST(HttpSsrfTest, RedirectsAreFollowedOnlyWhenAskedAndEachHopIsChecked) {
  TestHttpServer server;
  HttpOptions o = LoopbackOptions();
  o.allow.push_back("localhost:*");  // Allowed name, but not at loopback.
  HttpTestEnv env(o);
  std::string to_ok = server.Url("/redirect?to=/ok");
  JobResult r = env.RunOne(env.Job({{"url", to_ok}}));
  EXPECT_EQ(r.outcome, JobOutcome::kFailed);
  EXPECT_CONTAINS(r.error.message(), "status 302 is not accepted");
  r = env.RunOne(env.Job({{"url", to_ok}, {"accept", "302"}}));
  EXPECT_EQ(r.outcome, JobOutcome::kSucceeded);
  r = env.RunOne(env.Job({{"url", to_ok}, {"follow_redirects", "true"}}));
  ASSERT_EQ(r.outcome, JobOutcome::kSucceeded) << r.error;
  EXPECT_CONTAINS(r.output, absl::StrCat("\"url\":\"", server.Url("/ok"),
                                         "\",\"redirects\":1"));

  struct Case {
    std::string to;
    std::string error;
  } cases[] = {
      {"http://evil.test/x",
       "refused: host \"evil.test\" port 80 is not allowed (not matched by "
       "--http_allow; a pattern without a port allows only 80 and 443)"},
      {"gopher://127.0.0.1:70/x",
       "refused: scheme \"gopher\" is not allowed (only http and https)"},
      {"file:///etc/passwd",
       "refused: scheme \"file\" is not allowed (only http and https)"},
      {server.Url("/ok", "localhost"), "for host \"localhost\" (allow it"},
  };
  int ok_before = server.requests_to("/ok");
  for (const Case& c : cases) {
    r = env.RunOne(
        env.Job({{"url", server.Url(absl::StrCat("/redirect?to=", c.to))},
                 {"follow_redirects", "1"}}));
    EXPECT_EQ(r.outcome, JobOutcome::kFailed) << c.to;
    EXPECT_EQ(r.error.code(), absl::StatusCode::kPermissionDenied) << r.error;
    EXPECT_CONTAINS(r.error.message(), c.error);
  }
  EXPECT_EQ(server.requests_to("/ok"), ok_before);
}

TEST(HttpSsrfTest, RedirectLoopsStopAfterFiveHops) {
  TestHttpServer server;
  HttpTestEnv env(LoopbackOptions());
  JobResult r = env.RunOne(
      env.Job({{"url", server.Url("/loop")}, {"follow_redirects", "true"}}));
  EXPECT_EQ(r.outcome, JobOutcome::kFailed);
  EXPECT_EQ(r.error.message(), absl::StrCat("http GET ", server.Url("/loop"),
                                            ": more than 5 redirects"));
  EXPECT_EQ(server.requests_to("/loop"), 6);
}

TEST(HttpSsrfTest, RedirectsChangeMethodAsBrowsersDoAndKeepCredentialsHome) {
  TestHttpServer server;
  HttpOptions o = LoopbackOptions();
  o.allow.push_back("other.test:*");
  o.allow_private.push_back("other.test:*");
  o.resolve = {absl::StrCat("other.test:", server.port(), ":127.0.0.1")};
  HttpTestEnv env(o);
  // 303 after POST: GET without the body.
  JobResult r =
      env.RunOne(env.Job({{"url", server.Url("/redirect?code=303&to=/echo")},
                          {"method", "POST"},
                          {"follow_redirects", "true"}},
                         "secret body"));
  ASSERT_EQ(r.outcome, JobOutcome::kSucceeded) << r.error;
  EXPECT_CONTAINS(r.output, "\"body\":\"GET /echo\\n");
  EXPECT_FALSE(absl::StrContains(r.output, "secret body"));
  // 307 keeps method and body; credentials stay with the first host.
  std::string other = server.Url("/echo", "other.test");
  r = env.RunOne(env.Job(
      {{"url", server.Url(absl::StrCat("/redirect?code=307&to=", other))},
       {"method", "PUT"},
       {"headers", "Authorization: Bearer s3cret\nX-Keep: 1"},
       {"follow_redirects", "true"}},
      "body"));
  ASSERT_EQ(r.outcome, JobOutcome::kSucceeded) << r.error;
  EXPECT_CONTAINS(r.output, "\"body\":\"PUT /echo\\n");
  auto h = server.last_headers("/echo");
  EXPECT_EQ(h.count("authorization"), 0u);
  EXPECT_EQ(h["x-keep"], "1");
  EXPECT_EQ(h["host"], absl::StrCat("other.test:", server.port()));
}

// The case: Authorization and Cookie followed a redirect to
// another port of the same host (another service there).
TEST(HttpSsrfTest, CredentialsAreDroppedOnARedirectToAnotherPort) {
  TestHttpServer server;
  TestHttpServer other;
  ASSERT_NE(server.port(), other.port());
  HttpTestEnv env(LoopbackOptions());
  std::string to = other.Url("/echo");
  JobResult r = env.RunOne(env.Job(
      {{"url", server.Url(absl::StrCat("/redirect?code=307&to=", to))},
       {"headers", "Authorization: Bearer s3cret\nCookie: a=b\nX-Keep: 1"},
       {"follow_redirects", "true"}}));
  ASSERT_EQ(r.outcome, JobOutcome::kSucceeded) << r.error;
  auto h = other.last_headers("/echo");
  EXPECT_EQ(h.count("authorization"), 0u);
  EXPECT_EQ(h.count("cookie"), 0u);
  EXPECT_EQ(h["x-keep"], "1");
  // A redirect on the same origin keeps them.
  r = env.RunOne(env.Job({{"url", server.Url("/redirect?code=307&to=/echo")},
                          {"headers", "Authorization: Bearer s3cret"},
                          {"follow_redirects", "true"}}));
  ASSERT_EQ(r.outcome, JobOutcome::kSucceeded) << r.error;
  EXPECT_EQ(server.last_headers("/echo")["authorization"], "Bearer s3cret");
}

// ---- Registration and the client's life ----

TEST(HttpKindTest, RegisterKeepsAConfiguredHttpBackend) {
  KindRegistry kinds;
  BackendSet backends;
  ASSERT_TRUE(backends.Add({"http", 7}).ok());
  ASSERT_TRUE(RegisterHttpKind(kinds, backends, LoopbackOptions()).ok());
  EXPECT_EQ(backends.Find("http")->capacity(), 7);
  const JobKind* kind = kinds.Find("http");
  ASSERT_NE(kind, nullptr);
  EXPECT_EQ(kind->info.backend, "http");
  EXPECT_TRUE(kind->async != nullptr);
  HttpOptions bad = LoopbackOptions();
  bad.host_limits = {{"x.test", 0}};
  EXPECT_FALSE(RegisterHttpKind(kinds, backends, bad).ok());
  bad = LoopbackOptions();
  bad.allow = {"bad pattern"};
  EXPECT_EQ(HttpKind::Create(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HttpClientTest, ShutdownEndsTransfersInFlight) {
  TestHttpServer server;
  HostPolicy policy = *HostPolicy::Create({"127.0.0.1:*"}, {"127.0.0.1:*"});
  HttpClient::Options o;
  o.policy = &policy;
  HttpClient client(o);
  Notification done;
  absl::Status got;
  HttpRequest req;
  req.url = server.Url("/slow?ms=20000");
  req.host = "127.0.0.1";
  req.port = server.port();
  ASSERT_TRUE(client
                  .Start(req,
                         [&](HttpResponse r) {
                           got = r.transport;
                           done.Notify();
                         })
                  .ok());
  ASSERT_TRUE(server.WaitFor([&] { return server.in_flight_all() == 1; }));
  client.Cancel(12345);  // Unknown: no effect.
  client.Shutdown();
  ASSERT_TRUE(done.HasBeenNotified());
  EXPECT_EQ(got.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(client.Start(req, [](HttpResponse) {}).ok());
  EXPECT_TRUE(
      server.WaitFor([&] { return server.closed_while_waiting() == 1; }));
}

}  // namespace
}  // namespace jobgroup

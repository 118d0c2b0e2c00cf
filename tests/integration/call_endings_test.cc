// How calls end, against a running jobgroupd (issue 14): a Process call the
// server ends before the client's half-close (fail-fast, deadline, drain, a
// message that does not parse) gives every job it read its outcome and ends
// with a status that is not OK; replies and stream messages stay under the
// message limit; a job's output is bounded; client cancels are counted as
// such; a deadline already past still gives every job its outcome. After
// each, the server is idle (nothing in flight, no call registered, so an
// idle SIGTERM exits at once).
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

// The value of grpc_server_handled_total for `method` and `code`, 0 when
// absent.
double Handled(const ServerProcess& server, const std::string& method,
               const std::string& code) {
  std::string metrics = server.Metrics();
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
    idle = info.queue().depth() == 0 && info.queue().parked() == 0 &&
           info.limits().inflight_jobs() == 0;
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
// here). The whole exit, /metrics endpoint included (it used to take up to
// 2 s more, civetweb's poll quantum), is under 2 s: an idle exit is a few
// milliseconds of work.
void ExpectIdleThenQuickExit(ServerProcess& server) {
  ExpectNothingInFlight(server);
  auto start = Clock::now();
  EXPECT_EQ(server.Stop(SIGTERM, 60), 0);
  std::string log = server.Log();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2)) << log;
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

// What a Process client saw.
struct ProcessSeen {
  uint64_t sent = 0;  // Jobs in messages whose Write() succeeded.
  std::vector<int> seen;
  uint64_t results = 0;
  bool has_summary = false;
  v1::BatchSummary summary;
  grpc::Status status;
};

// A Process client: writes `messages` one after another (stopping at the
// first failed Write), then half-closes unless `keep_open`, and reads every
// reply. With `keep_open` the input stays open until the server ends the
// call. `seen` is indexed by result index, for `max_jobs` jobs. A client
// deadline of 0 sets none.
ProcessSeen RunProcess(v1::JobService::Stub& stub,
                       const std::vector<v1::ProcessRequest>& messages,
                       uint64_t max_jobs, bool keep_open = false,
                       int client_deadline_s = 120) {
  ProcessSeen out;
  out.seen.assign(max_jobs, 0);
  grpc::ClientContext ctx;
  if (client_deadline_s > 0) SetDeadlineMs(&ctx, client_deadline_s * 1000);
  auto stream = stub.Process(&ctx);
  std::thread reader([&] {
    v1::ProcessResponse msg;
    while (stream->Read(&msg)) {
      for (const auto& r : msg.results()) {
        ++out.results;
        if (r.index() < max_jobs) ++out.seen[r.index()];
        EXPECT_NE(r.outcome(), v1::JOB_OUTCOME_UNSPECIFIED);
      }
      if (msg.has_summary()) {
        EXPECT_FALSE(out.has_summary) << "two summaries";
        out.summary = msg.summary();
        out.has_summary = true;
      }
    }
  });
  for (const v1::ProcessRequest& m : messages) {
    if (!stream->Write(m)) break;
    out.sent += m.jobs_size();
  }
  if (!keep_open) stream->WritesDone();
  reader.join();
  out.status = stream->Finish();
  return out;
}

// `n` jobs made by `make`, `per_message` to a message.
std::vector<v1::ProcessRequest> Messages(int n, int per_message,
                                         std::function<v1::Job(int)> make,
                                         v1::BatchOptions options = {}) {
  std::vector<v1::ProcessRequest> out;
  for (int i = 0; i < n;) {
    v1::ProcessRequest req;
    if (i == 0) *req.mutable_options() = options;
    for (int k = 0; k < per_message && i < n; ++k, ++i) {
      *req.add_jobs() = make(i);
    }
    out.push_back(std::move(req));
  }
  return out;
}

// Every job the server read has exactly one outcome, and the summary says
// how many it read.
void ExpectEveryJobReadHasItsOutcome(const ProcessSeen& p) {
  ASSERT_TRUE(p.has_summary) << p.status.error_message();
  const v1::BatchSummary& s = p.summary;
  EXPECT_EQ(s.jobs_read(), s.total());
  EXPECT_EQ(s.succeeded() + s.failed() + s.cancelled() + s.deadline_exceeded() +
                s.rejected(),
            s.total());
  EXPECT_EQ(p.results, s.jobs_read());
  EXPECT_LE(s.jobs_read(), p.sent);
  for (uint64_t i = 0; i < p.seen.size(); ++i) {
    EXPECT_EQ(p.seen[i], i < s.jobs_read() ? 1 : 0) << "job " << i;
  }
}

TEST(CallEndingsTest, FailFastProcessEndsAbortedAndSaysWhatWasRead) {
  ServerProcess server(JOBGROUPD_PATH, Flags({}));
  auto stub = server.NewStub();
  // One failure, then 3,000 echoes in messages of 100.
  std::vector<v1::ProcessRequest> messages = Messages(3001, 100, [](int i) {
    return i == 0 ? MakeJob("fail") : MakeJob("echo");
  });
  ProcessSeen p = RunProcess(*stub, messages, 3001);
  ExpectEveryJobReadHasItsOutcome(p);
  EXPECT_EQ(p.summary.failed(), 1u);
  if (p.summary.jobs_read() < p.sent) {
    // The server ended the call before reading every job sent: it must say
    // so, naming the failed job.
    EXPECT_EQ(p.status.error_code(), grpc::ABORTED) << p.status.error_message();
    EXPECT_TRUE(absl::StrContains(p.status.error_message(), "job 0 failed"))
        << p.status.error_message();
  } else {
    // Every job sent was read (a fast server): then OK is the truth.
    EXPECT_TRUE(p.status.ok() || p.status.error_code() == grpc::ABORTED)
        << p.status.error_message();
  }
  EXPECT_TRUE(absl::StrContains(server.Log(), "jobs_read="));
  ExpectIdleThenQuickExit(server);
}

TEST(CallEndingsTest, FailFastProcessCliSaysHowManyJobsWereNotRun) {
  ServerProcess server(JOBGROUPD_PATH, Flags({}));
  char path[] = "/tmp/jobgroup-endings-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string jobs = "{\"kind\":\"fail\"}\n";
  for (int i = 0; i < 3000; ++i) jobs += "{\"kind\":\"echo\"}\n";
  ASSERT_EQ(write(fd, jobs.data(), jobs.size()),
            static_cast<ssize_t>(jobs.size()));
  close(fd);
  std::string cmd =
      absl::StrCat(JOBGROUP_CLI_PATH, " process --target ", server.target(),
                   " --jobs-file ", path, " --output jsonl 2>&1 >/dev/null");
  std::string err;
  int status = -1;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) err.append(buf, n);
    status = pclose(p);
  }
  unlink(path);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1) << err;
  // One line, naming how many jobs were not run, unless the server read
  // every job (then the status was OK and there is nothing to say).
  if (!absl::StrContains(server.Log(), "code=OK")) {
    EXPECT_TRUE(absl::StrContains(err, "were not run")) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }
  ExpectIdleThenQuickExit(server);
}

TEST(CallEndingsTest, DeadlineWithInputOpenEndsDeadlineExceeded) {
  ServerProcess server(JOBGROUPD_PATH, Flags({}));
  auto stub = server.NewStub();
  // Jobs that outlive the client's 3 s deadline, and the input left open:
  // the server ends the call a margin before that deadline.
  std::vector<v1::ProcessRequest> messages = Messages(500, 50, [](int) {
    return MakeJob("sleep", {{"ms", "60000"}});
  });
  ProcessSeen p = RunProcess(*stub, messages, 500, /*keep_open=*/true,
                             /*client_deadline_s=*/3);
  EXPECT_EQ(p.status.error_code(), grpc::DEADLINE_EXCEEDED)
      << p.status.error_message();
  ExpectEveryJobReadHasItsOutcome(p);
  EXPECT_EQ(p.summary.deadline_exceeded(), p.summary.total());
  EXPECT_TRUE(p.summary.deadline_hit());
  ExpectIdleThenQuickExit(server);
}

TEST(CallEndingsTest, DeadlineWithIdleInputOpenEndsDeadlineExceeded) {
  ServerProcess server(JOBGROUPD_PATH, Flags({"--default_deadline=1s"}));
  auto stub = server.NewStub();
  // Jobs that finish at once; then nothing, with the input open.
  std::vector<v1::ProcessRequest> messages =
      Messages(10, 10, [](int) { return MakeJob("echo"); });
  // No client deadline: the server's default one (1 s) ends the call.
  ProcessSeen p = RunProcess(*stub, messages, 10, /*keep_open=*/true,
                             /*client_deadline_s=*/0);
  EXPECT_EQ(p.status.error_code(), grpc::DEADLINE_EXCEEDED)
      << p.status.error_message();
  ExpectEveryJobReadHasItsOutcome(p);
  EXPECT_EQ(p.summary.jobs_read(), 10u);
  EXPECT_EQ(p.summary.succeeded(), 10u);
  ExpectIdleThenQuickExit(server);
}

TEST(CallEndingsTest, DrainWithInputOpenEndsUnavailable) {
  ServerProcess server(JOBGROUPD_PATH, {"--drain_timeout=300ms"});
  auto stub = server.NewStub();
  std::vector<v1::ProcessRequest> messages = Messages(200, 50, [](int) {
    return MakeJob("sleep", {{"ms", "60000"}});
  });
  ProcessSeen p;
  std::thread client(
      [&] { p = RunProcess(*stub, messages, 200, /*keep_open=*/true); });
  // SIGTERM once the server holds the jobs.
  auto info_stub = server.NewStub();
  ASSERT_TRUE(WaitForInflightJobs(*info_stub, 200));
  EXPECT_EQ(server.Stop(SIGTERM, 60), 0);
  client.join();
  EXPECT_EQ(p.status.error_code(), grpc::UNAVAILABLE)
      << p.status.error_message();
  ExpectEveryJobReadHasItsOutcome(p);
  EXPECT_EQ(p.summary.jobs_read(), 200u);
  EXPECT_EQ(p.summary.cancelled(), 200u);
}

TEST(CallEndingsTest, UnparseableMessageEndsInvalidArgumentAfterTheJobsBefore) {
  ServerProcess server(JOBGROUPD_PATH, Flags({}));
  auto stub = server.NewStub();
  std::vector<v1::ProcessRequest> messages =
      Messages(30, 10, [](int) { return MakeJob("echo"); });
  // The second message has an id that is not UTF-8: it does not parse.
  messages[1].mutable_jobs(3)->set_id("bad\xff\xfe");
  ProcessSeen p = RunProcess(*stub, messages, 30);
  EXPECT_EQ(p.status.error_code(), grpc::INVALID_ARGUMENT)
      << p.status.error_message();
  EXPECT_TRUE(absl::StrContains(p.status.error_message(), "message 2"))
      << p.status.error_message();
  ExpectEveryJobReadHasItsOutcome(p);
  EXPECT_EQ(p.summary.jobs_read(), 10u);
  EXPECT_EQ(p.summary.succeeded(), 10u);
  // The server goes on serving.
  ProcessSeen ok = RunProcess(
      *stub, Messages(20, 10, [](int) { return MakeJob("echo"); }), 20);
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
  ExpectEveryJobReadHasItsOutcome(ok);
  EXPECT_EQ(ok.summary.jobs_read(), 20u);
  ExpectIdleThenQuickExit(server);
}

TEST(CallEndingsTest, UnparseableFirstMessageIsRefused) {
  ServerProcess server(JOBGROUPD_PATH, Flags({}));
  auto stub = server.NewStub();
  std::vector<v1::ProcessRequest> messages =
      Messages(5, 5, [](int) { return MakeJob("echo"); });
  messages[0].mutable_jobs(0)->set_id("\xc3\x28");
  ProcessSeen p = RunProcess(*stub, messages, 5);
  EXPECT_EQ(p.status.error_code(), grpc::INVALID_ARGUMENT)
      << p.status.error_message();
  EXPECT_EQ(p.results, 0u);
  ExpectIdleThenQuickExit(server);
}

// A channel with gRPC's default 4 MiB receive limit, as most clients have.
std::unique_ptr<v1::JobService::Stub> DefaultLimitStub(
    const ServerProcess& server) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(256 << 20);
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  return v1::JobService::NewStub(grpc::CreateCustomChannel(
      server.target(), grpc::InsecureChannelCredentials(), args));
}

TEST(CallEndingsTest, StreamMessagesAreCutBySizeAndEveryResultArrives) {
  ServerProcess server(JOBGROUPD_PATH, Flags({}));
  auto stub = DefaultLimitStub(server);
  const std::string payload(64 << 10, 'x');
  v1::StreamBatchRequest req;
  for (int i = 0; i < 1100; ++i) {
    v1::Job* job = req.add_jobs();
    *job = MakeJob("echo");
    job->set_payload(payload);
  }
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 120'000);
  auto reader = stub->StreamBatch(&ctx, req);
  // A slow reader: the results pile up on the server first.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  v1::StreamBatchResponse msg;
  std::vector<int> seen(1100, 0);
  size_t largest = 0;
  bool has_summary = false;
  while (reader->Read(&msg)) {
    largest = std::max(largest, msg.ByteSizeLong());
    for (const auto& r : msg.results()) {
      ASSERT_LT(r.index(), 1100u);
      ++seen[r.index()];
      EXPECT_EQ(r.outcome(), v1::JOB_OUTCOME_SUCCEEDED);
      EXPECT_EQ(r.output().size(), payload.size());
    }
    if (msg.has_summary()) {
      has_summary = true;
      EXPECT_EQ(msg.summary().succeeded(), 1100u);
      EXPECT_EQ(msg.summary().jobs_read(), 1100u);
    }
  }
  grpc::Status s = reader->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(has_summary);
  for (int i = 0; i < 1100; ++i) EXPECT_EQ(seen[i], 1) << "job " << i;
  EXPECT_LE(largest, size_t{4} << 20);
  ExpectIdleThenQuickExit(server);
}

TEST(CallEndingsTest, ProcessMessagesAreCutBySizeToo) {
  ServerProcess server(JOBGROUPD_PATH, Flags({}));
  auto stub = DefaultLimitStub(server);
  const std::string payload(64 << 10, 'y');
  std::vector<v1::ProcessRequest> messages = Messages(1100, 20, [&](int) {
    v1::Job job = MakeJob("echo");
    job.set_payload(payload);
    return job;
  });
  ProcessSeen p = RunProcess(*stub, messages, 1100);
  ASSERT_TRUE(p.status.ok()) << p.status.error_message();
  ExpectEveryJobReadHasItsOutcome(p);
  EXPECT_EQ(p.summary.jobs_read(), 1100u);
  ExpectIdleThenQuickExit(server);
}

TEST(CallEndingsTest, RunBatchReplyOverTheLimitIsResourceExhausted) {
  const int limit = 1 << 20;
  ServerProcess server(JOBGROUPD_PATH,
                       Flags({absl::StrCat("--max_message_bytes=", limit)}));
  auto stub = server.NewStub();
  // A request just under the limit: its reply is ~20 bytes a job larger.
  v1::RunBatchRequest req;
  const int jobs = 2000;
  const std::string payload(limit / jobs - 16, 'z');
  for (int i = 0; i < jobs; ++i) {
    v1::Job* job = req.add_jobs();
    *job = MakeJob("echo");
    job->set_payload(payload);
  }
  ASSERT_LT(req.ByteSizeLong(), static_cast<size_t>(limit));
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 120'000);
  v1::RunBatchResponse resp;
  grpc::Status s = stub->RunBatch(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "StreamBatch"))
      << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), absl::StrCat(limit)))
      << s.error_message();
  EXPECT_EQ(Handled(server, "RunBatch", "ResourceExhausted"), 1);
  EXPECT_EQ(Handled(server, "RunBatch", "OK"), 0);
  EXPECT_TRUE(absl::StrContains(server.Log(), "code=RESOURCE_EXHAUSTED"));
  // The same jobs fit StreamBatch.
  v1::StreamBatchRequest sreq;
  *sreq.mutable_jobs() = req.jobs();
  grpc::ClientContext sctx;
  SetDeadlineMs(&sctx, 120'000);
  auto reader = stub->StreamBatch(&sctx, sreq);
  v1::StreamBatchResponse msg;
  uint64_t results = 0;
  while (reader->Read(&msg)) results += msg.results_size();
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(results, static_cast<uint64_t>(jobs));
  ExpectIdleThenQuickExit(server);
}

TEST(CallEndingsTest, AJobOverMaxOutputBytesFailsAndTheOthersAreUntouched) {
  ServerProcess server(JOBGROUPD_PATH, Flags({"--max_output_bytes=1000"}));
  auto stub = server.NewStub();
  v1::RunBatchRequest req;
  for (size_t size : {500, 1001, 1000}) {
    v1::Job* job = req.add_jobs();
    *job = MakeJob("echo");
    job->set_payload(std::string(size, 'o'));
  }
  req.mutable_options()->set_failure_policy(v1::FAILURE_POLICY_COLLECT_ALL);
  grpc::ClientContext ctx;
  v1::RunBatchResponse resp;
  ASSERT_TRUE(stub->RunBatch(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 3);
  EXPECT_EQ(resp.results(0).outcome(), v1::JOB_OUTCOME_SUCCEEDED);
  EXPECT_EQ(resp.results(0).output().size(), 500u);
  EXPECT_EQ(resp.results(1).outcome(), v1::JOB_OUTCOME_FAILED);
  EXPECT_EQ(resp.results(1).error().code(), grpc::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(
      absl::StrContains(resp.results(1).error().message(), "1001 bytes"))
      << resp.results(1).error().message();
  EXPECT_TRUE(absl::StrContains(resp.results(1).error().message(), "1000"))
      << resp.results(1).error().message();
  EXPECT_TRUE(resp.results(1).output().empty());
  EXPECT_EQ(resp.results(2).outcome(), v1::JOB_OUTCOME_SUCCEEDED);
  EXPECT_EQ(resp.results(2).output().size(), 1000u);
  EXPECT_EQ(resp.summary().succeeded(), 2u);
  EXPECT_EQ(resp.summary().failed(), 1u);
  EXPECT_EQ(resp.summary().total(), 3u);
  // Streamed, the same.
  v1::StreamBatchRequest sreq;
  *sreq.mutable_jobs() = req.jobs();
  *sreq.mutable_options() = req.options();
  grpc::ClientContext sctx;
  auto reader = stub->StreamBatch(&sctx, sreq);
  v1::StreamBatchResponse msg;
  int failed = 0, succeeded = 0;
  v1::BatchSummary summary;
  while (reader->Read(&msg)) {
    for (const auto& r : msg.results()) {
      failed += r.outcome() == v1::JOB_OUTCOME_FAILED;
      succeeded += r.outcome() == v1::JOB_OUTCOME_SUCCEEDED;
      if (r.outcome() == v1::JOB_OUTCOME_FAILED) {
        EXPECT_EQ(r.index(), 1u);
      }
    }
    if (msg.has_summary()) summary = msg.summary();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(succeeded, 2);
  EXPECT_EQ(summary.failed(), 1u);
  EXPECT_EQ(summary.succeeded(), 2u);
  ExpectIdleThenQuickExit(server);
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

TEST(CallEndingsTest, ADeadlineAlreadyPastStillGivesEveryJobItsOutcome) {
  ServerProcess server(JOBGROUPD_PATH, Flags({"--default_deadline=1ns"}));
  std::atomic<int> blank{0}, ok{0}, failed{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      auto stub = server.NewStub();
      v1::RunBatchRequest req;
      for (int i = 0; i < 100; ++i) *req.add_jobs() = MakeJob("echo");
      for (int c = 0; c < 75; ++c) {
        grpc::ClientContext ctx;
        v1::RunBatchResponse resp;
        grpc::Status s = stub->RunBatch(&ctx, req, &resp);
        if (!s.ok()) {
          ++failed;
          continue;
        }
        ++ok;
        bool all = resp.results_size() == 100 && resp.summary().total() == 100;
        for (const auto& r : resp.results()) {
          all = all && r.outcome() != v1::JOB_OUTCOME_UNSPECIFIED;
        }
        if (!all) ++blank;
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok + failed, 300);
  EXPECT_EQ(blank, 0) << "calls answered OK without every outcome";
  ExpectIdleThenQuickExit(server);
}

}  // namespace
}  // namespace jobgroup::testing

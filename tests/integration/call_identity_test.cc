// Call identity and refusals against a running jobgroupd (issue 16, items
// 11 and 12): every call has an id (the client's x-request-id, or one the
// server makes) in its initial metadata, its summary and its log line; a
// well-formed traceparent is logged with the call; refusals that may
// succeed later carry the retry hint (retry-after-ms); a call that could never
// be admitted says so instead of asking for a retry; a deadline over
// --max_deadline is capped and the summary says so; --log_level and
// --log_calls_per_second bound the call lines.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace jobgroup::testing {
namespace {

using v1::RunBatchRequest;
using v1::RunBatchResponse;

constexpr char kTraceparent[] =
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// The single value of `key` in `md`, or "<none>".
std::string MetadataValue(
    const std::multimap<grpc::string_ref, grpc::string_ref>& md,
    const std::string& key) {
  auto [first, last] = md.equal_range(key);
  if (first == last) return "<none>";
  return std::string(first->second.data(), first->second.size());
}

bool IsHex32(const std::string& id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The server's call_finished lines so far.
std::vector<std::string> CallLines(const ServerProcess& server) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(server.Log(), '\n')) {
    if (absl::StrContains(line, "call_finished")) out.emplace_back(line);
  }
  return out;
}

// The call_finished line with `call_id=<id>`, or empty.
std::string CallLine(const ServerProcess& server, const std::string& id) {
  for (const std::string& line : CallLines(server)) {
    if (absl::StrContains(line, absl::StrCat("call_id=", id, " "))) return line;
  }
  return "";
}

RunBatchRequest Echo(int n) {
  RunBatchRequest req;
  for (int i = 0; i < n; ++i) *req.add_jobs() = MakeJob("echo");
  return req;
}

TEST(CallIdentityTest, TheClientsRequestIdIsTheCallsIdEverywhere) {
  ServerProcess server(JOBGROUPD_PATH, {});
  auto stub = server.NewStub();
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-request-id", "etl-2026-12-02/run:7");
  ctx.AddMetadata("traceparent", kTraceparent);
  RunBatchResponse resp;
  ASSERT_TRUE(stub->RunBatch(&ctx, Echo(3), &resp).ok());
  EXPECT_EQ(resp.summary().call_id(), "etl-2026-12-02/run:7");
  EXPECT_EQ(MetadataValue(ctx.GetServerInitialMetadata(), "x-request-id"),
            "etl-2026-12-02/run:7");
  ASSERT_TRUE(server.Stop(SIGTERM) == 0);
  std::string line = CallLine(server, "etl-2026-12-02/run:7");
  ASSERT_FALSE(line.empty()) << server.Log();
  EXPECT_TRUE(
      absl::StrContains(line, absl::StrCat("traceparent=", kTraceparent)))
      << line;
}

TEST(CallIdentityTest, WithoutAUsableIdTheServerMakesOneForEachCall) {
  ServerProcess server(JOBGROUPD_PATH, {});
  auto stub = server.NewStub();
  std::vector<std::string> ids;
  for (const char* sent : {"", "two words", "bad-traceparent"}) {
    grpc::ClientContext ctx;
    if (absl::string_view(sent) == "two words") {
      ctx.AddMetadata("x-request-id", sent);
    }
    if (absl::string_view(sent) == "bad-traceparent") {
      ctx.AddMetadata("traceparent", "00-zz-yy-01");
    }
    RunBatchResponse resp;
    ASSERT_TRUE(stub->RunBatch(&ctx, Echo(1), &resp).ok());
    std::string id = resp.summary().call_id();
    EXPECT_TRUE(IsHex32(id)) << id;
    EXPECT_EQ(MetadataValue(ctx.GetServerInitialMetadata(), "x-request-id"),
              id);
    ids.push_back(id);
  }
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_NE(ids[1], ids[2]);
  ASSERT_EQ(server.Stop(SIGTERM), 0);
  for (const std::string& id : ids) {
    std::string line = CallLine(server, id);
    ASSERT_FALSE(line.empty()) << id << "\n" << server.Log();
    EXPECT_FALSE(absl::StrContains(line, "traceparent=")) << line;
  }
}

TEST(CallIdentityTest, StreamingCallsHaveTheirIdInTheSummary) {
  ServerProcess server(JOBGROUPD_PATH, {});
  auto stub = server.NewStub();
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-request-id", "stream-1");
    v1::StreamBatchRequest req;
    *req.add_jobs() = MakeJob("echo");
    auto reader = stub->StreamBatch(&ctx, req);
    v1::StreamBatchResponse resp;
    std::string id;
    while (reader->Read(&resp)) {
      if (resp.has_summary()) id = resp.summary().call_id();
    }
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(id, "stream-1");
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-request-id", "process-1");
    auto stream = stub->Process(&ctx);
    v1::ProcessRequest req;
    *req.add_jobs() = MakeJob("echo");
    ASSERT_TRUE(stream->Write(req));
    stream->WritesDone();
    v1::ProcessResponse resp;
    std::string id;
    while (stream->Read(&resp)) {
      if (resp.has_summary()) id = resp.summary().call_id();
    }
    ASSERT_TRUE(stream->Finish().ok());
    EXPECT_EQ(id, "process-1");
  }
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

// --max_inflight_jobs=10: a call holding 8 leaves room for 2; a call of 5
// may fit later (RESOURCE_EXHAUSTED with the retry hint); one of 11 never
// can (FAILED_PRECONDITION, no hint). Neither costs the connection: the
// calls after them on the same channel are served.
TEST(CallIdentityTest, RefusalsSayWhetherARetryCanHelp) {
  ServerProcess server(JOBGROUPD_PATH, {"--max_inflight_jobs=10"});
  auto stub = server.NewStub();
  RunBatchRequest hold;
  for (int i = 0; i < 8; ++i) {
    *hold.add_jobs() = MakeJob("sleep", {{"ms", "60000"}});
  }
  grpc::ClientContext hold_ctx;
  RunBatchResponse hold_resp;
  grpc::Status hold_status;
  bool hold_done = false;
  std::thread holder([&] {
    hold_status = stub->RunBatch(&hold_ctx, hold, &hold_resp);
    hold_done = true;
  });
  ASSERT_TRUE(WaitForInflightJobs(*stub, 8));

  grpc::ClientContext later_ctx;
  RunBatchResponse later;
  grpc::Status s = stub->RunBatch(&later_ctx, Echo(5), &later);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << s.error_message();
  EXPECT_EQ(MetadataValue(later_ctx.GetServerTrailingMetadata(),
                          "grpc-retry-pushback-ms"),
            "250");
  EXPECT_EQ(
      MetadataValue(later_ctx.GetServerTrailingMetadata(), "retry-after-ms"),
      "250");

  grpc::ClientContext never_ctx;
  RunBatchResponse never;
  s = stub->RunBatch(&never_ctx, Echo(11), &never);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "can never be admitted"))
      << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "--max_inflight_jobs"))
      << s.error_message();
  EXPECT_EQ(MetadataValue(never_ctx.GetServerTrailingMetadata(),
                          "grpc-retry-pushback-ms"),
            "<none>");
  EXPECT_EQ(
      MetadataValue(never_ctx.GetServerTrailingMetadata(), "retry-after-ms"),
      "<none>");
  // With a window of 2 the same 11 jobs fit.
  grpc::ClientContext windowed_ctx;
  RunBatchRequest windowed = Echo(11);
  windowed.mutable_options()->set_max_concurrency(2);
  RunBatchResponse windowed_resp;
  s = stub->RunBatch(&windowed_ctx, windowed, &windowed_resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(windowed_resp.summary().succeeded(), 11u);

  hold_ctx.TryCancel();
  holder.join();
  EXPECT_TRUE(hold_done);
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

TEST(CallIdentityTest, ADeadlineOverMaxDeadlineIsCappedAndTheSummarySaysSo) {
  ServerProcess server(JOBGROUPD_PATH, {"--max_deadline=2s"});
  auto stub = server.NewStub();
  {
    grpc::ClientContext ctx;
    SetDeadlineMs(&ctx, 60000);
    RunBatchResponse resp;
    ASSERT_TRUE(stub->RunBatch(&ctx, Echo(1), &resp).ok());
    EXPECT_TRUE(resp.summary().deadline_capped());
    EXPECT_EQ(resp.summary().deadline().seconds(), 2);
    EXPECT_EQ(resp.summary().deadline().nanos(), 0);
  }
  {
    grpc::ClientContext ctx;
    SetDeadlineMs(&ctx, 1000);
    RunBatchResponse resp;
    ASSERT_TRUE(stub->RunBatch(&ctx, Echo(1), &resp).ok());
    EXPECT_FALSE(resp.summary().deadline_capped());
    EXPECT_EQ(resp.summary().deadline().seconds(), 0);  // Under 1 s.
    EXPECT_GT(resp.summary().deadline().nanos(), 0);
  }
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  EXPECT_TRUE(absl::StrContains(server.Log(), "deadline_capped=true"))
      << server.Log();
}

TEST(CallIdentityTest, LogLevelWarnLeavesOutTheLinesOfOrdinaryCalls) {
  ServerProcess server(JOBGROUPD_PATH, {"--log_level=warn"});
  auto stub = server.NewStub();
  for (int i = 0; i < 5; ++i) {
    grpc::ClientContext ctx;
    RunBatchResponse resp;
    ASSERT_TRUE(stub->RunBatch(&ctx, Echo(1), &resp).ok());
  }
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  EXPECT_TRUE(CallLines(server).empty()) << server.Log();
}

TEST(CallIdentityTest, LogLevelDebugAddsACallStartedLine) {
  ServerProcess server(JOBGROUPD_PATH, {"--log_level=debug"});
  auto stub = server.NewStub();
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-request-id", "debug-me");
  RunBatchResponse resp;
  ASSERT_TRUE(stub->RunBatch(&ctx, Echo(1), &resp).ok());
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  EXPECT_TRUE(absl::StrContains(server.Log(), "call_started call_id=debug-me"))
      << server.Log();
}

// 60 calls against --log_calls_per_second=2: at most 2 lines in any second
// the calls took (bounded by the time they took, however slow the
// machine), and every call is either logged or counted in unlogged_calls.
TEST(CallIdentityTest, CallLinesAreSampledAndTheLeftOutOnesCounted) {
  ServerProcess server(JOBGROUPD_PATH, {"--log_calls_per_second=2"});
  auto stub = server.NewStub();
  auto start = std::chrono::steady_clock::now();
  constexpr int kCalls = 60;
  for (int i = 0; i < kCalls; ++i) {
    grpc::ClientContext ctx;
    RunBatchResponse resp;
    ASSERT_TRUE(stub->RunBatch(&ctx, Echo(1), &resp).ok());
  }
  double took_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  // One more call, 1.1 s later, reports the calls left out before it.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  {
    grpc::ClientContext ctx;
    RunBatchResponse resp;
    ASSERT_TRUE(stub->RunBatch(&ctx, Echo(1), &resp).ok());
  }
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  std::vector<std::string> lines = CallLines(server);
  uint64_t unlogged = 0;
  for (const std::string& line : lines) {
    size_t at = line.find("unlogged_calls=");
    if (at == std::string::npos) continue;
    uint64_t n = 0;
    ASSERT_TRUE(absl::SimpleAtoi(
        absl::string_view(line).substr(at + 15, line.find(' ', at) - at - 15),
        &n))
        << line;
    unlogged += n;
  }
  EXPECT_EQ(lines.size() + unlogged, static_cast<size_t>(kCalls + 1))
      << server.Log();
  EXPECT_LE(lines.size(), 2 * (static_cast<size_t>(took_s) + 2) + 1)
      << "took " << took_s << " s\n"
      << server.Log();
}

// Runs `jobgroup ARGS`; returns its stderr, and its exit code in `*code`.
std::string CliStderr(const std::string& args, int* code) {
  char err_path[] = "/tmp/jobgroup-call-id-test-XXXXXX";
  const int fd = mkstemp(err_path);
  if (fd < 0) return "";
  close(fd);
  const std::string cmd =
      absl::StrCat("timeout -s KILL 120 ", JOBGROUP_CLI_PATH, " ", args,
                   " >/dev/null 2>", err_path);
  const int status = system(cmd.c_str());
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::string err;
  if (FILE* f = fopen(err_path, "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) err.append(buf, n);
    fclose(f);
  }
  unlink(err_path);
  return err;
}

// The CLI names its call in the line of a failed run, and the server knows
// the call by the same id.
TEST(CallIdentityTest, TheCliNamesTheCallWhenItFails) {
  ServerProcess server(JOBGROUPD_PATH, {"--max_inflight_jobs=5"});
  int code = -1;
  // Jobs that fail: the call ends OK, the line names the call.
  std::string err = CliStderr(
      absl::StrCat("run --target ", server.target(), " --kind fail --count 2"),
      &code);
  EXPECT_EQ(code, 1) << err;
  size_t at = err.find("; call ");
  ASSERT_NE(at, std::string::npos) << err;
  std::string id = err.substr(at + 7, 32);
  EXPECT_TRUE(IsHex32(id)) << err;
  // A call the server refuses: the error names the call too.
  std::string refused = CliStderr(
      absl::StrCat("run --target ", server.target(), " --kind echo --count 9"),
      &code);
  EXPECT_NE(code, 0) << refused;
  EXPECT_TRUE(absl::StrContains(refused, "can never be admitted")) << refused;
  size_t open = refused.find("(call ");
  ASSERT_NE(open, std::string::npos) << refused;
  std::string refused_id = refused.substr(open + 6, 32);
  EXPECT_TRUE(IsHex32(refused_id)) << refused;
  EXPECT_NE(refused_id, id);
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  EXPECT_FALSE(CallLine(server, id).empty()) << server.Log();
  EXPECT_TRUE(absl::StrContains(CallLine(server, refused_id),
                                "code=FAILED_PRECONDITION"))
      << server.Log();
}

}  // namespace
}  // namespace jobgroup::testing

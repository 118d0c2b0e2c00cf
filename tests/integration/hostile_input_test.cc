// Hostile input against the real jobgroupd, on loopback, with the server
// under an address-space cap (prlimit --as): requests whose bytes amplify
// once parsed (millions of empty jobs, `0a 00` repeated, or of empty
// fallbacks), the same without the token when tokens are required, and a
// request within the per-call limits whose parse would not fit the memory
// budget. Each is refused cheaply with a code and a message naming the
// field and the limit, the server survives, and a normal call succeeds
// afterwards. Under AddressSanitizer (which reserves terabytes of shadow
// memory) the cap and the memory bounds are left out; the refusals are
// still checked.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace jobgroup::testing {
namespace {

// The server's address space at most. Without the fixes a 16 MiB request
// of empty jobs parses into about 2 GiB and the server dies of
// std::bad_alloc under it.
constexpr long kAddressSpaceCap = 1L << 30;
// Resident memory the server may reach while refusing such a request: the
// request's bytes (16 MiB) in gRPC's buffers, a copy or two, and the
// server's own; parsing it would take over 1 GiB.
constexpr long kRssBound = 256L << 20;
constexpr size_t kFloodBytes = 16 << 20;
constexpr char kToken[] = "hostile-input-3c9e71b0d4a2f865";

// A varint, as the protobuf wire format writes lengths.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

// A length-delimited field: tag byte, length, bytes.
std::string Field(char tag, const std::string& bytes) {
  return absl::StrCat(std::string(1, tag), Varint(bytes.size()), bytes);
}

// RunBatchRequest.jobs = 1; Job.kind = 2; Job.fallbacks = 7.
std::string EmptyJobs(size_t bytes) {
  std::string out;
  out.reserve(bytes);
  while (out.size() + 2 <= bytes) out.append("\x0a\x00", 2);
  return out;
}

std::string EchoJobWithEmptyFallbacks(size_t fallbacks) {
  std::string job = Field('\x12', "echo");
  job.reserve(job.size() + 2 * fallbacks);
  for (size_t i = 0; i < fallbacks; ++i) job.append("\x3a\x00", 2);
  return Field('\x0a', job);
}

// One RunBatch with raw request bytes; the status, its message included.
grpc::Status RawRunBatch(const ServerProcess& server, const std::string& bytes,
                         const std::string& token = "") {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  auto channel = grpc::CreateCustomChannel(
      server.target(), grpc::InsecureChannelCredentials(), args);
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 60000);
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  grpc::CompletionQueue cq;
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  auto call = stub.PrepareUnaryCall(&ctx, "/jobgroup.v1.JobService/RunBatch",
                                    request, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, nullptr);
  void* tag;
  bool ok;
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

// A normal call: three echo jobs, all SUCCEEDED.
void ExpectEchoCallSucceeds(const ServerProcess& server,
                            const std::string& token = "") {
  auto stub = server.NewStub();
  v1::RunBatchRequest request;
  for (int i = 0; i < 3; ++i) {
    *request.add_jobs() = MakeJob("echo");
    request.mutable_jobs(i)->set_payload(absl::StrCat("hi ", i));
  }
  v1::RunBatchResponse response;
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 10000);
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  grpc::Status s = stub->RunBatch(&ctx, request, &response);
  ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message() << "\n"
                      << server.Log();
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_EQ(response.summary().succeeded(), 3u);
  EXPECT_EQ(response.results(2).output(), "hi 2");
}

bool Alive(const ServerProcess& server) {
  int status;
  return waitpid(server.pid(), &status, WNOHANG) == 0;
}

class HostileInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/jobgroup-hostile-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = new std::string(tmpl);
    // jobgroupd under the cap: prlimit sets it and execs the server, so
    // the pid ServerProcess holds is the server's.
    std::ofstream(*dir_ + "/capped")
        << "#!/bin/sh\nexec prlimit --as=" << kAddressSpaceCap << " -- "
        << JOBGROUPD_PATH << " \"$@\"\n";
    chmod((*dir_ + "/capped").c_str(), 0700);
    std::ofstream(*dir_ + "/tokens") << kToken << "\n";
    chmod((*dir_ + "/tokens").c_str(), 0600);
  }
  static void TearDownTestSuite() {
    std::system(("rm -rf " + *dir_).c_str());
    delete dir_;
  }

  // jobgroupd with `args`, under the cap unless under ASan.
  static std::unique_ptr<ServerProcess> Start(std::vector<std::string> args) {
    args.push_back("--workers=2");
    return std::make_unique<ServerProcess>(
        kUnderAsan ? std::string(JOBGROUPD_PATH) : *dir_ + "/capped", args);
  }
  static std::string TokensFlag() {
    return "--auth_tokens_file=" + *dir_ + "/tokens";
  }

  static std::string* dir_;
};
std::string* HostileInputTest::dir_ = nullptr;

TEST_F(HostileInputTest, MillionsOfEmptyJobsAreRefusedNamingTheLimit) {
  auto server = Start({});
  ASSERT_NE(server->port(), 0);
  grpc::Status s = RawRunBatch(*server, EmptyJobs(kFloodBytes));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << s.error_message();
  EXPECT_TRUE(absl::StartsWith(
      s.error_message(),
      absl::StrCat("jobs: ", kFloodBytes / 2,
                   " jobs is over the limit of 100000 per call")))
      << s.error_message();
  ASSERT_TRUE(Alive(*server)) << server->Log();
  if (!kUnderAsan) {
    EXPECT_LT(server->RssBytes(), kRssBound);
  }
  ExpectEchoCallSucceeds(*server);
}

TEST_F(HostileInputTest, MillionsOfEmptyFallbacksAreRefusedNamingTheLimit) {
  auto server = Start({});
  ASSERT_NE(server->port(), 0);
  const size_t fallbacks = kFloodBytes / 2;
  grpc::Status s = RawRunBatch(*server, EchoJobWithEmptyFallbacks(fallbacks));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << s.error_message();
  EXPECT_TRUE(absl::StartsWith(
      s.error_message(), absl::StrCat("jobs[0].fallbacks: ", fallbacks,
                                      " fallbacks is over the limit of 8")))
      << s.error_message();
  ASSERT_TRUE(Alive(*server)) << server->Log();
  if (!kUnderAsan) {
    EXPECT_LT(server->RssBytes(), kRssBound);
  }
  ExpectEchoCallSucceeds(*server);
}

TEST_F(HostileInputTest, RequestWithoutTokenIsRefusedBeforeItIsParsed) {
  auto server = Start({TokensFlag()});
  ASSERT_NE(server->port(), 0);
  grpc::Status s = RawRunBatch(*server, EmptyJobs(kFloodBytes));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << s.error_message();
  EXPECT_EQ(s.error_message(), "missing or invalid bearer token");
  ASSERT_TRUE(Alive(*server)) << server->Log();
  if (!kUnderAsan) {
    EXPECT_LT(server->RssBytes(), kRssBound);
  }
  ExpectEchoCallSucceeds(*server, kToken);
}

// Within every per-call limit (100,000 jobs, 8 fallbacks each), about
// 2 MB on the wire, but 900,000 messages once parsed: over a 64 MiB budget,
// so refused before it is parsed, and for good (no retry-after).
TEST_F(HostileInputTest, RequestWhoseParseWouldNotFitTheBudgetIsRefused) {
  auto server = Start({"--memory_budget_bytes=67108864"});
  ASSERT_NE(server->port(), 0);
  std::string request;
  const std::string job = EchoJobWithEmptyFallbacks(8);
  for (int i = 0; i < 100000; ++i) request += job;
  grpc::Status s = RawRunBatch(*server, request);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "--memory_budget_bytes"))
      << s.error_message();
  ASSERT_TRUE(Alive(*server)) << server->Log();
  ExpectEchoCallSucceeds(*server);
}

// The memory budget's limit and what calls hold now (GetServerInfo).
std::pair<uint64_t, uint64_t> MemoryInUse(const ServerProcess& server) {
  auto stub = server.NewStub();
  v1::GetServerInfoResponse info;
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 10000);
  grpc::Status s = stub->GetServerInfo(&ctx, v1::GetServerInfoRequest(), &info);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return {info.limits().memory_budget_bytes(),
          info.limits().memory_in_use_bytes()};
}

// Once a call is gone: every byte it held comes back (within 10 s), and
// the server is alive and runs a normal call.
void ExpectWholeAfterTheCall(const ServerProcess& server) {
  uint64_t used = 1;
  for (int i = 0; i < 200 && used != 0; ++i) {
    used = MemoryInUse(server).second;
    if (used != 0) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(used, 0u);
  ASSERT_TRUE(Alive(server)) << server.Log();
  ExpectEchoCallSucceeds(server);
}

// A Process stream whose client writes and does not read: without a byte
// bound the server read on (a window of 4,000 jobs), holding every payload
// and output (2.9 GiB for 1 MiB payloads). Now what calls hold is counted
// against the budget (GetServerInfo), never past it by more than one
// message's outputs; the server's memory stays bounded; and once the call
// is gone every byte comes back and a normal call succeeds. (With these
// sizes gRPC's own ResourceQuota, the budget's last quarter, resets the
// stream first: the test takes either ending.)
TEST_F(HostileInputTest, ProcessStreamThatDoesNotReadStaysUnderTheBudget) {
  auto server = Start({"--memory_budget_bytes=67108864"});  // 48 MiB for calls.
  ASSERT_NE(server->port(), 0);
  const long rss_start = server->RssBytes();
  const auto [limit, idle] = MemoryInUse(*server);
  ASSERT_EQ(limit, 48u << 20);
  EXPECT_EQ(idle, 0u);
  constexpr int kMessages = 400;  // 100 MiB of payloads.
  const std::string payload(256 << 10, 'p');
  auto stub = server->NewStub();
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 120000);
  auto stream = stub->Process(&ctx);
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; i < kMessages; ++i) {
      v1::ProcessRequest m;
      if (i == 0) m.mutable_options()->set_max_concurrency(4000);
      v1::Job* job = m.add_jobs();
      *job = MakeJob("echo");
      job->set_id(absl::StrCat("j", i));
      job->set_payload(payload);
      if (!stream->Write(m)) break;
    }
    writing = false;
  });
  uint64_t most = 0;
  uint64_t held = 0;
  for (int i = 0; i < 100 && writing; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    uint64_t used = MemoryInUse(*server).second;
    most = std::max(most, used);
    held += used > 0;
  }
  EXPECT_GT(held, 0u) << "the stream's bytes were never counted";
  EXPECT_LE(most, limit + (2 << 20));
  if (!kUnderAsan) {
    EXPECT_LT(server->RssBytes() - rss_start, 160L << 20);
  }
  ctx.TryCancel();
  writer.join();
  v1::ProcessResponse r;
  while (stream->Read(&r)) {
  }
  grpc::Status s = stream->Finish();
  EXPECT_FALSE(s.ok());
  ExpectWholeAfterTheCall(*server);
}

// A Process stream whose client reads its results slowly: the results the
// server cannot send yet (and the jobs behind them) fill the memory budget,
// the stream stops reading, and it resumes by itself as the client reads.
// Every job still gets exactly one result, in one call that ends OK.
//
// The shape is chosen so that the budget fills before gRPC's own quota (the
// budget's last quarter, 32 MiB here) would reset the stream: many small
// jobs per message (what the stream holds per job, its spec and its output,
// grows much faster than what gRPC buffers for it), a window larger than
// the budget can hold, and a client that reads, slowly, from the start.
TEST_F(HostileInputTest, ProcessStreamWaitsForTheBudgetAndResumes) {
  auto server =
      Start({"--memory_budget_bytes=134217728"});  // 96 MiB for calls.
  ASSERT_NE(server->port(), 0);
  ASSERT_EQ(server->MetricValue("jobgroup_stream_memory_waits_total"), 0);
  constexpr int kMessages = 1500;
  constexpr int kJobsPerMessage = 64;
  const std::string payload(2048, 'p');  // 188 MiB of payloads in all.
  auto stub = server->NewStub();
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 240000);
  auto stream = stub->Process(&ctx);
  std::thread writer([&] {
    for (int i = 0; i < kMessages; ++i) {
      v1::ProcessRequest m;
      if (i == 0) m.mutable_options()->set_max_concurrency(200000);
      for (int j = 0; j < kJobsPerMessage; ++j) {
        v1::Job* job = m.add_jobs();
        *job = MakeJob("echo");
        job->set_id(absl::StrCat("j", i * kJobsPerMessage + j));
        job->set_payload(payload);
      }
      if (!stream->Write(m)) return;
    }
    stream->WritesDone();
  });
  // The client reads slowly until the stream has waited for bytes at least
  // once, then at full speed: its results pile up on the server, while
  // gRPC's own buffers (which a client that reads nothing at all fills
  // until gRPC resets the stream) stay small. Under AddressSanitizer the
  // server runs jobs several times slower, and the reader slows down too.
  const absl::Duration pause = absl::Milliseconds(kUnderAsan ? 40 : 5);
  std::atomic<bool> waited{false};
  std::atomic<bool> reading{true};
  std::thread monitor([&] {
    for (int i = 0; i < 2400 && reading && !waited; ++i) {
      absl::SleepFor(absl::Milliseconds(50));
      if (server->MetricValue("jobgroup_stream_memory_waits_total") > 0) {
        waited = true;
      }
    }
  });
  std::map<std::string, int> results;
  int64_t summary_total = -1;
  uint64_t most = 0;
  v1::ProcessResponse r;
  while (stream->Read(&r)) {
    for (const v1::JobResult& jr : r.results()) {
      ++results[jr.id()];
      EXPECT_EQ(jr.outcome(), v1::JOB_OUTCOME_SUCCEEDED) << jr.id();
      EXPECT_EQ(jr.output().size(), payload.size()) << jr.id();
    }
    if (r.has_summary()) summary_total = r.summary().total();
    if (!waited) {
      absl::SleepFor(pause);
      most = std::max(most, MemoryInUse(*server).second);
    }
  }
  reading = false;
  monitor.join();
  EXPECT_TRUE(waited) << "the stream never stopped reading for the budget";
  EXPECT_LE(most, MemoryInUse(*server).first + (4u << 20));
  writer.join();
  grpc::Status s = stream->Finish();
  ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
  EXPECT_EQ(results.size(), size_t{kMessages * kJobsPerMessage});
  for (const auto& [id, n] : results) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(summary_total, kMessages * kJobsPerMessage);
  ExpectWholeAfterTheCall(*server);
}

}  // namespace
}  // namespace jobgroup::testing

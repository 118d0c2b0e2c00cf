// The admin API against the real jobgroupd: ListCalls and WatchServer show
// a running call with the right counts while it runs and not after;
// CancelCall ends it with every outcome and every permit back; admin
// tokens are its own (a job token is refused); it is off unless enabled.
#include <openssl/sha.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "jobgroup/admin/v1/admin.grpc.pb.h"
#include "tests/integration/server_process.h"

namespace jobgroup::testing {
namespace {

namespace admin = ::jobgroup::admin::v1;

constexpr char kAdminToken[] = "admin-token-0123456789";
constexpr char kJobToken[] = "job-token-abcdefghijkl";
constexpr char kCallId[] = "admin-test-call";

class AdminTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/jobgroup-admin-XXXXXX";
    dir_ = new std::string(mkdtemp(tmpl));
    std::ofstream(*dir_ + "/admin") << kAdminToken << "\n";
    std::ofstream(*dir_ + "/jobs") << kJobToken << "\n";
  }
  static void TearDownTestSuite() {
    std::string cmd = "rm -rf '" + *dir_ + "'";
    EXPECT_EQ(system(cmd.c_str()), 0);
    delete dir_;
  }
  static std::unique_ptr<ServerProcess> StartWithAdmin() {
    return std::make_unique<ServerProcess>(
        JOBGROUPD_PATH,
        std::vector<std::string>{"--admin_tokens_file=" + *dir_ + "/admin",
                                 "--auth_tokens_file=" + *dir_ + "/jobs"});
  }
  static std::string* dir_;
};
std::string* AdminTest::dir_ = nullptr;

void Bearer(grpc::ClientContext* ctx, const std::string& token) {
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
}

grpc::Status ListCalls(admin::AdminService::Stub& stub,
                       admin::ListCallsResponse* out,
                       const std::string& token = kAdminToken) {
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 10000);
  Bearer(&ctx, token);
  return stub.ListCalls(&ctx, admin::ListCallsRequest(), out);
}

// The call with id kCallId once it shows `succeeded` jobs done; nullopt
// when it does not within 20 s.
std::optional<admin::CallInfo> WaitForCall(admin::AdminService::Stub& stub,
                                           uint64_t succeeded) {
  for (int i = 0; i < 400; ++i) {
    admin::ListCallsResponse r;
    grpc::Status s = ListCalls(stub, &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (const admin::CallInfo& c : r.calls()) {
      if (c.call_id() == kCallId && c.succeeded() >= succeeded) return c;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return std::nullopt;
}

// "sha256:" and the first 12 hex digits of the token's SHA-256.
std::string TokenName(const std::string& token) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), d);
  return absl::StrCat("sha256:", absl::BytesToHexString(absl::string_view(
                                     reinterpret_cast<const char*>(d), 6)));
}

// A RunBatch of two echo jobs and two 30 s sleeps, sent with the job token
// and the id kCallId; runs on its own thread until the call ends.
struct LongCall {
  explicit LongCall(const ServerProcess& server) {
    thread = std::thread([this, stub = server.NewStub()] {
      v1::RunBatchRequest req;
      *req.add_jobs() = MakeJob("echo");
      *req.add_jobs() = MakeJob("echo");
      *req.add_jobs() = MakeJob("sleep", {{"ms", "30000"}});
      *req.add_jobs() = MakeJob("sleep", {{"ms", "30000"}});
      req.mutable_options()->set_failure_policy(v1::FAILURE_POLICY_COLLECT_ALL);
      grpc::ClientContext ctx;
      SetDeadlineMs(&ctx, 60000);
      Bearer(&ctx, kJobToken);
      ctx.AddMetadata("x-request-id", kCallId);
      status = stub->RunBatch(&ctx, req, &response);
    });
  }
  ~LongCall() {
    if (thread.joinable()) thread.join();
  }
  std::thread thread;
  grpc::Status status;
  v1::RunBatchResponse response;
};

TEST_F(AdminTest, TheAdminApiIsOffUnlessEnabled) {
  ServerProcess server(JOBGROUPD_PATH, {});
  ASSERT_NE(server.port(), 0);
  auto stub = admin::AdminService::NewStub(server.NewChannel());
  admin::ListCallsResponse r;
  EXPECT_EQ(ListCalls(*stub, &r).error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(AdminTest, OnlyAdminTokensAreLetIn) {
  auto server = StartWithAdmin();
  ASSERT_NE(server->port(), 0);
  auto stub = admin::AdminService::NewStub(server->NewChannel());
  admin::ListCallsResponse r;
  grpc::Status s = ListCalls(*stub, &r, kJobToken);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "a job token cannot"))
      << s.error_message();
  s = ListCalls(*stub, &r, "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  s = ListCalls(*stub, &r, "not-a-token");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // A job token cannot cancel a call either; the admin token cannot run
  // jobs.
  grpc::ClientContext cctx;
  Bearer(&cctx, kJobToken);
  admin::CancelCallRequest creq;
  creq.set_call_id("x");
  admin::CancelCallResponse cres;
  EXPECT_EQ(stub->CancelCall(&cctx, creq, &cres).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  auto jobs = server->NewStub();
  grpc::ClientContext jctx;
  Bearer(&jctx, kAdminToken);
  v1::RunBatchRequest jreq;
  *jreq.add_jobs() = MakeJob("echo");
  v1::RunBatchResponse jres;
  EXPECT_EQ(jobs->RunBatch(&jctx, jreq, &jres).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(ListCalls(*stub, &r).ok());
}

TEST_F(AdminTest, ListCallsAndWatchServerShowARunningCallAndCancelEndsIt) {
  auto server = StartWithAdmin();
  ASSERT_NE(server->port(), 0);
  auto stub = admin::AdminService::NewStub(server->NewChannel());
  LongCall call(*server);
  std::optional<admin::CallInfo> c = WaitForCall(*stub, 2);
  ASSERT_TRUE(c.has_value()) << server->Log();
  EXPECT_EQ(c->method(), "RunBatch");
  EXPECT_TRUE(absl::StartsWith(c->peer(), "ipv4:127.0.0.1:")) << c->peer();
  EXPECT_EQ(c->identity(), TokenName(kJobToken));
  EXPECT_EQ(c->jobs_total(), 4u);
  EXPECT_EQ(c->succeeded(), 2u);
  EXPECT_EQ(c->jobs_running(), 2u);
  EXPECT_EQ(c->jobs_pending(), 0u);
  EXPECT_GT(c->deadline_left().seconds(), 20);
  EXPECT_FALSE(c->draining());
  EXPECT_FALSE(c->cancelled_by_operator());

  // WatchServer: a snapshot every 100 ms with the call and the backend its
  // sleeps hold.
  {
    grpc::ClientContext ctx;
    SetDeadlineMs(&ctx, 20000);
    Bearer(&ctx, kAdminToken);
    admin::WatchServerRequest req;
    req.mutable_interval()->set_nanos(100'000'000);
    auto reader = stub->WatchServer(&ctx, req);
    admin::WatchServerResponse response;
    absl::Time first;
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(reader->Read(&response)) << reader->Finish().error_message();
      if (i == 0) first = absl::Now();
    }
    // Three snapshots, 100 ms apart at least: the interval is kept.
    EXPECT_GE(absl::Now() - first, absl::Milliseconds(190));
    ctx.TryCancel();
    reader->Finish();
    const admin::ServerSnapshot& snap = response.snapshot();
    EXPECT_EQ(snap.calls_in_flight(), 1u);
    ASSERT_EQ(snap.calls_size(), 1);
    EXPECT_EQ(snap.calls(0).call_id(), kCallId);
    EXPECT_EQ(snap.calls(0).jobs_running(), 2u);
    EXPECT_GE(snap.jobs_in_flight(), 2u);
    bool local = false;
    for (const admin::BackendInfo& b : snap.backends()) {
      if (b.name() == "local") {
        local = true;
        EXPECT_EQ(b.in_use(), 2) << snap.DebugString();
      }
    }
    EXPECT_TRUE(local) << snap.DebugString();
    EXPECT_GT(snap.workers().workers(), 0u);
    EXPECT_GT(snap.memory_budget_bytes(), 0u);
  }

  // Bad requests are refused naming the field.
  {
    grpc::ClientContext ctx;
    Bearer(&ctx, kAdminToken);
    admin::CancelCallRequest req;
    admin::CancelCallResponse res;
    grpc::Status s = stub->CancelCall(&ctx, req, &res);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "call_id: is required");
  }
  {
    grpc::ClientContext ctx;
    Bearer(&ctx, kAdminToken);
    admin::CancelCallRequest req;
    req.set_call_id(kCallId);
    req.set_reason(std::string(201, 'r'));
    admin::CancelCallResponse res;
    grpc::Status s = stub->CancelCall(&ctx, req, &res);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "reason: 201 bytes is over the limit of 200");
  }
  {
    grpc::ClientContext ctx;
    Bearer(&ctx, kAdminToken);
    admin::CancelCallRequest req;
    req.set_call_id("no-such-call");
    admin::CancelCallResponse res;
    grpc::Status s = stub->CancelCall(&ctx, req, &res);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(s.error_message(),
              "no call in flight has call_id \"no-such-call\"");
  }

  // CancelCall ends it as a client cancel would, with the reason.
  {
    grpc::ClientContext ctx;
    Bearer(&ctx, kAdminToken);
    admin::CancelCallRequest req;
    req.set_call_id(kCallId);
    req.set_reason("because the test says so");
    admin::CancelCallResponse res;
    grpc::Status s = stub->CancelCall(&ctx, req, &res);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(res.call().call_id(), kCallId);
    EXPECT_TRUE(res.call().cancelled_by_operator());
  }
  call.thread.join();
  ASSERT_TRUE(call.status.ok()) << call.status.error_message();
  const v1::RunBatchResponse& r = call.response;
  ASSERT_EQ(r.results_size(), 4);
  EXPECT_EQ(r.results(0).outcome(), v1::JOB_OUTCOME_SUCCEEDED);
  EXPECT_EQ(r.results(1).outcome(), v1::JOB_OUTCOME_SUCCEEDED);
  EXPECT_EQ(r.results(2).outcome(), v1::JOB_OUTCOME_CANCELLED);
  EXPECT_EQ(r.results(3).outcome(), v1::JOB_OUTCOME_CANCELLED);
  EXPECT_EQ(r.summary().total(), 4u);
  EXPECT_EQ(r.summary().cancel_cause(), v1::CANCEL_CAUSE_OPERATOR);
  EXPECT_EQ(r.summary().cancel_reason(),
            "cancelled by an operator: because the test says so");
  EXPECT_TRUE(absl::StrContains(server->Log(), "call_cancelled_by_operator"))
      << server->Log();
  EXPECT_TRUE(absl::StrContains(server->Log(), "cancel_cause=operator"))
      << server->Log();

  // Gone from the list; every permit back, nothing in flight.
  admin::ListCallsResponse after;
  ASSERT_TRUE(ListCalls(*stub, &after).ok());
  EXPECT_EQ(after.calls_size(), 0);
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 10000);
  Bearer(&ctx, kAdminToken);
  admin::WatchServerRequest req;
  auto reader = stub->WatchServer(&ctx, req);
  admin::WatchServerResponse response;
  ASSERT_TRUE(reader->Read(&response));
  ctx.TryCancel();
  reader->Finish();
  const admin::ServerSnapshot& snap = response.snapshot();
  EXPECT_EQ(snap.calls_in_flight(), 0u);
  EXPECT_EQ(snap.jobs_in_flight(), 0u);
  for (const admin::BackendInfo& b : snap.backends()) {
    EXPECT_EQ(b.in_use(), 0) << b.name();
    EXPECT_EQ(b.waiting(), 0) << b.name();
  }
  // The call's outcomes are in the rates' totals: 2 succeeded and 2
  // cancelled jobs ended in the last seconds.
  EXPECT_GT(snap.rates().cancelled(), 0) << snap.rates().DebugString();
}

}  // namespace
// ListCalls names the backends a call waits on, with its own requests
// there only: two calls queue on a one-permit backend, and each shows its
// own count.
TEST_F(AdminTest, ListCallsShowsTheBackendsACallWaitsOn) {
  auto server = std::make_unique<ServerProcess>(
      JOBGROUPD_PATH,
      std::vector<std::string>{"--admin_tokens_file=" + *dir_ + "/admin",
                               "--backend=db=1"});
  ASSERT_NE(server->port(), 0);
  auto stub = admin::AdminService::NewStub(server->NewChannel());
  // Call "a": three 30 s sleeps on db (one holds the permit, two wait);
  // then call "b": one more (it waits behind them).
  struct Call {
    std::thread thread;
    grpc::ClientContext ctx;
    grpc::Status status;
    v1::RunBatchResponse response;
  };
  Call calls[2];
  auto start = [&](Call& c, const std::string& id, int jobs) {
    c.thread = std::thread([&c, id, jobs, stub = server->NewStub()] {
      v1::RunBatchRequest req;
      for (int i = 0; i < jobs; ++i) {
        v1::Job* j = req.add_jobs();
        *j = MakeJob("sleep", {{"ms", "30000"}});
        j->set_backend("db");
      }
      req.mutable_options()->set_failure_policy(v1::FAILURE_POLICY_COLLECT_ALL);
      SetDeadlineMs(&c.ctx, 60000);
      c.ctx.AddMetadata("x-request-id", id);
      c.status = stub->RunBatch(&c.ctx, req, &c.response);
    });
  };
  // Waits until ListCalls shows `n` calls whose permit requests add up to
  // `requests` at db; returns the last list.
  auto wait_for = [&](size_t n, uint64_t requests) {
    admin::ListCallsResponse r;
    for (int i = 0; i < 400; ++i) {
      r.Clear();
      EXPECT_TRUE(ListCalls(*stub, &r).ok());
      uint64_t total = 0;
      for (const admin::CallInfo& c : r.calls()) {
        for (const admin::BackendWait& w : c.waiting_on()) {
          if (w.backend() == "db") total += w.requests();
        }
      }
      if (static_cast<size_t>(r.calls_size()) == n && total == requests) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return r;
  };
  start(calls[0], "call-a", 3);
  admin::ListCallsResponse r = wait_for(1, 2);
  ASSERT_EQ(r.calls_size(), 1) << r.DebugString();
  ASSERT_EQ(r.calls(0).waiting_on_size(), 1) << r.DebugString();
  EXPECT_EQ(r.calls(0).waiting_on(0).backend(), "db");
  EXPECT_EQ(r.calls(0).waiting_on(0).requests(), 2u);
  start(calls[1], "call-b", 1);
  r = wait_for(2, 3);
  ASSERT_EQ(r.calls_size(), 2) << r.DebugString();
  for (const admin::CallInfo& c : r.calls()) {
    ASSERT_EQ(c.waiting_on_size(), 1) << r.DebugString();
    EXPECT_EQ(c.waiting_on(0).requests(), c.call_id() == "call-a" ? 2u : 1u)
        << r.DebugString();
  }
  // Cancelled, they wait on nothing and leave the list.
  for (Call& c : calls) c.ctx.TryCancel();
  for (Call& c : calls) c.thread.join();
  r = wait_for(0, 0);
  EXPECT_EQ(r.calls_size(), 0) << r.DebugString();
}

// --admin_listen: the admin API alone on its own port, and not on --listen.
TEST_F(AdminTest, AdminListenServesTheAdminApiAloneOnItsOwnPort) {
  ServerProcess server(
      JOBGROUPD_PATH,
      std::vector<std::string>{"--admin_tokens_file=" + *dir_ + "/admin",
                               "--admin_listen=127.0.0.1:0"});
  ASSERT_NE(server.port(), 0);
  std::smatch m;
  const std::string log = server.Log();
  ASSERT_TRUE(std::regex_search(log, m, std::regex(R"(admin_port=(\d+))")))
      << log;
  ASSERT_NE(m[1].str(), "0") << log;
  auto admin_channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", m[1].str()),
                          grpc::InsecureChannelCredentials());
  auto on_admin_port = admin::AdminService::NewStub(admin_channel);
  auto on_main_port = admin::AdminService::NewStub(server.NewChannel());
  admin::ListCallsResponse r;
  EXPECT_TRUE(ListCalls(*on_admin_port, &r).ok());
  EXPECT_EQ(ListCalls(*on_main_port, &r).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  // Jobs run on --listen only.
  auto jobs_on_admin_port = v1::JobService::NewStub(admin_channel);
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 10000);
  v1::RunBatchRequest req;
  *req.add_jobs() = MakeJob("echo");
  v1::RunBatchResponse res;
  EXPECT_EQ(jobs_on_admin_port->RunBatch(&ctx, req, &res).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  // A SIGTERM stops both ports.
  EXPECT_EQ(server.Stop(SIGTERM), 0) << server.Log();
}

}  // namespace jobgroup::testing

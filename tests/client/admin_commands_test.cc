// Tests of `jobgroup calls` and `jobgroup top` (plain and --once modes)
// driven through RunCli() against a fake AdminService over loopback gRPC:
// tables, JSON, the admin token, and the one-line errors and exit statuses.
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "client/commands.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "jobgroup/admin/v1/admin.grpc.pb.h"
#include "tests/client/fake_job_server.h"

namespace jobgroup::client {
namespace {

using ::jobgroup::admin::v1::CallInfo;
using ::jobgroup::admin::v1::ServerSnapshot;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "admin-secret";

CallInfo TheCall() {
  CallInfo call;
  call.set_call_id("0123456789abcdef0123456789abcdef");
  call.set_method("RunBatch");
  call.set_peer("ipv4:127.0.0.1:40000");
  call.set_identity("sha256:0123456789ab");
  call.mutable_start_time()->set_seconds(1);
  call.mutable_deadline_left()->set_seconds(42);
  call.set_jobs_total(10);
  call.set_succeeded(3);
  call.set_jobs_running(5);
  call.set_jobs_pending(2);
  call.set_draining(true);
  return call;
}

// Answers with TheCall() to callers with kToken, UNAUTHENTICATED otherwise.
class FakeAdminService final
    : public jobgroup::admin::v1::AdminService::Service {
 public:
  absl::Mutex mu;
  std::string reason ABSL_GUARDED_BY(mu);
  int snapshots = 3;

  grpc::Status ListCalls(
      grpc::ServerContext* context,
      const jobgroup::admin::v1::ListCallsRequest*,
      jobgroup::admin::v1::ListCallsResponse* response) override {
    if (grpc::Status s = Check(*context); !s.ok()) return s;
    *response->add_calls() = TheCall();
    return grpc::Status::OK;
  }
  grpc::Status CancelCall(
      grpc::ServerContext* context,
      const jobgroup::admin::v1::CancelCallRequest* request,
      jobgroup::admin::v1::CancelCallResponse* response) override {
    if (grpc::Status s = Check(*context); !s.ok()) return s;
    if (request->call_id() != TheCall().call_id()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such call");
    }
    absl::MutexLock lock(&mu);
    reason = request->reason();
    *response->mutable_call() = TheCall();
    return grpc::Status::OK;
  }
  grpc::Status WatchServer(
      grpc::ServerContext* context,
      const jobgroup::admin::v1::WatchServerRequest*,
      grpc::ServerWriter<jobgroup::admin::v1::WatchServerResponse>* writer)
      override {
    if (grpc::Status s = Check(*context); !s.ok()) return s;
    for (int i = 0; i < snapshots; ++i) {
      jobgroup::admin::v1::WatchServerResponse response;
      ServerSnapshot& snapshot = *response.mutable_snapshot();
      snapshot.set_version(absl::StrCat("fake-", i));
      snapshot.mutable_time()->set_seconds(11);
      *snapshot.add_calls() = TheCall();
      snapshot.set_calls_in_flight(1);
      auto* backend = snapshot.add_backends();
      backend->set_name("db");
      backend->set_capacity(4);
      backend->set_in_use(2);
      if (!writer->Write(response)) break;
    }
    return grpc::Status::OK;
  }

 private:
  static grpc::Status Check(const grpc::ServerContext& context) {
    auto it = context.client_metadata().find("authorization");
    if (it == context.client_metadata().end() ||
        std::string(it->second.data(), it->second.size()) !=
            absl::StrCat("Bearer ", kToken)) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "missing or unknown admin token");
    }
    return grpc::Status::OK;
  }
};

class FakeAdminServer {
 public:
  FakeAdminServer() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~FakeAdminServer() { server_->Shutdown(); }
  std::string target() const { return absl::StrCat("127.0.0.1:", port_); }
  FakeAdminService& service() { return service_; }

 private:
  FakeAdminService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

struct CliRun {
  int status;
  std::string out;
  std::string err;
};

CliRun Cli(std::vector<std::string> args, bool stdout_is_terminal = false,
           bool no_color = false) {
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  Console console;
  console.stdout_is_terminal = stdout_is_terminal;
  console.no_color = no_color;
  console.in = &in;
  console.out = &out;
  console.err = &err;
  const int status = RunCli(args, console);
  return {status, out.str(), err.str()};
}

std::string TokenFile(absl::string_view token) {
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/admin_token_", getpid());
  std::ofstream(path) << token << "\n";
  return path;
}

class AdminCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override { unsetenv("JOBGROUP_ADMIN_TOKEN"); }
  std::vector<std::string> Args(std::vector<std::string> words) {
    std::vector<std::string> args = {"--target", server_.target()};
    args.insert(args.end(), words.begin(), words.end());
    args.push_back("--admin-token-file");
    args.push_back(token_file_);
    return args;
  }
  FakeAdminServer server_;
  std::string token_file_ = TokenFile(kToken);
};

TEST_F(AdminCommandsTest, ListTable) {
  const CliRun run = Cli(Args({"calls", "list"}));
  EXPECT_EQ(run.status, kExitOk) << run.err;
  EXPECT_EQ(run.err, "");
  const std::vector<std::string> lines = absl::StrSplit(run.out, '\n');
  ASSERT_GE(lines.size(), 2u);
  for (absl::string_view title :
       {"CALL_ID", "METHOD", "PEER", "IDENTITY", "AGE", "DEADLINE_LEFT",
        "DONE/TOTAL", "RUNNING", "PENDING", "FLAGS"}) {
    EXPECT_THAT(lines[0], HasSubstr(title));
  }
  EXPECT_THAT(lines[1], HasSubstr("0123456789abcdef0123456789abcdef"));
  EXPECT_THAT(lines[1], HasSubstr("RunBatch"));
  EXPECT_THAT(lines[1], HasSubstr("sha256:0123456789ab"));
  EXPECT_THAT(lines[1], HasSubstr("42.0s"));
  EXPECT_THAT(lines[1], HasSubstr("3/10"));
  EXPECT_THAT(lines[1], HasSubstr("DRAINING"));
}

TEST_F(AdminCommandsTest, ListJson) {
  const CliRun run = Cli(Args({"calls", "list", "-o", "json"}));
  EXPECT_EQ(run.status, kExitOk) << run.err;
  jobgroup::admin::v1::ListCallsResponse parsed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(run.out, &parsed).ok())
      << run.out;
  ASSERT_EQ(parsed.calls_size(), 1);
  EXPECT_EQ(parsed.calls(0).jobs_total(), 10u);
  EXPECT_THAT(run.out, HasSubstr("\"call_id\""));
  EXPECT_THAT(run.out, HasSubstr("\"jobs_running\""));
  // Zero counts are printed too.
  EXPECT_THAT(run.out, HasSubstr("\"failed\""));
  EXPECT_EQ(std::count(run.out.begin(), run.out.end(), '\n'), 1);
}

TEST_F(AdminCommandsTest, TokenFromTheEnvironment) {
  setenv("JOBGROUP_ADMIN_TOKEN", kToken, 1);
  const CliRun run =
      Cli({"--target", server_.target(), "calls", "list", "-o", "json"});
  unsetenv("JOBGROUP_ADMIN_TOKEN");
  EXPECT_EQ(run.status, kExitOk) << run.err;
}

TEST_F(AdminCommandsTest, WrongTokenSaysAnAdminTokenIsNeeded) {
  const CliRun run = Cli({"--target", server_.target(), "calls", "list",
                          "--admin-token-file", TokenFile("job-token")});
  EXPECT_EQ(run.status, kExitUsageOrConnection);
  EXPECT_THAT(run.err, HasSubstr("needs an admin token"));
  EXPECT_THAT(run.err, HasSubstr("--admin_tokens_file"));
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  const CliRun none = Cli({"--target", server_.target(), "top", "--once"});
  EXPECT_EQ(none.status, kExitUsageOrConnection);
  EXPECT_THAT(none.err, HasSubstr("needs an admin token"));
}

TEST_F(AdminCommandsTest, UnreadableTokenFile) {
  const CliRun run = Cli({"--target", server_.target(), "calls", "list",
                          "--admin-token-file", "/nonexistent/token"});
  EXPECT_EQ(run.status, kExitUsageOrConnection);
  EXPECT_THAT(run.err, HasSubstr("--admin-token-file: cannot open"));
}

TEST_F(AdminCommandsTest, Cancel) {
  const CliRun run =
      Cli(Args({"calls", "cancel", "0123456789abcdef0123456789abcdef",
                "--reason", "because"}));
  EXPECT_EQ(run.status, kExitOk) << run.err;
  EXPECT_THAT(run.out,
              HasSubstr("cancelled call 0123456789abcdef0123456789abcdef"));
  EXPECT_THAT(run.out, HasSubstr("3/10 jobs done, 7 end CANCELLED"));
  EXPECT_THAT(run.out, HasSubstr("because"));
  absl::MutexLock lock(&server_.service().mu);
  EXPECT_EQ(server_.service().reason, "because");
}

TEST_F(AdminCommandsTest, CancelUnknownIdIsOneLine) {
  const CliRun run = Cli(Args({"calls", "cancel", "nosuchcall"}));
  EXPECT_EQ(run.status, kExitUsageOrConnection);
  EXPECT_THAT(run.err, HasSubstr("no call nosuchcall in flight"));
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_EQ(run.out, "");
}

TEST_F(AdminCommandsTest, CancelUsage) {
  EXPECT_EQ(Cli(Args({"calls", "cancel"})).status, kExitUsageOrConnection);
  EXPECT_EQ(Cli(Args({"calls", "cancel", "a", "b"})).status,
            kExitUsageOrConnection);
  EXPECT_EQ(
      Cli(Args({"calls", "cancel", "a", "--reason", std::string(201, 'x')}))
          .status,
      kExitUsageOrConnection);
  const CliRun bad = Cli(Args({"calls", "frobnicate"}));
  EXPECT_EQ(bad.status, kExitUsageOrConnection);
  EXPECT_THAT(bad.err, HasSubstr("one of list, cancel"));
}

TEST_F(AdminCommandsTest, TopOncePrintsOnePlainSnapshot) {
  const CliRun run = Cli(Args({"top", "--once"}));
  EXPECT_EQ(run.status, kExitOk) << run.err;
  EXPECT_THAT(run.out, HasSubstr("jobgroupd fake-0"));
  EXPECT_THAT(run.out, Not(HasSubstr("fake-1")));
  EXPECT_THAT(run.out, HasSubstr("0123456789ab"));
  EXPECT_THAT(run.out, HasSubstr("3/10"));
  EXPECT_THAT(run.out, HasSubstr("db"));
  EXPECT_THAT(run.out, Not(HasSubstr("\x1b")));
  EXPECT_THAT(run.out, Not(HasSubstr("keys:")));
}

TEST_F(AdminCommandsTest, TopPlainPrintsABlockPerSnapshot) {
  const CliRun run = Cli(Args({"top", "--interval", "100ms"}));
  EXPECT_EQ(run.status, kExitOk) << run.err;
  EXPECT_THAT(run.out, HasSubstr("jobgroupd fake-0"));
  EXPECT_THAT(run.out, HasSubstr("jobgroupd fake-1"));
  EXPECT_THAT(run.out, HasSubstr("jobgroupd fake-2"));
  EXPECT_THAT(run.out, Not(HasSubstr("\x1b")));
}

TEST_F(AdminCommandsTest, TopOnceOnATerminalHasColourUnlessNoColor) {
  setenv("TERM", "xterm", 1);
  const CliRun colour =
      Cli(Args({"top", "--once"}), /*stdout_is_terminal=*/true);
  EXPECT_EQ(colour.status, kExitOk) << colour.err;
  EXPECT_THAT(colour.out, HasSubstr("\x1b[1m"));
  // --once draws no full screen: no alternate screen, no hidden cursor.
  EXPECT_THAT(colour.out, Not(HasSubstr("\x1b[?1049h")));
  const CliRun plain = Cli(Args({"top", "--once"}), /*stdout_is_terminal=*/true,
                           /*no_color=*/true);
  EXPECT_EQ(plain.status, kExitOk) << plain.err;
  EXPECT_THAT(plain.out, HasSubstr("jobgroupd fake-0"));
  EXPECT_THAT(plain.out, Not(HasSubstr("\x1b")));
}

TEST_F(AdminCommandsTest, TopOnADumbTerminalPrintsPlainSnapshots) {
  setenv("TERM", "dumb", 1);
  const CliRun run =
      Cli(Args({"top", "--interval", "100ms"}), /*stdout_is_terminal=*/true);
  setenv("TERM", "xterm", 1);
  EXPECT_EQ(run.status, kExitOk) << run.err;
  EXPECT_THAT(run.out, HasSubstr("jobgroupd fake-2"));
  EXPECT_THAT(run.out, Not(HasSubstr("\x1b")));
}

TEST_F(AdminCommandsTest, TopUsage) {
  const CliRun small = Cli(Args({"top", "--interval", "10ms"}));
  EXPECT_EQ(small.status, kExitUsageOrConnection);
  EXPECT_THAT(small.err, HasSubstr("100ms"));
  const CliRun help = Cli({"top", "--help"});
  EXPECT_EQ(help.status, kExitOk);
  EXPECT_THAT(help.out, HasSubstr("--admin-token-file"));
  EXPECT_THAT(help.out, HasSubstr("--once"));
}

TEST(AdminCommandsHelpTest, TopLevelHelpListsTheCommands) {
  const CliRun run = Cli({"--help"});
  EXPECT_THAT(run.out, HasSubstr("  calls "));
  EXPECT_THAT(run.out, HasSubstr("  top "));
  const CliRun calls = Cli({"calls", "--help"});
  EXPECT_EQ(calls.status, kExitOk);
  EXPECT_THAT(calls.out, HasSubstr("jobgroup calls cancel CALL_ID"));
  const CliRun list = Cli({"calls", "list", "--help"});
  EXPECT_EQ(list.status, kExitOk);
  EXPECT_THAT(list.out, HasSubstr("--admin-token-file"));
}

TEST(AdminCommandsOffTest, AdminApiOff) {
  testing::FakeServer jobs_only;
  const CliRun run = Cli({"--target", jobs_only.target(), "calls", "list"});
  EXPECT_EQ(run.status, kExitUsageOrConnection);
  EXPECT_THAT(run.err, HasSubstr("the admin API is off"));
  EXPECT_THAT(run.err, HasSubstr("--admin_tokens_file"));
}

}  // namespace
}  // namespace jobgroup::client

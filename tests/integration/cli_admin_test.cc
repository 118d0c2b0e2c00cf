// The admin commands of the jobgroup CLI against the real jobgroupd started
// with --admin_tokens_file: `jobgroup calls list` shows a long call with its
// counts, `jobgroup calls cancel` ends it (its client gets CANCELLED
// outcomes) and it leaves the list; a job token is refused. `jobgroup top`
// runs in a tmux pane: it shows the call and its backend, `s` changes the
// sort, `c` then `y` cancels the selected call, `q` quits.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "jobgroup/admin/v1/admin.pb.h"
#include "tests/integration/server_process.h"

namespace jobgroup::testing {
namespace {

constexpr char kAdminToken[] = "cli-admin-token-0123456789";
constexpr char kJobToken[] = "cli-job-token-0123456789";
constexpr absl::Duration kWait = absl::Seconds(20);

struct Sh {
  int code = -1;
  std::string out;
};

// Runs `cmd` with sh; stdout and stderr together.
Sh Shell(const std::string& cmd) {
  Sh result;
  if (FILE* p = popen(absl::StrCat(cmd, " 2>&1").c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) result.out.append(buf, n);
    const int status = pclose(p);
    if (WIFEXITED(status)) result.code = WEXITSTATUS(status);
  }
  return result;
}

// Polls `done` every 100 ms until it holds or kWait passes.
bool WaitFor(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return done();
}

class CliAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/jobgroup-cli-admin-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::ofstream(dir_ + "/admin") << kAdminToken << "\n";
    std::ofstream(dir_ + "/jobs") << kJobToken << "\n";
    server_ = std::make_unique<ServerProcess>(
        JOBGROUPD_PATH,
        std::vector<std::string>{"--admin_tokens_file=" + dir_ + "/admin",
                                 "--auth_tokens_file=" + dir_ + "/jobs"});
    ASSERT_NE(server_->port(), 0);
  }
  void TearDown() override {
    if (long_call_.joinable()) long_call_.join();
    server_.reset();
    (void)system(absl::StrCat("rm -rf '", dir_, "'").c_str());
  }

  // `jobgroup --target T ARGS --admin-token-file FILE`.
  Sh Cli(const std::string& args, const std::string& token_file = "admin") {
    return Shell(absl::StrCat("timeout -s KILL 60 ", JOBGROUP_CLI_PATH,
                              " --target ", server_->target(), " ", args,
                              " --admin-token-file ", dir_, "/", token_file));
  }

  // The calls in flight, from `jobgroup calls list -o json`.
  admin::v1::ListCallsResponse ListCalls() {
    const Sh list = Cli("calls list -o json");
    EXPECT_EQ(list.code, 0) << list.out;
    admin::v1::ListCallsResponse calls;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(list.out, &calls).ok())
        << list.out;
    return calls;
  }

  // Starts a RunBatch of `jobs` sleeps of 20 s under the job token, with
  // the call id `id`, on a thread; its reply lands in `long_reply_`.
  void StartLongCall(const std::string& id, int jobs) {
    long_call_ = std::thread([this, id, jobs] {
      auto stub = server_->NewStub();
      grpc::ClientContext ctx;
      SetDeadlineMs(&ctx, 60000);
      ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kJobToken));
      ctx.AddMetadata("x-request-id", id);
      v1::RunBatchRequest request;
      for (int i = 0; i < jobs; ++i) {
        *request.add_jobs() = MakeJob("sleep", {{"ms", "20000"}});
      }
      long_status_ = stub->RunBatch(&ctx, request, &long_reply_);
    });
  }

  // The call `id` as ListCalls shows it once it has `jobs` jobs in flight.
  std::optional<admin::v1::CallInfo> WaitForCall(const std::string& id,
                                                 uint64_t jobs) {
    std::optional<admin::v1::CallInfo> found;
    WaitFor([&] {
      const admin::v1::ListCallsResponse calls = ListCalls();
      for (const admin::v1::CallInfo& call : calls.calls()) {
        if (call.call_id() == id &&
            call.jobs_running() + call.jobs_pending() >= jobs) {
          found = call;
        }
      }
      return found.has_value();
    });
    return found;
  }

  bool CallGone(const std::string& id) {
    return WaitFor([&] {
      const admin::v1::ListCallsResponse calls = ListCalls();
      for (const admin::v1::CallInfo& call : calls.calls()) {
        if (call.call_id() == id) return false;
      }
      return true;
    });
  }

  void ExpectAllCancelled() {
    long_call_.join();
    ASSERT_TRUE(long_status_.ok()) << long_status_.error_message();
    for (const v1::JobResult& result : long_reply_.results()) {
      EXPECT_EQ(result.outcome(), v1::JOB_OUTCOME_CANCELLED)
          << result.DebugString();
    }
  }

  std::string dir_;
  std::unique_ptr<ServerProcess> server_;
  std::thread long_call_;
  grpc::Status long_status_;
  v1::RunBatchResponse long_reply_;
};

TEST_F(CliAdminTest, ListShowsTheCallAndCancelEndsIt) {
  const std::string id = "cli-admin-list-call";
  StartLongCall(id, 3);
  std::optional<admin::v1::CallInfo> call = WaitForCall(id, 3);
  ASSERT_TRUE(call.has_value()) << server_->Log();
  EXPECT_EQ(call->method(), "RunBatch");
  EXPECT_EQ(call->jobs_total(), 3u);
  EXPECT_EQ(call->jobs_running() + call->jobs_pending(), 3u);
  EXPECT_EQ(call->succeeded() + call->failed() + call->cancelled(), 0u);
  EXPECT_TRUE(absl::StartsWith(call->identity(), "sha256:"));

  // The table has the call too.
  const Sh table = Cli("calls list");
  EXPECT_EQ(table.code, 0) << table.out;
  EXPECT_TRUE(absl::StrContains(table.out, "DONE/TOTAL")) << table.out;
  EXPECT_TRUE(absl::StrContains(table.out, id)) << table.out;
  EXPECT_TRUE(absl::StrContains(table.out, "0/3")) << table.out;

  const Sh cancel = Cli(absl::StrCat("calls cancel ", id, " --reason because"));
  EXPECT_EQ(cancel.code, 0) << cancel.out;
  EXPECT_TRUE(absl::StrContains(cancel.out, "cancelled call " + id))
      << cancel.out;
  ExpectAllCancelled();
  EXPECT_TRUE(CallGone(id));

  // Cancelling it again: it is not there any more, said on one line.
  const Sh again = Cli(absl::StrCat("calls cancel ", id));
  EXPECT_EQ(again.code, 2) << again.out;
  EXPECT_TRUE(absl::StrContains(again.out, "no call " + id + " in flight"))
      << again.out;
  EXPECT_EQ(std::count(again.out.begin(), again.out.end(), '\n'), 1)
      << again.out;
}

TEST_F(CliAdminTest, AJobTokenIsRefused) {
  for (const char* command : {"calls list", "calls cancel x", "top --once"}) {
    const Sh refused = Cli(command, "jobs");
    EXPECT_EQ(refused.code, 2) << command << ": " << refused.out;
    EXPECT_TRUE(absl::StrContains(refused.out, "needs an admin token"))
        << command << ": " << refused.out;
  }
  const Sh none = Shell(absl::StrCat(JOBGROUP_CLI_PATH, " --target ",
                                     server_->target(), " calls list"));
  EXPECT_EQ(none.code, 2) << none.out;
  EXPECT_TRUE(absl::StrContains(none.out, "needs an admin token")) << none.out;
}

TEST_F(CliAdminTest, TopOnceWithoutATerminalIsPlainText) {
  const std::string id = "cli-admin-once-call";
  StartLongCall(id, 2);
  ASSERT_TRUE(WaitForCall(id, 2).has_value()) << server_->Log();
  const Sh once = Cli("top --once");
  EXPECT_EQ(once.code, 0) << once.out;
  EXPECT_TRUE(absl::StrContains(once.out, "jobgroupd ")) << once.out;
  EXPECT_TRUE(absl::StrContains(once.out, id.substr(0, 12))) << once.out;
  EXPECT_TRUE(absl::StrContains(once.out, "local")) << once.out;
  EXPECT_FALSE(absl::StrContains(once.out, "\x1b")) << once.out;
  ASSERT_EQ(Cli(absl::StrCat("calls cancel ", id)).code, 0);
  ExpectAllCancelled();
}

// A tmux server of the test's own, killed at the end whatever happens.
class Tmux {
 public:
  Tmux() : socket_(absl::StrCat("jobgroup-top-test-", getpid())) {}
  ~Tmux() { Shell(absl::StrCat("tmux -L ", socket_, " kill-server")); }
  Sh operator()(const std::string& args) const {
    return Shell(absl::StrCat("tmux -L ", socket_, " ", args));
  }
  std::string Pane() const { return (*this)("capture-pane -p -t top").out; }
  bool PaneShows(const std::string& text) const {
    return WaitFor([&] { return absl::StrContains(Pane(), text); });
  }

 private:
  const std::string socket_;
};

TEST_F(CliAdminTest, TopInTmuxSortsSelectsCancelsAndQuits) {
  if (Shell("command -v tmux").code != 0) {
    FAIL() << "tmux is not installed: scripts/install-deps.sh should install "
              "it (the jobgroup top test drives a tmux pane)";
  }
  const std::string id = "cli-admin-top-call-0001";
  StartLongCall(id, 4);
  ASSERT_TRUE(WaitForCall(id, 4).has_value()) << server_->Log();

  Tmux tmux;
  // The shell of the pane writes top's exit status here once it exits.
  const std::string exit_file = dir_ + "/top.exit";
  const Sh started = tmux(absl::StrCat(
      "new-session -d -s top -x 120 -y 40 \"", JOBGROUP_CLI_PATH, " --target ",
      server_->target(), " top --interval 200ms", " --admin-token-file ", dir_,
      "/admin; echo \\$? > ", exit_file, "\""));
  ASSERT_EQ(started.code, 0) << started.out;
  // Keep the pane after the process exits, to read how it ended.
  tmux("set-option -t top remain-on-exit on");

  // The whole id does not fit its column at 120: the first 12 characters.
  ASSERT_TRUE(tmux.PaneShows(id.substr(0, 12))) << tmux.Pane();
  EXPECT_TRUE(tmux.PaneShows("local")) << tmux.Pane();
  EXPECT_TRUE(tmux.PaneShows("sort: jobs in flight")) << tmux.Pane();
  EXPECT_TRUE(tmux.PaneShows("0/4")) << tmux.Pane();

  tmux("send-keys -t top s");
  EXPECT_TRUE(tmux.PaneShows("sort: age")) << tmux.Pane();

  tmux("send-keys -t top c");
  EXPECT_TRUE(tmux.PaneShows(absl::StrCat("cancel call ", id, "? [y/N]")))
      << tmux.Pane();
  tmux("send-keys -t top y");
  EXPECT_TRUE(tmux.PaneShows(absl::StrCat("cancelled call ", id)))
      << tmux.Pane();
  ExpectAllCancelled();
  EXPECT_TRUE(CallGone(id));
  EXPECT_TRUE(tmux.PaneShows("(no calls in flight)")) << tmux.Pane();

  tmux("send-keys -t top q");
  auto exit_status = [&] {
    std::ifstream file(exit_file);
    std::string status;
    std::getline(file, status);
    return status;
  };
  EXPECT_TRUE(WaitFor([&] { return !exit_status().empty(); })) << tmux.Pane();
  EXPECT_EQ(exit_status(), "0");
  // The pane's process is gone: the pane is dead (remain-on-exit keeps it).
  EXPECT_TRUE(WaitFor([&] {
    return absl::StartsWith(
        tmux("display-message -p -t top '#{pane_dead}'").out, "1");
  }));
}

}  // namespace
}  // namespace jobgroup::testing

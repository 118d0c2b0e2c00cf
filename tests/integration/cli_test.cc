// The jobgroup CLI against the real jobgroupd: when a deadline ends a call,
// the one line on stderr says which deadline (the server's default for
// run, the server's longest for process without --deadline) and, for
// process, how many jobs were sent but not run and never sent; -o json
// says the same in its document. Ctrl-C cancels the call and exits 130.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace jobgroup::testing {
namespace {

struct CliExit {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs `jobgroup ARGS` with stdout and stderr kept apart; `timeout` bounds a
// CLI that would wait forever.
CliExit Cli(const std::string& args) {
  CliExit exit;
  char err_path[] = "/tmp/jobgroup-cli-test-XXXXXX";
  const int fd = mkstemp(err_path);
  if (fd < 0) return exit;
  close(fd);
  const std::string cmd = absl::StrCat(
      "timeout -s KILL 120 ", JOBGROUP_CLI_PATH, " ", args, " 2>", err_path);
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) exit.out.append(buf, n);
    const int status = pclose(p);
    if (WIFEXITED(status)) exit.code = WEXITSTATUS(status);
  }
  if (FILE* f = fopen(err_path, "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) exit.err.append(buf, n);
    fclose(f);
  }
  unlink(err_path);
  return exit;
}

int Lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

TEST(CliTest, RunHittingTheServersDefaultDeadlineSaysSo) {
  ServerProcess server(JOBGROUPD_PATH, {"--default_deadline=1s"});
  CliExit run = Cli(absl::StrCat("run --target ", server.target(),
                                 " --kind sleep --param ms=60000 --count 3"));
  EXPECT_EQ(run.code, 1) << run.err;
  EXPECT_EQ(Lines(run.err), 1) << run.err;
  EXPECT_TRUE(absl::StrContains(
      run.err,
      "jobgroup run: 3 of 3 jobs did not succeed (3 deadline "
      "exceeded); deadline hit: the server's default deadline (1s)"))
      << run.err;
  EXPECT_TRUE(absl::StrContains(run.out, "the server's default deadline (1s)"))
      << run.out;
}

TEST(CliTest, ProcessWithoutDeadlineRunsToTheServersLongestAndCountsTheRest) {
  // The default deadline is left long: process asks for the longest one,
  // which is the short one here.
  ServerProcess server(JOBGROUPD_PATH,
                       {"--default_deadline=5m", "--max_deadline=2s"});
  CliExit run = Cli(absl::StrCat(
      "process --target ", server.target(),
      " --kind sleep --param ms=60000 --count 200000 --max-concurrency 10"
      " -o json"));
  EXPECT_EQ(run.code, 1) << run.err;
  EXPECT_EQ(Lines(run.err), 1) << run.err;
  EXPECT_TRUE(absl::StartsWith(run.err, "jobgroup process: ")) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, " of the 200000 jobs were not run ("))
      << run.err;
  // Sent but not run, or never sent: how many went into gRPC's buffers
  // before the server stopped reading depends on flow control.
  // Counted, not unknown: the input is --count.
  EXPECT_FALSE(absl::StrContains(run.out, "\"jobsNotRun\":null")) << run.out;
  EXPECT_TRUE(absl::StrContains(run.err,
                                "deadline hit: the server's longest deadline, "
                                "--max_deadline (2s)"))
      << run.err;
  EXPECT_TRUE(
      absl::StrContains(run.out,
                        "\"deadline\":{\"source\":\"server-max\",\"seconds\":2,"
                        "\"hit\":true}"))
      << run.out;
  EXPECT_TRUE(absl::StrContains(
      run.out, "\"callStatus\":{\"code\":\"DEADLINE_EXCEEDED\""))
      << run.out;
}

TEST(CliTest, ProcessWithADeadlineNamesIt) {
  ServerProcess server(JOBGROUPD_PATH, {});
  CliExit run = Cli(absl::StrCat(
      "process --target ", server.target(),
      " --kind sleep --param ms=60000 --count 50000 --max-concurrency 10"
      " --deadline 1s -o table"));
  EXPECT_EQ(run.code, 1) << run.err;
  EXPECT_EQ(Lines(run.err), 1) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "deadline hit: --deadline 1s"))
      << run.err;
  EXPECT_TRUE(absl::StrContains(run.out, "not run")) << run.out;
}

std::string ReadFile(const std::string& path) {
  std::string text;
  if (FILE* f = fopen(path.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    fclose(f);
  }
  return text;
}

// Polls until the server holds no job in flight, for up to 20 s.
bool WaitForIdle(v1::JobService::Stub& stub) {
  for (int i = 0; i < 4000; ++i) {
    grpc::ClientContext ctx;
    v1::GetServerInfoResponse info;
    if (stub.GetServerInfo(&ctx, {}, &info).ok() &&
        info.limits().inflight_jobs() == 0) {
      return true;
    }
    usleep(5000);
  }
  return false;
}

TEST(CliTest, CtrlCCancelsTheCallPrintsTheSummaryAndExits130) {
  ServerProcess server(JOBGROUPD_PATH, {});
  auto stub = server.NewStub();
  for (const char* command : {"run", "process"}) {
    char out_path[] = "/tmp/jobgroup-cli-out-XXXXXX";
    char err_path[] = "/tmp/jobgroup-cli-err-XXXXXX";
    const int out = mkstemp(out_path);
    const int err = mkstemp(err_path);
    ASSERT_GE(out, 0);
    ASSERT_GE(err, 0);
    const std::string target = "--target=" + server.target();
    const pid_t cli = fork();
    if (cli == 0) {
      dup2(out, 1);
      dup2(err, 2);
      execl(JOBGROUP_CLI_PATH, JOBGROUP_CLI_PATH, command, target.c_str(),
            "--kind", "sleep", "--param", "ms=60000", "--count", "20",
            "--output", "table", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out);
    close(err);
    // Ctrl-C once the server holds the call's jobs.
    ASSERT_TRUE(WaitForInflightJobs(*stub, 20)) << command;
    kill(cli, SIGINT);
    int status = 0;
    ASSERT_EQ(waitpid(cli, &status, 0), cli);
    const std::string printed = ReadFile(out_path);
    const std::string said = ReadFile(err_path);
    unlink(out_path);
    unlink(err_path);
    ASSERT_TRUE(WIFEXITED(status)) << command;
    EXPECT_EQ(WEXITSTATUS(status), 130) << command << ": " << said;
    EXPECT_EQ(Lines(said), 1) << said;
    EXPECT_TRUE(absl::StrContains(
        said, absl::StrCat("jobgroup ", command, ": interrupted (Ctrl-C): ")))
        << said;
    EXPECT_TRUE(absl::StrContains(printed, "total")) << printed;
    // The server cancelled every job of the call and freed its permits.
    EXPECT_TRUE(WaitForIdle(*stub)) << command;
  }
}

// Issue 16, item 4: a jobs file with numbers and booleans as params runs on
// the real server; --payload-file sends bytes as they are, and
// --decode-outputs adds their text without touching protobuf's base64.
TEST(CliTest, BytesAndScalarParamsReachTheRealServer) {
  ServerProcess server(JOBGROUPD_PATH, {});
  char dir[] = "/tmp/jobgroup-cli-bytes-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string jobs = absl::StrCat(dir, "/jobs.jsonl");
  const std::string payload = absl::StrCat(dir, "/payload.txt");
  if (FILE* f = fopen(jobs.c_str(), "w")) {
    fputs("{\"kind\":\"sleep\",\"params\":{\"ms\":5}}\n", f);
    fputs(
        "{\"kind\":\"fail\",\"params\":{\"ms\":1,\"message\":\"x\"},"
        "\"fallbacks\":[{\"kind\":\"sleep\",\"params\":{\"ms\":2}}]}\n",
        f);
    fclose(f);
  }
  if (FILE* f = fopen(payload.c_str(), "w")) {
    fputs("caf\xc3\xa9\n", f);
    fclose(f);
  }
  CliExit run = Cli(
      absl::StrCat("run --target ", server.target(), " --jobs-file ", jobs));
  EXPECT_EQ(run.code, 0) << run.err << run.out;

  CliExit echo = Cli(absl::StrCat("run --target ", server.target(),
                                  " --kind echo --payload-file ", payload,
                                  " -o jsonl --decode-outputs"));
  EXPECT_EQ(echo.code, 0) << echo.err;
  EXPECT_TRUE(absl::StrContains(echo.out, "\"output\":\"Y2Fmw6kK\""))
      << echo.out;
  EXPECT_TRUE(
      absl::StrContains(echo.out, ",\"outputText\":\"caf\xc3\xa9\\n\"}"))
      << echo.out;

  CliExit wide =
      Cli(absl::StrCat("run --target ", server.target(),
                       " --kind echo --payload-file ", payload, " -o wide"));
  EXPECT_EQ(wide.code, 0) << wide.err;
  EXPECT_TRUE(absl::StrContains(wide.out, "\"caf\xc3\xa9\\n\" (6 bytes)"))
      << wide.out;
  unlink(jobs.c_str());
  unlink(payload.c_str());
  rmdir(dir);
}

// Issue 16, item 5: the spinner of a non-streamed run is for terminals; a
// run long enough for it to draw, with stderr a file, leaves stderr empty.
TEST(CliTest, ARunOffATerminalDrawsNoSpinner) {
  ServerProcess server(JOBGROUPD_PATH, {});
  CliExit run = Cli(absl::StrCat("run --target ", server.target(),
                                 " --kind sleep --param ms=700 --count 2"));
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_EQ(run.out.find('\r'), std::string::npos) << run.out;
}

// Issue 16, item 7: calls that outlast the measured window used to give
// "0 jobs/s" and exit 0. Each call here sleeps 1.5 s, the window is 200 ms.
TEST(CliTest, BenchWhoseCallsOutlastTheWindowExitsOneSayingSo) {
  ServerProcess server(JOBGROUPD_PATH, {});
  CliExit bench = Cli(absl::StrCat(
      "bench --target ", server.target(),
      " --kind sleep --param ms=1500 --jobs-per-call 10 --duration 200ms "
      "--warmup 0 --connections 2 --concurrency 2 -o csv"));
  EXPECT_EQ(bench.code, 1) << bench.err;
  EXPECT_EQ(Lines(bench.err), 1) << bench.err;
  EXPECT_TRUE(absl::StrContains(
      bench.err,
      "no call ended inside the 200ms window, so there is no rate: 2 calls "
      "ended after it (20 results)"))
      << bench.err;
  EXPECT_EQ(Lines(bench.out), 2) << bench.out;
  EXPECT_TRUE(absl::StrContains(bench.out, ",connections,")) << bench.out;
}

}  // namespace
}  // namespace jobgroup::testing

// Start-up of the real jobgroupd: an address already taken (by another
// jobgroupd) ends the second one at once, exit 1, with one line in plain
// words, for the gRPC port and the metrics port alike; flags from the
// environment (JOBGROUPD_<FLAG>, the command line wins); --help grouped by
// area; and the name the server gives itself, as `jobgroup info` shows it.
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace jobgroup::testing {
namespace {

struct Exit {
  int code = -1;
  std::string output;  // stderr and stdout.
};

// Runs `command` in a shell, stderr with stdout.
Exit RunCommand(const std::string& command) {
  Exit exit;
  FILE* p = popen(absl::StrCat(command, " 2>&1").c_str(), "r");
  if (p == nullptr) return exit;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) exit.output.append(buf, n);
  const int status = pclose(p);
  if (WIFEXITED(status)) exit.code = WEXITSTATUS(status);
  return exit;
}

// Runs jobgroupd with `flags` and the environment variables `env` (VAR=VALUE
// ...) added; `timeout` ends a jobgroupd that wrongly starts serving (exit
// 124), so the test fails instead of hanging.
Exit RunJobgroupd(const std::string& flags, const std::string& env = "") {
  return RunCommand(absl::StrCat("env ", env, " timeout -s KILL 30 ",
                                 JOBGROUPD_PATH, " ", flags));
}

TEST(StartupTest, SecondServerOnTheSamePortFailsSayingTheAddressIsInUse) {
  ServerProcess first(JOBGROUPD_PATH, {});
  ASSERT_NE(first.port(), 0);
  const std::string address = absl::StrCat("127.0.0.1:", first.port());
  Exit second =
      RunJobgroupd(absl::StrCat("--listen=", address, " --metrics_listen="));
  EXPECT_EQ(second.code, 1) << second.output;
  EXPECT_EQ(second.output, absl::StrCat("jobgroupd: address ", address,
                                        " is already in use\n"));
  // The first one still serves alone.
  EXPECT_NE(first.Metrics(), "");
}

TEST(StartupTest, MetricsPortInUseIsSaidInPlainWords) {
  ServerProcess first(JOBGROUPD_PATH, {});
  ASSERT_NE(first.metrics_port(), 0);
  const std::string address = absl::StrCat("127.0.0.1:", first.metrics_port());
  Exit second = RunJobgroupd(
      absl::StrCat("--listen=127.0.0.1:0 --metrics_listen=", address));
  EXPECT_EQ(second.code, 1) << second.output;
  EXPECT_EQ(second.output, absl::StrCat("jobgroupd: --metrics_listen: address ",
                                        address, " is already in use\n"));
  EXPECT_FALSE(absl::StrContains(second.output, "CivetServer"));
}

TEST(StartupTest, AddressThatIsNotHostPortIsRefused) {
  Exit bad = RunJobgroupd("--listen=127.0.0.1:0 --metrics_listen=nonsense");
  EXPECT_EQ(bad.code, 1) << bad.output;
  EXPECT_TRUE(absl::StrContains(bad.output,
                                "--metrics_listen: cannot listen "
                                "on nonsense"))
      << bad.output;
}

// Flags that each parse but would break the server without a word are
// refused at start, exit 2, with one line naming the flag.
TEST(StartupTest, FlagsThatWouldBreakTheServerSilentlyAreRefused) {
  struct Case {
    std::string flags;
    std::string says;
  };
  const Case cases[] = {
      // 597 h is 2,149,200,000 ms: over gRPC's int.
      {"--max_connection_age=597h", "--max_connection_age: 597h is over"},
      {"--max_connection_age_grace=-1s", "--max_connection_age_grace: -1s"},
      {"--deadline_margin=-1ms", "--deadline_margin: -1ms must not be"},
      {"--process_window=4294967296 --max_inflight_jobs=8589934592",
       "--process_window: 4294967296 is over the limit of 4294967295"},
      {"--process_window=2000 --max_inflight_jobs=1000",
       "--process_window: 2000 is over --max_inflight_jobs (1000)"},
      {"--admin_listen=127.0.0.1:0",
       "--admin_listen: needs --admin_tokens_file"},
      {"--adaptive_limit --adaptive_limit_queue_delay=-1ms",
       "--adaptive_limit_queue_delay: -1ms must be positive"},
  };
  for (const Case& c : cases) {
    Exit bad = RunJobgroupd(
        absl::StrCat("--listen=127.0.0.1:0 --metrics_listen= ", c.flags));
    EXPECT_EQ(bad.code, 2) << c.flags << ": " << bad.output;
    EXPECT_TRUE(absl::StartsWith(bad.output, "jobgroupd: " + c.says))
        << c.flags << ": " << bad.output;
    EXPECT_EQ(std::count(bad.output.begin(), bad.output.end(), '\n'), 1)
        << bad.output;
  }
  // Without --process_window, a small admission limit cuts the default
  // window (1024) instead of refusing to start.
  ServerProcess small(JOBGROUPD_PATH, {"--max_inflight_jobs=100"});
  EXPECT_NE(small.port(), 0) << small.Log();
  // Just under the limit the server starts and answers calls.
  ServerProcess fine(JOBGROUPD_PATH, {"--max_connection_age=596h"});
  ASSERT_NE(fine.port(), 0);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::GetServerInfoResponse info;
  grpc::Status s = fine.NewStub()->GetServerInfo(&ctx, {}, &info);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

// Sets an environment variable for the life of the object; the servers a
// test starts inherit it.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value)
      : name_(std::move(name)) {
    setenv(name_.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() { unsetenv(name_.c_str()); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
};

v1::GetServerInfoResponse Info(const ServerProcess& server) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::GetServerInfoResponse info;
  grpc::Status s = server.NewStub()->GetServerInfo(&ctx, {}, &info);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return info;
}

int64_t MaxDeadlineSeconds(const v1::GetServerInfoResponse& info) {
  return google::protobuf::util::TimeUtil::DurationToSeconds(
      info.limits().max_deadline());
}

int64_t BackendCapacity(const v1::GetServerInfoResponse& info,
                        const std::string& name) {
  for (const v1::BackendInfo& b : info.backends()) {
    if (b.name() == name) return static_cast<int64_t>(b.capacity());
  }
  return -1;
}

TEST(StartupTest, FlagsComeFromTheEnvironment) {
  ScopedEnv deadline("JOBGROUPD_MAX_DEADLINE", "7m");
  ScopedEnv backend("JOBGROUPD_BACKEND", "envdb=3,envcache=5");
  ServerProcess server(JOBGROUPD_PATH, {});
  ASSERT_NE(server.port(), 0) << server.Log();
  v1::GetServerInfoResponse info = Info(server);
  EXPECT_EQ(MaxDeadlineSeconds(info), 7 * 60);
  EXPECT_EQ(BackendCapacity(info, "envdb"), 3);
  EXPECT_EQ(BackendCapacity(info, "envcache"), 5);
}

TEST(StartupTest, FlagOnTheCommandLineBeatsTheEnvironment) {
  ScopedEnv deadline("JOBGROUPD_MAX_DEADLINE", "7m");
  ScopedEnv backend("JOBGROUPD_BACKEND", "envdb=3");
  ScopedEnv queue("JOBGROUPD_QUEUE_CAPACITY", "77");
  ServerProcess server(JOBGROUPD_PATH,
                       {"--max_deadline=3m", "--backend=flagdb=2"});
  ASSERT_NE(server.port(), 0) << server.Log();
  v1::GetServerInfoResponse info = Info(server);
  EXPECT_EQ(MaxDeadlineSeconds(info), 3 * 60);
  EXPECT_EQ(BackendCapacity(info, "flagdb"), 2);
  EXPECT_EQ(BackendCapacity(info, "envdb"), -1);
  // A variable of a flag not on the command line still counts.
  EXPECT_EQ(info.queue().capacity(), 77u);
}

TEST(StartupTest, BadValueInTheEnvironmentStopsStartUpNamingTheVariable) {
  struct Case {
    std::string env;
    std::string says;
  };
  const Case cases[] = {
      // Not parsed at all.
      {"JOBGROUPD_MAX_DEADLINE=soon",
       "jobgroupd: JOBGROUPD_MAX_DEADLINE=\"soon\": not a valid value of "
       "--max_deadline\n"},
      // Parsed, then refused as the flag would be.
      {"JOBGROUPD_DEADLINE_MARGIN=-1ms",
       "jobgroupd: --deadline_margin: -1ms must not be negative"},
  };
  for (const Case& c : cases) {
    Exit bad = RunJobgroupd("--listen=127.0.0.1:0 --metrics_listen=", c.env);
    EXPECT_EQ(bad.code, 2) << c.env << ": " << bad.output;
    EXPECT_TRUE(absl::StartsWith(bad.output, c.says))
        << c.env << ": " << bad.output;
    EXPECT_EQ(std::count(bad.output.begin(), bad.output.end(), '\n'), 1)
        << bad.output;
  }
}

TEST(StartupTest, HelpGroupsFlagsByAreaWithNoBuildPaths) {
  Exit help = RunJobgroupd("--help");
  EXPECT_EQ(help.code, 0) << help.output;
  EXPECT_FALSE(absl::StrContains(help.output, "Flags from")) << help.output;
  EXPECT_FALSE(absl::StrContains(help.output, ".cc")) << help.output;
  for (const char* heading :
       {"\nListening:\n", "\nCalls and deadlines:\n", "\nLimits and memory:\n",
        "\nBackends and workers:\n", "\nSecurity:\n",
        "\nMetrics and logging:\n", "\nhttp kind (docs/HTTP_KIND.md):\n"}) {
    EXPECT_TRUE(absl::StrContains(help.output, heading)) << heading;
  }
  for (const char* flag :
       {"\n  --listen=", "\n  --max_deadline=10m  [$JOBGROUPD_MAX_DEADLINE]",
        "\n  --http_allow=", "\n  --http_host_limit=",
        "\n  --http_max_retry_after=30s"}) {
    EXPECT_TRUE(absl::StrContains(help.output, flag)) << flag;
  }
}

// `jobgroup info` says what the server says it is, and the client takes
// its target from JOBGROUP_TARGET unless --target is given.
TEST(StartupTest, InfoNamesTheServerItTalksTo) {
  ServerProcess plain(JOBGROUPD_PATH, {});
  ServerProcess custom(JOBGROUPD_EXAMPLE_PATH, {});
  ASSERT_NE(plain.port(), 0);
  ASSERT_NE(custom.port(), 0);
  EXPECT_EQ(Info(plain).name(), "jobgroupd");
  EXPECT_EQ(Info(custom).name(), "jobgroupd-example");
  auto info = [](const std::string& env, const std::string& args) {
    return RunCommand(
        absl::StrCat("env ", env, " ", JOBGROUP_CLI_PATH, " info ", args));
  };
  Exit from_env = info("JOBGROUP_TARGET=" + custom.target(), "");
  EXPECT_EQ(from_env.code, 0) << from_env.output;
  EXPECT_TRUE(absl::StartsWith(from_env.output, "jobgroupd-example "))
      << from_env.output;
  // --target beats JOBGROUP_TARGET.
  Exit flag_wins =
      info("JOBGROUP_TARGET=" + custom.target(), "--target " + plain.target());
  EXPECT_EQ(flag_wins.code, 0) << flag_wins.output;
  EXPECT_TRUE(absl::StartsWith(flag_wins.output, "jobgroupd "))
      << flag_wins.output;
  EXPECT_TRUE(
      absl::StrContains(flag_wins.output, absl::StrCat(" at ", plain.target())))
      << flag_wins.output;
}

}  // namespace
}  // namespace jobgroup::testing

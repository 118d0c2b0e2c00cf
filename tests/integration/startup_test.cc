// Start-up failures of the real jobgroupd: an address already taken (by
// another jobgroupd) ends the second one at once, exit 1, with one line in
// plain words, for the gRPC port and the metrics port alike.
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace jobgroup::testing {
namespace {

struct Exit {
  int code = -1;
  std::string output;  // stderr and stdout.
};

// Runs jobgroupd with `flags`; `timeout` ends a jobgroupd that wrongly
// starts serving (exit 124), so the test fails instead of hanging.
Exit RunJobgroupd(const std::string& flags) {
  Exit exit;
  const std::string cmd =
      absl::StrCat("timeout -s KILL 30 ", JOBGROUPD_PATH, " ", flags, " 2>&1");
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return exit;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) exit.output.append(buf, n);
  const int status = pclose(p);
  if (WIFEXITED(status)) exit.code = WEXITSTATUS(status);
  return exit;
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

}  // namespace
}  // namespace jobgroup::testing

// Start-up failures of the real jobgroupd: an address already taken (by
// another jobgroupd) ends the second one at once, exit 1, with one line in
// plain words, for the gRPC port and the metrics port alike.
#include <sys/wait.h>

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

}  // namespace
}  // namespace jobgroup::testing

// Tests of the --http_* flags: defaults, repeated --http_host_limit (also
// from a flag file), and bad values named.
#include "server/kinds/http_flags.h"

#include <cstdio>
#include <fstream>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "gtest/gtest.h"

ABSL_DECLARE_FLAG(std::vector<std::string>, http_allow);
ABSL_DECLARE_FLAG(std::vector<std::string>, http_host_limit);
ABSL_DECLARE_FLAG(int64_t, http_max_per_host);

namespace jobgroup {
namespace {

TEST(HttpFlagsTest, DefaultsDisableHttpJobs) {
  absl::StatusOr<HttpOptions> o = HttpOptionsFromFlags();
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->allow.empty());
  EXPECT_EQ(o->max_inflight, 256);
  EXPECT_EQ(o->max_per_host, 8);
  EXPECT_EQ(o->max_retry_after, absl::Seconds(30));
}

TEST(HttpFlagsTest, EveryHostLimitCountsAlsoFromFlagFiles) {
  std::string file = ::testing::TempDir() + "/http_flags_test.flags";
  std::ofstream(file) << "# limits\n--http_host_limit=c.test=3\n";
  absl::StatusOr<HttpOptions> o = HttpOptionsFromFlags(
      {"--http_host_limit=a.test=1,b.test=2", "--listen=x", "--http_host_limit",
       "d.test=4", "--flagfile=" + file});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host_limits,
            (std::map<std::string, int64_t>{
                {"a.test", 1}, {"b.test", 2}, {"c.test", 3}, {"d.test", 4}}));
  std::remove(file.c_str());
}

TEST(HttpFlagsTest, BadValuesAreNamed) {
  absl::StatusOr<HttpOptions> o =
      HttpOptionsFromFlags({"--http_host_limit=a.test"});
  EXPECT_EQ(o.status().message(),
            "--http_host_limit=a.test: want HOST=N with N a positive "
            "integer, e.g. example.com=4");
  absl::SetFlag(&FLAGS_http_allow, {"ok.test", "bad host"});
  o = HttpOptionsFromFlags();
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(o.status().message().find("--http_allow: bad host pattern"),
            std::string::npos);
  absl::SetFlag(&FLAGS_http_allow, {});
  absl::SetFlag(&FLAGS_http_max_per_host, 0);
  EXPECT_EQ(HttpOptionsFromFlags().status().message(),
            "--http_max_per_host must be positive");
  absl::SetFlag(&FLAGS_http_max_per_host, 8);
}

}  // namespace
}  // namespace jobgroup

// Tests of flags from the environment: which variables count, that a bad
// value is an error naming the variable, and that the command line (or a
// flag file it names) wins over the environment, repeatable flags
// included.
#include "server/flags/env_flags.h"

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/flags/repeated_flag.h"

ABSL_FLAG(absl::Duration, env_test_deadline, absl::Seconds(30), "A duration.");
ABSL_FLAG(int64_t, env_test_count, 1, "A number.");
ABSL_FLAG(std::string, env_test_address, "default", "A string.");
ABSL_FLAG(std::vector<std::string>, env_test_item, {}, "Repeatable.");

namespace jobgroup {
namespace {

using Env = std::map<std::string, std::string>;

std::vector<EnvFlag> FromEnv(const Env& env,
                             const std::vector<std::string>& flags) {
  return EnvironmentFlags("JOBGROUPD_", flags, [&](const char* name) {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(EnvFlagsTest, VariableIsThePrefixAndTheNameInCapitals) {
  EXPECT_EQ(EnvVariableName("JOBGROUPD_", "max_deadline"),
            "JOBGROUPD_MAX_DEADLINE");
  EXPECT_EQ(EnvVariableName("JOBGROUPD_", "http_allow"),
            "JOBGROUPD_HTTP_ALLOW");
}

TEST(EnvFlagsTest, OnlySetVariablesOfKnownFlagsCountAndEmptyIsAValue) {
  const Env env = {{"JOBGROUPD_MAX_DEADLINE", "10m"},
                   {"JOBGROUPD_METRICS_LISTEN", ""},
                   {"JOBGROUPD_SERVICE_HOST", "10.0.0.1"},  // No such flag.
                   {"MAX_DEADLINE", "1s"}};
  std::vector<EnvFlag> got =
      FromEnv(env, {"listen", "max_deadline", "metrics_listen"});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].variable, "JOBGROUPD_MAX_DEADLINE");
  EXPECT_EQ(got[0].flag, "max_deadline");
  EXPECT_EQ(got[0].value, "10m");
  EXPECT_EQ(got[1].variable, "JOBGROUPD_METRICS_LISTEN");
  EXPECT_EQ(got[1].value, "");
}

TEST(EnvFlagsTest, BadValueIsAnErrorNamingTheVariableAndTheFlag) {
  absl::Status s = CheckEnvironmentFlags(
      {{"JOBGROUPD_ENV_TEST_DEADLINE", "env_test_deadline", "soon"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "JOBGROUPD_ENV_TEST_DEADLINE=\"soon\": not a valid value of "
            "--env_test_deadline");
  s = CheckEnvironmentFlags(
      {{"JOBGROUPD_ENV_TEST_COUNT", "env_test_count", "12x"}});
  EXPECT_TRUE(absl::StartsWith(s.message(), "JOBGROUPD_ENV_TEST_COUNT=\"12x\""))
      << s.message();
  s = CheckEnvironmentFlags({{"JOBGROUPD_NO_SUCH", "no_such", "1"}});
  EXPECT_EQ(s.message(), "JOBGROUPD_NO_SUCH: no flag --no_such");
}

TEST(EnvFlagsTest, FlagOnTheCommandLineWinsAndEnvironmentFillsTheRest) {
  const std::vector<EnvFlag> env = {
      {"JOBGROUPD_ENV_TEST_DEADLINE", "env_test_deadline", "10m"},
      {"JOBGROUPD_ENV_TEST_COUNT", "env_test_count", "7"},
      {"JOBGROUPD_ENV_TEST_ADDRESS", "env_test_address", "from-env"}};
  ASSERT_TRUE(CheckEnvironmentFlags(env).ok());
  const std::vector<std::string> args = ArgsWithEnvironment(
      env,
      {"--env_test_count=3", "-env_test_address", "from-flag", "positional"});
  EXPECT_EQ(args, (std::vector<std::string>{
                      "--env_test_deadline=10m", "--env_test_count=3",
                      "-env_test_address", "from-flag", "positional"}));
  std::vector<char*> argv = {const_cast<char*>("program")};
  for (const std::string& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  absl::ParseCommandLine(static_cast<int>(argv.size()), argv.data());
  EXPECT_EQ(absl::GetFlag(FLAGS_env_test_deadline), absl::Minutes(10));
  EXPECT_EQ(absl::GetFlag(FLAGS_env_test_count), 3);
  EXPECT_EQ(absl::GetFlag(FLAGS_env_test_address), "from-flag");
}

TEST(EnvFlagsTest, RepeatableFlagComesFromTheEnvironmentOnlyWhenNotGiven) {
  const std::vector<EnvFlag> env = {
      {"JOBGROUPD_ENV_TEST_ITEM", "env_test_item", "a=1,b=2"}};
  EXPECT_EQ(RepeatedFlagValues(ArgsWithEnvironment(env, {}), "env_test_item"),
            (std::vector<std::string>{"a=1", "b=2"}));
  EXPECT_EQ(
      RepeatedFlagValues(ArgsWithEnvironment(env, {"--env_test_item=c=3",
                                                   "--env_test_item", "d=4"}),
                         "env_test_item"),
      (std::vector<std::string>{"c=3", "d=4"}));
}

TEST(EnvFlagsTest, FlagInAFlagFileWinsToo) {
  const std::string file = ::testing::TempDir() + "/env_flags_test.flags";
  std::ofstream(file) << "# from the file\n--env_test_item=f=1\n";
  const std::vector<EnvFlag> env = {
      {"JOBGROUPD_ENV_TEST_ITEM", "env_test_item", "e=1"},
      {"JOBGROUPD_ENV_TEST_COUNT", "env_test_count", "5"}};
  const std::vector<std::string> args =
      ArgsWithEnvironment(env, {"--flagfile=" + file});
  EXPECT_EQ(args, (std::vector<std::string>{"--env_test_count=5",
                                            "--flagfile=" + file}));
  EXPECT_EQ(RepeatedFlagValues(args, "env_test_item"),
            (std::vector<std::string>{"f=1"}));
  std::remove(file.c_str());
}

TEST(FlagGivenTest, EveryFormCountsAndNothingAfterTheDoubleDash) {
  EXPECT_TRUE(FlagGiven({"--listen=x"}, "listen"));
  EXPECT_TRUE(FlagGiven({"-listen", "x"}, "listen"));
  EXPECT_TRUE(FlagGiven({"--listen="}, "listen"));
  EXPECT_TRUE(FlagGiven({"--noverbose"}, "verbose"));
  EXPECT_FALSE(FlagGiven({"--listen_more=x"}, "listen"));
  EXPECT_FALSE(FlagGiven({"--", "--listen=x"}, "listen"));
  EXPECT_FALSE(FlagGiven({}, "listen"));
}

}  // namespace
}  // namespace jobgroup

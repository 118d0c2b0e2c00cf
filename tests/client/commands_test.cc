// Tests of the jobgroup command line driven through RunCli() against the
// fake server: output formats, exit statuses and one-line errors.
#include "client/commands.h"

#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "jobgroup/v1/jobgroup.pb.h"
#include "tests/client/fake_job_server.h"

namespace jobgroup::client {
namespace {

using ::jobgroup::client::testing::FakeServer;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

struct CliRun {
  int status;
  std::string out;
  std::string err;
};

struct Terminal {
  bool stdout_is_terminal = false;
  bool stderr_is_terminal = false;
  bool no_color = false;
};

CliRun Cli(std::vector<std::string> args, std::string stdin_text = "",
           Terminal terminal = {}) {
  std::istringstream in(stdin_text);
  std::ostringstream out;
  std::ostringstream err;
  Console console;
  console.in = &in;
  console.out = &out;
  console.err = &err;
  console.stdout_is_terminal = terminal.stdout_is_terminal;
  console.stderr_is_terminal = terminal.stderr_is_terminal;
  console.no_color = terminal.no_color;
  const int status = RunCli(args, console);
  return {status, out.str(), err.str()};
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

jobgroup::v1::JobResult ParseResult(const std::string& line) {
  jobgroup::v1::JobResult result;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &result).ok())
      << line;
  return result;
}

class CommandsTest : public ::testing::Test {
 protected:
  FakeServer server_;
  std::string target_ = absl::StrCat("--target=", server_.target());
};

TEST_F(CommandsTest, RunPrintsATableAndSucceeds) {
  CliRun run = Cli({"run", target_, "--kind", "echo", "--count", "3"});
  EXPECT_EQ(run.status, kExitOk) << run.err;
  EXPECT_THAT(run.out, HasSubstr("SUCCEEDED"));
  EXPECT_THAT(run.out, HasSubstr("total"));
  EXPECT_THAT(run.out, HasSubstr("jobs/s"));
  EXPECT_THAT(run.out, HasSubstr("deadline hit"));
  EXPECT_THAT(run.out, Not(HasSubstr("\033[")));
  EXPECT_EQ(run.err, "");
}

TEST_F(CommandsTest, GlobalTargetBeforeTheCommandApplies) {
  CliRun run = Cli({"--target", server_.target(), "run", "--kind", "echo"});
  EXPECT_EQ(run.status, kExitOk) << run.err;
}

TEST_F(CommandsTest, RunJsonlPrintsOneResultPerLineAndNothingElse) {
  CliRun run = Cli({"run", target_, "--kind", "echo", "--payload", "hi",
                    "--count", "4", "--output", "jsonl"});
  EXPECT_EQ(run.status, kExitOk) << run.err;
  const std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 4u);
  for (const std::string& line : lines) {
    EXPECT_THAT(line, HasSubstr("\"outcome\":\"JOB_OUTCOME_SUCCEEDED\""));
    EXPECT_EQ(ParseResult(line).output(), "hi");
  }
  EXPECT_EQ(ParseResult(lines[0]).index(), 0u);
}

TEST_F(CommandsTest, StreamJsonlGivesTheSameResults) {
  CliRun run = Cli({"run", target_, "--kind", "echo", "--count", "5",
                    "--stream", "--output=jsonl"});
  EXPECT_EQ(run.status, kExitOk) << run.err;
  EXPECT_EQ(Lines(run.out).size(), 5u);
}

TEST_F(CommandsTest, FailedJobsExitOneAndAreListed) {
  CliRun run = Cli({"run", target_, "--kind", "fail", "--count", "2"});
  EXPECT_EQ(run.status, kExitJobsNotSucceeded);
  EXPECT_THAT(run.out, HasSubstr("jobs that did not succeed"));
  EXPECT_THAT(run.out, HasSubstr("asked to fail"));
}

TEST_F(CommandsTest, ColourOnlyOnATerminalWithoutNoColor) {
  Terminal tty;
  tty.stdout_is_terminal = true;
  CliRun coloured =
      Cli({"run", target_, "--kind", "fail", "--count", "1"}, "", tty);
  EXPECT_THAT(coloured.out, HasSubstr("\033["));
  tty.no_color = true;
  CliRun plain =
      Cli({"run", target_, "--kind", "fail", "--count", "1"}, "", tty);
  EXPECT_THAT(plain.out, Not(HasSubstr("\033[")));
}

TEST_F(CommandsTest, RunReadsJobsFromStdin) {
  CliRun run = Cli({"run", target_, "--jobs-file", "-", "--output", "jsonl"},
                   "{\"id\":\"a\",\"kind\":\"echo\"}\n\n{\"id\":\"b\","
                   "\"kind\":\"echo\"}\n");
  EXPECT_EQ(run.status, kExitOk) << run.err;
  const std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(ParseResult(lines[1]).id(), "b");
}

TEST_F(CommandsTest, BadJobsLineExitsTwoNamingTheLine) {
  CliRun run = Cli({"run", target_, "--jobs-file", "-"},
                   "{\"kind\":\"echo\"}\n\n{\"kind\":\n");
  EXPECT_EQ(run.status, kExitUsageOrConnection);
  EXPECT_THAT(run.err, StartsWith("jobgroup run: stdin line 3: "));
  EXPECT_EQ(Lines(run.err).size(), 1u);
  EXPECT_EQ(server_.service().calls.load(), 0);
}

TEST_F(CommandsTest, EmptyJobsFileIsAnError) {
  CliRun run = Cli({"run", target_, "--jobs-file", "-"}, "\n\n");
  EXPECT_EQ(run.status, kExitUsageOrConnection);
  EXPECT_THAT(run.err, HasSubstr("no jobs in stdin"));
}

TEST_F(CommandsTest, MissingJobsFileIsAnError) {
  CliRun run = Cli({"run", target_, "--jobs-file", "/nonexistent/jobs.jsonl"});
  EXPECT_EQ(run.status, kExitUsageOrConnection);
  EXPECT_THAT(run.err, HasSubstr("--jobs-file: cannot open"));
}

TEST_F(CommandsTest, ProcessStreamsStdinToJsonl) {
  std::string input;
  for (int i = 0; i < 1000; ++i) {
    absl::StrAppend(&input, "{\"id\":\"j", i, "\",\"kind\":\"echo\"}\n");
  }
  CliRun run = Cli({"process", target_, "--jobs-file", "-"}, input);
  EXPECT_EQ(run.status, kExitOk) << run.err;
  const std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 1000u);
  EXPECT_EQ(ParseResult(lines[999]).id(), "j999");
}

TEST_F(CommandsTest, ProcessGeneratedJobsWithTable) {
  CliRun run = Cli({"process", target_, "--kind", "echo", "--count", "300",
                    "--output", "table"});
  EXPECT_EQ(run.status, kExitOk) << run.err;
  EXPECT_THAT(run.out, HasSubstr("300"));
}

TEST_F(CommandsTest, ProcessBadLineCancelsAndNamesTheLine) {
  CliRun run = Cli({"process", target_, "--jobs-file", "-"},
                   "{\"kind\":\"echo\"}\n{\"kind\":\"echo\"}\nnope\n");
  EXPECT_EQ(run.status, kExitUsageOrConnection);
  EXPECT_THAT(run.err, StartsWith("jobgroup process: stdin line 3: "));
  EXPECT_EQ(Lines(run.err).size(), 1u);
}

TEST_F(CommandsTest, InfoAndJson) {
  CliRun text = Cli({"info", target_});
  EXPECT_EQ(text.status, kExitOk) << text.err;
  EXPECT_THAT(text.out, StartsWith("jobgroupd fake at "));
  CliRun json = Cli({"info", target_, "--output", "json"});
  EXPECT_EQ(json.status, kExitOk) << json.err;
  jobgroup::v1::GetServerInfoResponse info;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(json.out, &info).ok());
  EXPECT_EQ(info.version(), "fake");
}

TEST_F(CommandsTest, HealthPrintsServingAndExitsZero) {
  CliRun serving = Cli({"health", target_});
  EXPECT_EQ(serving.status, kExitOk) << serving.err;
  EXPECT_EQ(serving.out, "SERVING\n");
  server_.server().GetHealthCheckService()->SetServingStatus(false);
  CliRun not_serving = Cli({"health", target_});
  EXPECT_EQ(not_serving.status, kExitJobsNotSucceeded);
  EXPECT_EQ(not_serving.out, "NOT_SERVING\n");
}

TEST(CommandsNoServerTest, UnreachableServerExitsTwoWithOneLine) {
  std::string target;
  {
    FakeServer gone;
    target = gone.target();
  }
  for (const char* command : {"run", "process", "info", "health"}) {
    std::vector<std::string> args = {command, "--target", target};
    if (std::string(command) == "run" || std::string(command) == "process") {
      args.push_back("--kind=echo");
    }
    CliRun run = Cli(args);
    EXPECT_EQ(run.status, kExitUsageOrConnection) << command;
    EXPECT_EQ(Lines(run.err).size(), 1u) << run.err;
    EXPECT_THAT(run.err,
                HasSubstr(absl::StrCat("jobgroup ", command,
                                       ": cannot reach jobgroupd at ", target,
                                       ": connection refused")));
    EXPECT_EQ(run.out, "") << command;
  }
}

TEST(CommandsNoServerTest, HelpForEveryCommandHasUsageAndExamples) {
  CliRun top = Cli({"--help"});
  EXPECT_EQ(top.status, kExitOk);
  EXPECT_THAT(top.out, HasSubstr("Usage: jobgroup"));
  for (const char* command : {"run", "process", "info", "health"}) {
    CliRun help = Cli({command, "--help"});
    EXPECT_EQ(help.status, kExitOk) << command;
    EXPECT_THAT(help.out, HasSubstr(absl::StrCat("Usage: jobgroup ", command)));
    EXPECT_THAT(help.out, HasSubstr("Examples:"));
    EXPECT_THAT(help.out, HasSubstr("--target HOST:PORT"));
    EXPECT_EQ(Cli({"help", command}).out, help.out);
  }
  EXPECT_THAT(Cli({"version", "--help"}).out,
              HasSubstr("Usage: jobgroup version"));
}

TEST(CommandsNoServerTest, UsageErrorsExitTwoNamingTheFlag) {
  CliRun run = Cli({"run", "--kind", "sleep", "--deadline", "30"});
  EXPECT_EQ(run.status, kExitUsageOrConnection);
  EXPECT_THAT(run.err, StartsWith("jobgroup run: --deadline: "));
  EXPECT_THAT(run.err, HasSubstr("'jobgroup run --help'"));
  EXPECT_EQ(Lines(run.err).size(), 1u);

  EXPECT_EQ(Cli({}).status, kExitUsageOrConnection);
  EXPECT_EQ(Cli({"frobnicate"}).status, kExitUsageOrConnection);
  EXPECT_EQ(Cli({"--kind", "x", "run"}).status, kExitUsageOrConnection);
  EXPECT_EQ(Cli({"info", "--output", "yaml"}).status, kExitUsageOrConnection);
}

TEST(CommandsNoServerTest, VersionPrintsTheClientVersion) {
  CliRun run = Cli({"version"});
  EXPECT_EQ(run.status, kExitOk);
  EXPECT_THAT(run.out, StartsWith("jobgroup "));
  EXPECT_THAT(run.out, HasSubstr("gRPC "));
  EXPECT_EQ(Cli({"--target", "x:1", "version"}).status, kExitOk);
}

}  // namespace
}  // namespace jobgroup::client

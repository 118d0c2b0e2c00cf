// Tests of the jobgroup command line driven through RunCli() against the
// fake server: output formats, exit statuses and one-line errors.
#include "client/commands.h"

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/call_canceller.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
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
           Terminal terminal = {}, CallCanceller* interrupt = nullptr) {
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
  console.interrupt = interrupt;
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
  // The name and version the server sends.
  EXPECT_THAT(text.out, StartsWith("fake-jobgroupd fake at "));
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

// Item: whenever the exit status is not 0, one line on stderr says why,
// terminal or not, whatever the output format; --quiet silences it.
TEST_F(CommandsTest, NonZeroExitSaysWhyInOneLineWithoutATerminal) {
  for (const char* output : {"table", "wide", "json", "jsonl"}) {
    CliRun run = Cli({"run", target_, "--jobs-file", "-", "-o", output},
                     "{\"kind\":\"fail\"}\n{\"kind\":\"echo\"}\n"
                     "{\"kind\":\"fail\"}\n");
    EXPECT_EQ(run.status, kExitJobsNotSucceeded) << output;
    EXPECT_EQ(run.err,
              "jobgroup run: 2 of 3 jobs did not succeed (1 succeeded, 2 "
              "failed)\n")
        << output;
  }
}

TEST_F(CommandsTest, QuietSilencesTheLineButNotTheExitStatus) {
  for (const char* quiet : {"--quiet", "-q"}) {
    CliRun run = Cli({"run", target_, "--kind", "fail", quiet});
    EXPECT_EQ(run.status, kExitJobsNotSucceeded);
    EXPECT_EQ(run.err, "") << quiet;
  }
  // Usage errors are still said.
  CliRun bad = Cli({"run", target_, "--kind", "echo", "-q", "-o", "yaml"});
  EXPECT_EQ(bad.status, kExitUsageOrConnection);
  EXPECT_THAT(bad.err, HasSubstr("--output: \"yaml\" is not table, wide, "
                                 "json or jsonl"));
}

TEST_F(CommandsTest, SuccessIsSilentOnStderrWithoutATerminal) {
  for (const char* output : {"table", "json", "jsonl"}) {
    CliRun run = Cli({"run", target_, "--kind", "echo", "-o", output});
    EXPECT_EQ(run.status, kExitOk) << output;
    EXPECT_EQ(run.err, "") << output;
  }
}

// Item 5: the spinner of a non-streamed run is for a terminal only; a
// script reading stderr never gets its carriage returns and escapes, even
// from a call long enough for it to draw.
TEST_F(CommandsTest, ASlowRunDrawsNoSpinnerWithoutATerminalOrWithQuiet) {
  server_.service().run_batch_delay = absl::Milliseconds(500);
  CliRun piped = Cli({"run", target_, "--kind", "echo", "--count", "2"});
  EXPECT_EQ(piped.status, kExitOk) << piped.err;
  EXPECT_EQ(piped.err, "");
  CliRun quiet = Cli({"run", target_, "--kind", "echo", "-q"}, "",
                     Terminal{.stderr_is_terminal = true});
  EXPECT_EQ(quiet.status, kExitOk) << quiet.err;
  EXPECT_EQ(quiet.err, "");
}

// On a terminal the spinner goes to stderr and is erased before the
// summary; whether it drew a frame depends on the machine's speed, so the
// test asserts only what holds either way.
TEST_F(CommandsTest, TheSpinnerIsOnStderrAndErasedBeforeTheSummary) {
  server_.service().run_batch_delay = absl::Milliseconds(500);
  CliRun run = Cli({"run", target_, "--kind", "echo", "--count", "2"}, "",
                   Terminal{.stderr_is_terminal = true});
  EXPECT_EQ(run.status, kExitOk) << run.err;
  EXPECT_THAT(run.out, StartsWith("outcome"));
  EXPECT_EQ(run.out.find('\r'), std::string::npos);
  if (!run.err.empty()) {
    EXPECT_THAT(run.err, HasSubstr("running 2 jobs"));
    EXPECT_THAT(run.err, ::testing::EndsWith("\r\033[K"));
  }
}

// Parses `text` as one JSON document (an object).
google::protobuf::Struct ParseDocument(const std::string& text) {
  google::protobuf::Struct doc;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &doc).ok())
      << text;
  return doc;
}

double Number(const google::protobuf::Struct& doc, const std::string& key) {
  return doc.fields().at(key).number_value();
}

TEST_F(CommandsTest, RunJsonIsOneDocumentWithTheSummary) {
  CliRun run = Cli({"run", target_, "--kind", "echo", "--count", "3",
                    "--deadline", "20s", "-o", "json"});
  EXPECT_EQ(run.status, kExitOk) << run.err;
  EXPECT_EQ(Lines(run.out).size(), 1u) << run.out;
  google::protobuf::Struct doc = ParseDocument(run.out);
  EXPECT_FALSE(doc.fields().contains("results"));
  jobgroup::v1::BatchSummary summary;
  std::string summary_json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(
                  doc.fields().at("summary"), &summary_json)
                  .ok());
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(summary_json, &summary).ok());
  EXPECT_EQ(summary.total(), 3u);
  EXPECT_EQ(summary.succeeded(), 3u);
  EXPECT_EQ(Number(doc, "resultsReceived"), 3);
  EXPECT_EQ(Number(doc, "jobsSent"), 3);
  EXPECT_EQ(Number(doc, "jobsNotRun"), 0);
  EXPECT_EQ(Number(doc, "exitStatus"), 0);
  EXPECT_EQ(doc.fields().at("reason").string_value(), "");
  EXPECT_EQ(doc.fields().at("command").string_value(), "run");
  const auto& deadline = doc.fields().at("deadline").struct_value();
  EXPECT_EQ(deadline.fields().at("source").string_value(), "flag");
  EXPECT_EQ(deadline.fields().at("seconds").number_value(), 20);
  EXPECT_FALSE(deadline.fields().at("hit").bool_value());
  EXPECT_EQ(doc.fields()
                .at("callStatus")
                .struct_value()
                .fields()
                .at("code")
                .string_value(),
            "OK");
}

TEST_F(CommandsTest, JsonWithResultsCarriesEveryResultInTheDocument) {
  for (const char* stream : {"--stream=false", "--stream"}) {
    CliRun run = Cli({"run", target_, "--kind", "echo", "--payload", "hi",
                      "--count", "4", "-ojson", "--results", stream});
    EXPECT_EQ(run.status, kExitOk) << run.err;
    google::protobuf::Struct doc = ParseDocument(run.out);
    const auto& results = doc.fields().at("results").list_value();
    ASSERT_EQ(results.values_size(), 4);
    std::string first;
    ASSERT_TRUE(
        google::protobuf::util::MessageToJsonString(results.values(0), &first)
            .ok());
    EXPECT_EQ(ParseResult(first).output(), "hi");
  }
  CliRun process = Cli({"process", target_, "--kind", "fail", "--count", "2",
                        "--policy", "collect-all", "-o=json", "--results"});
  EXPECT_EQ(process.status, kExitJobsNotSucceeded);
  google::protobuf::Struct doc = ParseDocument(process.out);
  EXPECT_EQ(doc.fields().at("results").list_value().values_size(), 2);
  EXPECT_EQ(Number(doc, "exitStatus"), 1);
  EXPECT_EQ(doc.fields().at("reason").string_value() + "\n", process.err);
}

TEST_F(CommandsTest, ResultsNeedJson) {
  CliRun run = Cli({"run", target_, "--kind", "echo", "--results"});
  EXPECT_EQ(run.status, kExitUsageOrConnection);
  EXPECT_THAT(run.err, HasSubstr("--results is for -o json"));
}

TEST_F(CommandsTest, WideHasOneRowPerResultThenTheTable) {
  CliRun run = Cli({"run", target_, "--kind", "echo", "--payload", "abc",
                    "--count", "3", "-o", "wide"});
  EXPECT_EQ(run.status, kExitOk) << run.err;
  const std::vector<std::string> lines = Lines(run.out);
  ASSERT_GE(lines.size(), 5u);
  EXPECT_THAT(lines[0], StartsWith("INDEX"));
  for (int i = 1; i <= 3; ++i) {
    EXPECT_THAT(lines[i], StartsWith(absl::StrCat(i - 1)));
    EXPECT_THAT(lines[i], HasSubstr("SUCCEEDED"));
    EXPECT_THAT(lines[i], HasSubstr("\"abc\" (3 bytes)"));
  }
  EXPECT_THAT(run.out, HasSubstr("deadline hit"));
}

// Item 4: --payload is text, --payload-file any bytes; -o wide shows an
// output as text when it is UTF-8, base64 otherwise.
TEST_F(CommandsTest, PayloadFileSendsTheFileBytesAsTheyAre) {
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/payload_file_test.bin");
  const std::string bytes("\x00\x01\xffhi\n", 6);
  {
    std::ofstream file(path, std::ios::binary);
    file << bytes;
  }
  CliRun jsonl = Cli({"run", target_, "--kind", "echo", "--payload-file", path,
                      "-o", "jsonl"});
  ASSERT_EQ(jsonl.status, kExitOk) << jsonl.err;
  ASSERT_EQ(Lines(jsonl.out).size(), 1u);
  EXPECT_EQ(ParseResult(Lines(jsonl.out)[0]).output(), bytes);
  CliRun wide = Cli(
      {"run", target_, "--kind", "echo", "--payload-file", path, "-o", "wide"});
  EXPECT_THAT(wide.out, HasSubstr("base64:AAH/aGkK (6 bytes, not UTF-8)"));
  CliRun text = Cli({"run", target_, "--kind", "echo", "--payload",
                     "line 1\nline 2", "-o", "wide"});
  EXPECT_THAT(text.out, HasSubstr("\"line 1\\nline 2\" (13 bytes)"));

  CliRun both = Cli({"run", target_, "--kind", "echo", "--payload", "x",
                     "--payload-file", path});
  EXPECT_EQ(both.status, kExitUsageOrConnection);
  EXPECT_THAT(both.err, HasSubstr("--payload and --payload-file"));
  CliRun missing = Cli({"run", target_, "--kind", "echo", "--payload-file",
                        "/nonexistent/payload"});
  EXPECT_EQ(missing.status, kExitUsageOrConnection);
  EXPECT_THAT(
      missing.err,
      HasSubstr("--payload-file: cannot open \"/nonexistent/payload\""));
}

// Item 4: --decode-outputs adds "outputText" after protobuf's members and
// leaves them, base64 "output" included, byte for byte as
// MessageToJsonString writes them.
TEST_F(CommandsTest, DecodeOutputsAddsTextAndKeepsProtobufsBytes) {
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/decode_outputs_test.jsonl");
  {
    std::ofstream file(path);
    file << "{\"kind\":\"echo\",\"payload\":\""
         << "aMOpIAoiPHRhYj4iCQ=="  // "hé \n\"<tab>\"\t"
         << "\"}\n{\"kind\":\"echo\",\"payload\":\"AP8=\"}\n"
         << "{\"kind\":\"fail\",\"params\":{\"message\":\"no\"}}\n";
  }
  CliRun run = Cli({"run", target_, "--jobs-file", path, "--policy",
                    "collect-all", "-o", "jsonl", "--decode-outputs"});
  ASSERT_EQ(run.status, kExitJobsNotSucceeded) << run.err;
  const std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 3u);
  const std::string texts[] = {"\"h\xc3\xa9 \\n\\\"\\u003ctab\\u003e\\\"\\t\"",
                               "null", R"("")"};
  google::protobuf::util::JsonPrintOptions print;
  print.always_print_primitive_fields = true;
  for (size_t i = 0; i < 3; ++i) {
    const std::string suffix = absl::StrCat(",\"outputText\":", texts[i], "}");
    ASSERT_THAT(lines[i], ::testing::EndsWith(suffix)) << lines[i];
    const std::string protobuf_part =
        lines[i].substr(0, lines[i].size() - suffix.size()) + "}";
    std::string expected;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(
                    ParseResult(protobuf_part), &expected, print)
                    .ok());
    EXPECT_EQ(protobuf_part, expected);
  }
  CliRun wide =
      Cli({"run", target_, "--kind", "echo", "-o", "wide", "--decode-outputs"});
  EXPECT_EQ(wide.status, kExitUsageOrConnection);
  EXPECT_THAT(wide.err, HasSubstr("--decode-outputs is for -o jsonl"));
}

// Item: a Process call the server ends at its deadline says which deadline
// and how many jobs were sent but not run and never sent.
TEST_F(CommandsTest, ProcessDeadlineSaysWhichOneAndWhatWasNotSent) {
  server_.service().stop_after_messages = 1;
  server_.service().stop_code = grpc::StatusCode::DEADLINE_EXCEEDED;
  CliRun run = Cli({"process", target_, "--kind", "echo", "--count", "100000",
                    "-o", "json"});
  EXPECT_EQ(run.status, kExitJobsNotSucceeded) << run.err;
  ASSERT_EQ(Lines(run.err).size(), 1u) << run.err;
  EXPECT_THAT(run.err, StartsWith("jobgroup process: "));
  // How many were sent before the server stopped depends on flow control;
  // that they add up does not.
  EXPECT_THAT(run.err, HasSubstr(" of the 100000 jobs were not run ("));
  EXPECT_THAT(run.err, HasSubstr("deadline hit: the server's longest deadline, "
                                 "--max_deadline (10m)"));
  google::protobuf::Struct doc = ParseDocument(run.out);
  const double received = Number(doc, "resultsReceived");
  const double sent = Number(doc, "jobsSent");
  const double not_sent = Number(doc, "jobsNotSent");
  EXPECT_GT(received, 0);
  EXPECT_EQ(sent + not_sent, 100000);
  EXPECT_EQ(Number(doc, "jobsNotRun"), 100000 - received);
  const auto& deadline = doc.fields().at("deadline").struct_value();
  EXPECT_EQ(deadline.fields().at("source").string_value(), "server-max");
  EXPECT_EQ(deadline.fields().at("seconds").number_value(), 600);
  EXPECT_TRUE(deadline.fields().at("hit").bool_value());
  EXPECT_EQ(doc.fields()
                .at("callStatus")
                .struct_value()
                .fields()
                .at("code")
                .string_value(),
            "DEADLINE_EXCEEDED");
}

TEST_F(CommandsTest, ProcessFromStdinSaysTheRestOfTheInputWasNotSent) {
  server_.service().stop_after_messages = 1;
  server_.service().stop_code = grpc::StatusCode::DEADLINE_EXCEEDED;
  std::string input;
  for (int i = 0; i < 50000; ++i) input += "{\"kind\":\"echo\"}\n";
  CliRun run = Cli({"process", target_, "--jobs-file", "-", "--deadline", "1m",
                    "-o", "table"},
                   input);
  EXPECT_EQ(run.status, kExitJobsNotSucceeded);
  ASSERT_EQ(Lines(run.err).size(), 1u) << run.err;
  EXPECT_THAT(run.err, HasSubstr("jobs sent were not run, nor the rest of the "
                                 "input"));
  EXPECT_THAT(run.err, HasSubstr("deadline hit: --deadline 1m"));
  EXPECT_THAT(run.out, HasSubstr("not run"));
}

TEST_F(CommandsTest, ProcessAsksForTheLongestDeadlineUnlessGivenOne) {
  CliRun run = Cli({"process", target_, "--kind", "echo"});
  EXPECT_EQ(run.status, kExitOk) << run.err;
  {
    absl::MutexLock lock(&server_.service().mu);
    // 24 hours, give or take gRPC's rounding of deadlines.
    EXPECT_GT(server_.service().process_deadline_left, absl::Hours(23));
    EXPECT_LT(server_.service().process_deadline_left, absl::Hours(25));
  }
  run = Cli({"process", target_, "--kind", "echo", "--deadline", "90s"});
  EXPECT_EQ(run.status, kExitOk) << run.err;
  absl::MutexLock lock(&server_.service().mu);
  EXPECT_LT(server_.service().process_deadline_left, absl::Minutes(2));
}

TEST_F(CommandsTest, InfoTakesTheSameOutputFlag) {
  for (const char* spelling : {"-o", "--output"}) {
    CliRun json = Cli({"info", target_, spelling, "json"});
    EXPECT_EQ(json.status, kExitOk) << json.err;
    jobgroup::v1::GetServerInfoResponse info;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(json.out, &info).ok());
  }
  // "text" is the old spelling of table.
  EXPECT_EQ(Cli({"info", target_, "-o", "text"}).out,
            Cli({"info", target_, "-o", "table"}).out);
  CliRun bad = Cli({"info", target_, "-o", "jsonl"});
  EXPECT_EQ(bad.status, kExitUsageOrConnection);
  EXPECT_THAT(bad.err, HasSubstr("is not table or json"));
}

TEST_F(CommandsTest, HealthNotServingSaysSoOnStderr) {
  server_.server().GetHealthCheckService()->SetServingStatus(false);
  CliRun run = Cli({"health", target_});
  EXPECT_EQ(run.status, kExitJobsNotSucceeded);
  EXPECT_EQ(run.err, absl::StrCat("jobgroup health: the server at ",
                                  server_.target(), " is NOT_SERVING\n"));
  EXPECT_EQ(Cli({"health", target_, "-q"}).err, "");
}

// Item: Ctrl-C (the console's interrupt) cancels the call, prints what
// arrived and the summary, and exits 130.
TEST_F(CommandsTest, InterruptedCallPrintsTheSummaryAndExits130) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"run", "--kind", "echo", "--count", "5"},
        {"run", "--stream", "--kind", "echo", "--count", "5"},
        {"process", "--kind", "echo", "--count", "5", "-o", "table"}}) {
    args.push_back(target_);
    CallCanceller interrupt;
    // Ctrl-C before the call: it is cancelled as it starts.
    interrupt.Cancel();
    CliRun run = Cli(args, "", {}, &interrupt);
    EXPECT_EQ(run.status, kExitInterrupted) << args[0] << " " << run.err;
    EXPECT_THAT(run.out, HasSubstr("total")) << args[0];
    ASSERT_EQ(Lines(run.err).size(), 1u) << run.err;
    EXPECT_THAT(run.err, StartsWith(absl::StrCat("jobgroup ", args[0],
                                                 ": interrupted (Ctrl-C): ")));
  }
}

TEST_F(CommandsTest, InterruptDuringProcessKeepsTheResultsReceived) {
  server_.service().stop_after_messages = 1;
  server_.service().stall = absl::Seconds(2);
  CallCanceller interrupt;
  std::thread ctrl_c([&] {
    // Once the call is there, whatever it delivered so far.
    while (server_.service().calls.load() == 0)
      absl::SleepFor(absl::Milliseconds(1));
    interrupt.Cancel();
  });
  CliRun run = Cli({"process", target_, "--kind", "echo", "--count", "100000"},
                   "", {}, &interrupt);
  ctrl_c.join();
  EXPECT_EQ(run.status, kExitInterrupted) << run.err;
  ASSERT_EQ(Lines(run.err).size(), 1u) << run.err;
  EXPECT_THAT(run.err, HasSubstr("interrupted (Ctrl-C): "));
  EXPECT_THAT(run.err, HasSubstr(" of the 100000 jobs were not run ("));
  // Every line printed is a whole result.
  for (const std::string& line : Lines(run.out)) ParseResult(line);
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

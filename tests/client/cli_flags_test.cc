// Tests of the CLI's flag parsing: forms accepted, and errors that name the
// flag.
#include "client/cli_flags.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/run_options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jobgroup::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

FlagParser TestParser() {
  FlagParser parser("jobgroup test");
  parser.Value("count", "N", "how many")
      .Value("max-concurrency", "N", "cap")
      .Repeated("param", "KEY=VALUE", "parameter")
      .Bool("stream", "stream results");
  return parser;
}

absl::StatusOr<ParsedFlags> Parse(const FlagParser& parser,
                                  std::vector<std::string> args) {
  return parser.Parse(args);
}

TEST(FlagParserTest, AcceptsSpaceAndEqualsForms) {
  absl::StatusOr<ParsedFlags> flags =
      Parse(TestParser(), {"--count", "5", "--max-concurrency=7"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->Get("count"), "5");
  EXPECT_EQ(flags->Get("max-concurrency"), "7");
  EXPECT_FALSE(flags->Has("stream"));
  EXPECT_EQ(flags->Get("stream", "dflt"), "dflt");
}

TEST(FlagParserTest, ValueMayStartWithADashOrBeEmpty) {
  absl::StatusOr<ParsedFlags> flags =
      Parse(TestParser(), {"--count", "-3", "--param="});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->Get("count"), "-3");
  EXPECT_THAT(flags->GetAll("param"), ElementsAre(""));
}

TEST(FlagParserTest, RepeatedFlagKeepsEveryValueInOrder) {
  absl::StatusOr<ParsedFlags> flags =
      Parse(TestParser(), {"--param", "ms=5", "--param=k=v", "--param", "a=b"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_THAT(flags->GetAll("param"), ElementsAre("ms=5", "k=v", "a=b"));
}

TEST(FlagParserTest, LastValueWins) {
  absl::StatusOr<ParsedFlags> flags =
      Parse(TestParser(), {"--count", "1", "--count=2"});
  ASSERT_TRUE(flags.ok());
  EXPECT_EQ(flags->Get("count"), "2");
}

TEST(FlagParserTest, BooleanForms) {
  EXPECT_TRUE(Parse(TestParser(), {"--stream"})->GetBool("stream"));
  EXPECT_TRUE(Parse(TestParser(), {"--stream=true"})->GetBool("stream"));
  EXPECT_FALSE(Parse(TestParser(), {"--stream=false"})->GetBool("stream"));
  // A switch does not swallow the next word.
  absl::StatusOr<ParsedFlags> flags = Parse(TestParser(), {"--stream", "x"});
  ASSERT_TRUE(flags.ok());
  EXPECT_TRUE(flags->GetBool("stream"));
  EXPECT_THAT(flags->positional(), ElementsAre("x"));
}

TEST(FlagParserTest, BadBooleanNamesTheFlag) {
  absl::StatusOr<ParsedFlags> flags = Parse(TestParser(), {"--stream=maybe"});
  ASSERT_FALSE(flags.ok());
  EXPECT_THAT(flags.status().message(), HasSubstr("--stream"));
  EXPECT_THAT(flags.status().message(), HasSubstr("maybe"));
}

TEST(FlagParserTest, UnknownFlagIsNamedWithHelpHint) {
  absl::StatusOr<ParsedFlags> flags = Parse(TestParser(), {"--bogus", "1"});
  ASSERT_FALSE(flags.ok());
  EXPECT_EQ(flags.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(flags.status().message(), HasSubstr("unknown flag --bogus"));
  EXPECT_THAT(flags.status().message(), HasSubstr("'jobgroup test --help'"));
}

TEST(FlagParserTest, UnderscoreSpellingSuggestsTheDashedFlag) {
  absl::StatusOr<ParsedFlags> flags =
      Parse(TestParser(), {"--max_concurrency=3"});
  ASSERT_FALSE(flags.ok());
  EXPECT_THAT(flags.status().message(),
              HasSubstr("did you mean --max-concurrency?"));
}

TEST(FlagParserTest, ShortAliasesTakeEveryForm) {
  FlagParser parser("jobgroup test");
  parser.Value("output", "FORMAT", "format")
      .Short('o', "output")
      .Bool("quiet", "quiet")
      .Short('q', "quiet");
  for (std::vector<std::string> args : {std::vector<std::string>{"-o", "json"},
                                        {"-ojson"},
                                        {"-o=json"},
                                        {"--output", "json"}}) {
    absl::StatusOr<ParsedFlags> flags = Parse(parser, args);
    ASSERT_TRUE(flags.ok()) << flags.status();
    EXPECT_EQ(flags->Get("output"), "json") << args[0];
  }
  absl::StatusOr<ParsedFlags> quiet = Parse(parser, {"-q"});
  ASSERT_TRUE(quiet.ok()) << quiet.status();
  EXPECT_TRUE(quiet->GetBool("quiet"));
  EXPECT_THAT(Parse(parser, {"-qx"}).status().message(),
              HasSubstr("-q is a switch"));
  EXPECT_THAT(Parse(parser, {"-o"}).status().message(),
              HasSubstr("--output needs a value"));
  EXPECT_THAT(parser.FlagsHelp(), HasSubstr("-o, --output FORMAT"));
}

TEST(FlagParserTest, SingleDashFlagIsRejected) {
  absl::StatusOr<ParsedFlags> flags = Parse(TestParser(), {"-count", "3"});
  ASSERT_FALSE(flags.ok());
  EXPECT_THAT(flags.status().message(), HasSubstr("-count"));
}

TEST(FlagParserTest, MissingValueNamesTheFlagAndItsValue) {
  absl::StatusOr<ParsedFlags> flags = Parse(TestParser(), {"--count"});
  ASSERT_FALSE(flags.ok());
  EXPECT_THAT(flags.status().message(),
              HasSubstr("--count needs a value (--count N)"));
}

TEST(FlagParserTest, HelpAndPositionalAndDoubleDash) {
  absl::StatusOr<ParsedFlags> flags =
      Parse(TestParser(), {"a", "-h", "-", "--", "--count"});
  ASSERT_TRUE(flags.ok());
  EXPECT_TRUE(flags->help());
  EXPECT_THAT(flags->positional(), ElementsAre("a", "-", "--count"));
  EXPECT_FALSE(flags->Has("count"));
}

TEST(FlagParserTest, HelpListsEveryFlag) {
  const std::string help = TestParser().FlagsHelp();
  EXPECT_THAT(help, HasSubstr("--count N"));
  EXPECT_THAT(help, HasSubstr("--param KEY=VALUE"));
  EXPECT_THAT(help, HasSubstr("(repeatable)"));
  EXPECT_THAT(help, HasSubstr("--stream"));
}

TEST(ParseUintFlagTest, ParsesAndBoundsWholeNumbers) {
  EXPECT_EQ(*ParseUintFlag("count", "50000"), 50000u);
  EXPECT_EQ(*ParseUintFlag("count", "0"), 0u);
  EXPECT_THAT(ParseUintFlag("batch-size", "abc").status().message(),
              HasSubstr("--batch-size: \"abc\" is not a whole number"));
  EXPECT_THAT(ParseUintFlag("batch-size", "-1").status().message(),
              HasSubstr("--batch-size"));
  EXPECT_THAT(ParseUintFlag("batch-size", "1.5").status().message(),
              HasSubstr("--batch-size"));
  EXPECT_THAT(
      ParseUintFlag("batch-size", "4294967296", UINT32_MAX).status().message(),
      HasSubstr("--batch-size: 4294967296 is too large"));
  EXPECT_THAT(
      ParseUintFlag("count", "99999999999999999999999").status().message(),
      HasSubstr("--count"));
}

// RunOptionsFromFlags(): the flags of `jobgroup run` and `jobgroup process`.

absl::StatusOr<RunOptions> RunFlags(std::vector<std::string> args,
                                    RunMode mode = RunMode::kRun) {
  FlagParser parser("jobgroup run");
  AddRunFlags(parser, mode);
  absl::StatusOr<ParsedFlags> flags = parser.Parse(args);
  if (!flags.ok()) return flags.status();
  return RunOptionsFromFlags(*flags, mode);
}

TEST(RunOptionsTest, BuildsTheJobTemplateAndBatchOptions) {
  absl::StatusOr<RunOptions> options = RunFlags(
      {"--kind",          "sleep",        "--count",  "50000",
       "--param",         "ms=5",         "--param",  "k=v=w",
       "--backend=db",    "--payload",    "hi",       "--timeout",
       "250ms",           "--batch-size", "100",      "--max-concurrency=8",
       "--deadline",      "1m30s",        "--policy", "collect-all",
       "--stream",        "--output",     "jsonl",    "--target",
       "dns:///example:1"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->job.kind(), "sleep");
  EXPECT_EQ(options->count, 50000u);
  EXPECT_EQ(options->job.params().at("ms"), "5");
  EXPECT_EQ(options->job.params().at("k"), "v=w");
  EXPECT_EQ(options->job.backend(), "db");
  EXPECT_EQ(options->job.payload(), "hi");
  EXPECT_EQ(options->job.timeout().seconds(), 0);
  EXPECT_EQ(options->job.timeout().nanos(), 250000000);
  EXPECT_EQ(options->batch.batch_size(), 100u);
  EXPECT_EQ(options->batch.max_concurrency(), 8u);
  EXPECT_EQ(options->batch.failure_policy(),
            jobgroup::v1::FAILURE_POLICY_COLLECT_ALL);
  EXPECT_EQ(options->deadline, absl::Seconds(90));
  EXPECT_TRUE(options->stream);
  EXPECT_EQ(options->output, OutputFormat::kJsonl);
  EXPECT_EQ(options->client.target, "dns:///example:1");
  EXPECT_EQ(options->client.max_message_bytes, 256 * 1024 * 1024);
}

TEST(RunOptionsTest, DefaultsDifferByCommand) {
  absl::StatusOr<RunOptions> run = RunFlags({"--kind", "echo"});
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->count, 1u);
  EXPECT_EQ(run->output, OutputFormat::kTable);
  EXPECT_FALSE(run->deadline.has_value());
  EXPECT_FALSE(run->stream);
  absl::StatusOr<RunOptions> process =
      RunFlags({"--jobs-file", "-"}, RunMode::kProcess);
  ASSERT_TRUE(process.ok());
  EXPECT_EQ(process->output, OutputFormat::kJsonl);
  EXPECT_EQ(process->jobs_file, "-");
}

TEST(RunOptionsTest, ProcessHasNoStreamFlag) {
  absl::StatusOr<RunOptions> options =
      RunFlags({"--kind", "echo", "--stream"}, RunMode::kProcess);
  ASSERT_FALSE(options.ok());
  EXPECT_THAT(options.status().message(), HasSubstr("--stream"));
}

struct BadFlagCase {
  std::vector<std::string> args;
  std::string expected;
};

class RunOptionsErrorTest : public ::testing::TestWithParam<BadFlagCase> {};

TEST_P(RunOptionsErrorTest, ErrorNamesTheFlag) {
  absl::StatusOr<RunOptions> options = RunFlags(GetParam().args);
  ASSERT_FALSE(options.ok());
  EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(options.status().message(), HasSubstr(GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    BadFlags, RunOptionsErrorTest,
    ::testing::Values(
        BadFlagCase{{}, "give --kind KIND"},
        BadFlagCase{{"--kind", ""}, "--kind"},
        BadFlagCase{{"--kind", "x", "--count", "0"}, "--count: must be"},
        BadFlagCase{{"--kind", "x", "--count", "lots"}, "--count: \"lots\""},
        BadFlagCase{{"--kind", "x", "--count", "10000000001"},
                    "'jobgroup process' streams any number"},
        BadFlagCase{{"--kind", "x", "--param", "ms"},
                    "--param: expected KEY=VALUE"},
        BadFlagCase{{"--kind", "x", "--param", "=5"}, "--param"},
        BadFlagCase{{"--kind", "x", "--timeout", "5"}, "--timeout: duration"},
        BadFlagCase{{"--kind", "x", "--deadline", "soon"},
                    "--deadline: invalid duration \"soon\""},
        BadFlagCase{{"--kind", "x", "--policy", "yolo"},
                    "--policy: \"yolo\" is not fail-fast or collect-all"},
        BadFlagCase{{"--kind", "x", "--fallback-mode", "x"}, "--fallback-mode"},
        BadFlagCase{{"--kind", "x", "--batch-size", "-1"}, "--batch-size"},
        BadFlagCase{{"--kind", "x", "--max-concurrency", "99999999999"},
                    "--max-concurrency"},
        BadFlagCase{{"--kind", "x", "--output", "xml"},
                    "--output: \"xml\" is not table, wide, json or jsonl"},
        BadFlagCase{{"--kind", "x", "--initial-backoff", "1s"},
                    "--initial-backoff and --max-backoff need"},
        BadFlagCase{{"--jobs-file", "f", "--kind", "x"},
                    "--kind cannot be combined with --jobs-file"},
        BadFlagCase{{"--jobs-file", "f", "--count", "3"},
                    "--count cannot be combined with --jobs-file"},
        BadFlagCase{{"--jobs-file="}, "--jobs-file: empty file name"},
        BadFlagCase{{"--kind", "x", "--target="}, "--target: empty address"},
        BadFlagCase{{"--kind", "x", "--tls-cert", "c.pem"},
                    "--tls-cert: needs --tls-key"},
        BadFlagCase{{"--kind", "x", "extra"}, "unexpected argument \"extra\""},
        BadFlagCase{{"--kind", "x", "--deadline"},
                    "--deadline needs a value"}));

}  // namespace
}  // namespace jobgroup::client

// Tests of the grouped --help text: groups in order, every flag exactly
// once, flags in no group kept, variables shown, wrapping and matching.
#include "server/flags/flag_help.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace jobgroup {
namespace {

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

const std::vector<FlagDoc> kFlags = {
    {"listen", "0.0.0.0:50051", "gRPC address.", true},
    {"max_deadline", "10m", "Longest deadline.", true},
    {"tls_cert", "", "PEM certificate.", true},
    {"stray", "1", "Defined by a library no group knows.", true},
    {"fromenv", "", "Abseil's own.", false},
};

TEST(FlagHelpTest, GroupsInOrderThenTheFlagsOfNoGroup) {
  FlagHelpOptions options;
  options.usage = "prog: does things.\nUsage: prog [flags]";
  options.preamble = "Flags may come from the environment.";
  options.env_prefix = "PROG_";
  const std::string help = FormatFlagHelp(
      {{"Security", {"tls_cert"}},
       {"Listening", {"listen", "not_registered"}},
       {"Empty", {"not_registered"}},
       {"Calls", {"max_deadline", "listen"}},  // listen again: shown once.
       {"Flag sources", {"fromenv"}}},
      kFlags, options);
  EXPECT_EQ(help,
            "prog: does things.\n"
            "Usage: prog [flags]\n"
            "\n"
            "Flags may come from the environment.\n"
            "\n"
            "Security:\n"
            "  --tls_cert=\"\"  [$PROG_TLS_CERT]\n"
            "      PEM certificate.\n"
            "\n"
            "Listening:\n"
            "  --listen=0.0.0.0:50051  [$PROG_LISTEN]\n"
            "      gRPC address.\n"
            "\n"
            "Calls:\n"
            "  --max_deadline=10m  [$PROG_MAX_DEADLINE]\n"
            "      Longest deadline.\n"
            "\n"
            "Flag sources:\n"
            "  --fromenv=\"\"\n"
            "      Abseil's own.\n"
            "\n"
            "Other flags:\n"
            "  --stray=1  [$PROG_STRAY]\n"
            "      Defined by a library no group knows.\n");
  for (const FlagDoc& f : kFlags) {
    EXPECT_EQ(Count(help, "  --" + f.name + "="), 1) << f.name;
  }
}

TEST(FlagHelpTest, NoVariablesWithoutAPrefixAndNoOtherGroupWhenAllAreGrouped) {
  const std::string help = FormatFlagHelp(
      {{"All", {"listen", "max_deadline", "tls_cert", "stray", "fromenv"}}},
      kFlags, {});
  EXPECT_FALSE(absl::StrContains(help, "[$")) << help;
  EXPECT_FALSE(absl::StrContains(help, "Other flags")) << help;
  EXPECT_TRUE(absl::StartsWith(help, "\nAll:\n")) << help;
}

TEST(FlagHelpTest, MatchKeepsOnlyFlagsWhoseNameContainsIt) {
  FlagHelpOptions options;
  options.match = "dead";
  const std::string help =
      FormatFlagHelp({{"Listening", {"listen"}}, {"Calls", {"max_deadline"}}},
                     kFlags, options);
  EXPECT_EQ(help, "\nCalls:\n  --max_deadline=10m\n      Longest deadline.\n");
}

TEST(FlagHelpTest, HelpIsWrappedToTheWidthKeepingParagraphs) {
  FlagHelpOptions options;
  options.width = 20;
  const std::string help = FormatFlagHelp(
      {}, {{"x", "1", "aaa bbb ccc ddd eee fff\nggg", true}}, options);
  EXPECT_EQ(help,
            "\nOther flags:\n"
            "  --x=1\n"
            "      aaa bbb ccc\n"
            "      ddd eee fff\n"
            "      ggg\n");
  for (absl::string_view line : absl::StrSplit(help, '\n')) {
    EXPECT_LE(line.size(), 20u) << line;
  }
}

}  // namespace
}  // namespace jobgroup

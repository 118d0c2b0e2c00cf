// jobgroupd's --help, without starting a process: every flag linked into
// jobgroupd is in one of its areas (none is left to "Other flags"), exactly
// once, with its JOBGROUPD_ variable, and no heading is a source path.
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "server/flags/flag_help.h"
#include "server/jobgroupd_main.h"

namespace jobgroup {
namespace {

TEST(JobgroupdHelpTest, EveryFlagIsInExactlyOneArea) {
  absl::flat_hash_set<std::string> grouped;
  for (const FlagGroup& g : JobgroupdFlagGroups()) {
    for (const std::string& f : g.flags) {
      EXPECT_TRUE(grouped.insert(f).second) << f << " is in two areas";
    }
  }
  for (const FlagDoc& f : RegisteredFlags()) {
    EXPECT_TRUE(grouped.contains(f.name))
        << "--" << f.name
        << " is in no area of JobgroupdFlagGroups() (server/jobgroupd_main.cc)";
  }
}

TEST(JobgroupdHelpTest, HelpListsEveryFlagOnceWithItsVariable) {
  const std::string help = JobgroupdHelp("jobgroupd", "");
  EXPECT_TRUE(absl::StartsWith(help, "jobgroupd: runs batches")) << help;
  EXPECT_FALSE(absl::StrContains(help, "Flags from")) << help;
  EXPECT_FALSE(absl::StrContains(help, ".cc")) << help;
  EXPECT_FALSE(absl::StrContains(help, "Other flags")) << help;
  for (const FlagDoc& f : RegisteredFlags()) {
    const std::string line = "\n  --" + f.name + "=";
    const size_t at = help.find(line);
    ASSERT_NE(at, std::string::npos) << f.name;
    EXPECT_EQ(help.find(line, at + 1), std::string::npos) << f.name;
  }
  EXPECT_TRUE(absl::StrContains(
      help, "\n  --max_deadline=10m  [$JOBGROUPD_MAX_DEADLINE]\n"))
      << help;
  EXPECT_TRUE(absl::StrContains(help, "\nhttp kind (docs/HTTP_KIND.md):\n"))
      << help;
  EXPECT_TRUE(absl::StrContains(
      help, "\n  --http_allow=\"\"  [$JOBGROUPD_HTTP_ALLOW]\n"))
      << help;
  // Abseil's own flag sources take nothing from the environment.
  EXPECT_FALSE(absl::StrContains(help, "JOBGROUPD_FROMENV")) << help;
  EXPECT_TRUE(absl::StrContains(help, "[$JOBGROUPD_FLAGFILE]")) << help;
}

TEST(JobgroupdHelpTest, HelpMatchShowsOnlyMatchingFlags) {
  const std::string help = JobgroupdHelp("jobgroupd", "http_");
  EXPECT_TRUE(absl::StrContains(help, "--http_max_per_host=8")) << help;
  EXPECT_FALSE(absl::StrContains(help, "\n  --listen=")) << help;
  EXPECT_FALSE(absl::StrContains(help, "\nListening:")) << help;
}

}  // namespace
}  // namespace jobgroup

// --help text with flags grouped by area (Listening, Limits and memory,
// ...) rather than by the source file that defines them, as Abseil's own
// help does (its headings are build paths). FormatFlagHelp() is pure;
// RegisteredFlags() reads Abseil's flag registry, so call it after static
// initialization (from main() on). Stateless.
#ifndef JOBGROUP_SERVER_FLAGS_FLAG_HELP_H_
#define JOBGROUP_SERVER_FLAGS_FLAG_HELP_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace jobgroup {

// A heading and the names of its flags, in the order they are shown.
struct FlagGroup {
  std::string title;
  std::vector<std::string> flags;
};

// What --help shows of one flag.
struct FlagDoc {
  std::string name;
  std::string default_value;
  std::string help;
  bool from_environment = true;  // Whether to show its variable.
};

struct FlagHelpOptions {
  // Text before the flags (what the program is, how to call it).
  std::string usage;
  // Text after the usage, before the first group.
  std::string preamble;
  // When not empty, flags' variables are shown: this prefix and the name
  // in capitals (see env_flags.h).
  std::string env_prefix;
  // When not empty, only flags whose name contains it are shown.
  std::string match;
  // Lines are wrapped to this width.
  int width = 80;
};

// FormatFlagHelp()
//
// The help text: the usage, the preamble, then each group of `groups`
// with its flags that are in `flags`, then the flags of `flags` in no
// group under "Other flags", by name. Every flag of `flags` is shown
// exactly once; a name in `groups` that is not in `flags` is skipped, and a
// group left with no flag is not shown. A flag appears as
//
//   --NAME=DEFAULT  (JOBGROUPD_NAME)
//       help, wrapped
std::string FormatFlagHelp(const std::vector<FlagGroup>& groups,
                           const std::vector<FlagDoc>& flags,
                           const FlagHelpOptions& options);

// RegisteredFlags()
//
// Every flag registered with Abseil (retired ones excepted), by name.
// Abseil's own flags are included; of them only --flagfile takes a value
// from the environment: --fromenv, --tryfromenv and --undefok are flag
// sources of Abseil's own, and --help and the like, --version and
// --only_check_args are actions, not settings.
std::vector<FlagDoc> RegisteredFlags();

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_FLAGS_FLAG_HELP_H_

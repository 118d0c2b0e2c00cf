// Reading flags from the raw command line. Abseil keeps only the last
// occurrence of a flag and (in Debian's build) cannot say whether a flag
// was given, so flags meant to repeat (--backend, --http_host_limit) and
// "was it given?" are answered here from the arguments and from the flag
// files they name (--flagfile, nested up to 4 deep). Stateless.
#ifndef JOBGROUP_SERVER_FLAGS_REPEATED_FLAG_H_
#define JOBGROUP_SERVER_FLAGS_REPEATED_FLAG_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace jobgroup {

// The values of --`name` in `args` (argv without the program name) and in
// the flag files they name, in order; a value may itself be a
// comma-separated list, which is split.
std::vector<std::string> RepeatedFlagValues(
    const std::vector<std::string>& args, absl::string_view name);

// FlagGiven()
//
// True when --`name` occurs in `args` or in the flag files they name, with
// a value or without one (-name, --name=, --name VALUE, and --noname for a
// boolean flag). Arguments after "--" are not flags.
bool FlagGiven(const std::vector<std::string>& args, absl::string_view name);

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_FLAGS_REPEATED_FLAG_H_

// RepeatedFlagValues(): every value of a repeatable flag. Abseil keeps only
// the last occurrence of a flag, so flags meant to repeat (--backend,
// --http_host_limit) are read here from the command line and from the flag
// files it names (--flagfile, nested up to 4 deep). Stateless.
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

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_FLAGS_REPEATED_FLAG_H_

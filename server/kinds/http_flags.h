// The --http_* flags of jobgroupd, turned into HttpOptions.
//
// The flags are defined in http_flags.cc, which links them into any binary
// that uses HttpOptionsFromFlags(). Read them after absl::ParseCommandLine().
#ifndef JOBGROUP_SERVER_KINDS_HTTP_FLAGS_H_
#define JOBGROUP_SERVER_KINDS_HTTP_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/kinds/http_options.h"

namespace jobgroup {

// HttpOptionsFromFlags()
//
// The options the --http_* flags give. Abseil keeps only the last
// occurrence of a repeated flag, so pass the raw command-line arguments
// (argv[1..]) as `raw_args`: every --http_host_limit found there, and in the
// --flagfile files they name, counts. INVALID_ARGUMENT naming the flag when
// a value is bad (a host pattern included).
absl::StatusOr<HttpOptions> HttpOptionsFromFlags(
    const std::vector<std::string>& raw_args = {});

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_KINDS_HTTP_FLAGS_H_

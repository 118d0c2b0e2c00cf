// Human durations for the jobgroup CLI: parsing "30s", "250ms", "1m30s",
// "2h", "1.5s" from flags, and printing elapsed times compactly.
// Stateless functions; thread-safe.
#ifndef JOBGROUP_CLIENT_HUMAN_DURATION_H_
#define JOBGROUP_CLIENT_HUMAN_DURATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace jobgroup::client {

// ParseHumanDuration() parses a positive, finite duration written as numbers
// with units (ns, us, ms, s, m, h), as absl::ParseDuration reads them:
// "30s", "250ms", "1m30s", "2h", "1.5s". A bare number, zero, a negative or
// an infinite duration is an InvalidArgument error whose message quotes the
// text and shows the expected form; it does not name the flag (the caller
// prefixes it).
absl::StatusOr<absl::Duration> ParseHumanDuration(absl::string_view text);

// FormatHumanDuration() prints `d` for people, rounded to the millisecond
// (to the microsecond below one millisecond): "1.234s", "1m30s", "250ms".
std::string FormatHumanDuration(absl::Duration d);

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_HUMAN_DURATION_H_

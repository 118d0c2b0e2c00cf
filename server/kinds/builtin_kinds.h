// The built-in job kinds: echo, sleep, compute and fail.
//
//  echo     output = payload. Backend "local".
//  sleep    parks on the timer for param `ms`, holding no thread; stops at
//           once when cancelled; output = payload. Backend "local" (name
//           another, e.g. db, to stand for a call into that backend).
//  compute  SHA-256 of the payload iterated param `rounds` times (OpenSSL);
//           CPU-bound, checks cancellation between rounds; output = the
//           hex digest. Backend "cpu".
//  fail     fails with param `message` (default "failed"), after param `ms`
//           if given (parked, like sleep).
#ifndef JOBGROUP_SERVER_KINDS_BUILTIN_KINDS_H_
#define JOBGROUP_SERVER_KINDS_BUILTIN_KINDS_H_

#include "absl/status/status.h"
#include "server/core/job_kind.h"

namespace jobgroup {

// Registers the built-in kinds. The backends they name ("local", "cpu")
// must be configured by the caller.
absl::Status RegisterBuiltinKinds(KindRegistry& registry);

// Parses integer param `name` of `job` within [min, max]; `fallback` when
// absent. Errors are INVALID_ARGUMENT naming "params.<name>".
absl::StatusOr<int64_t> IntParam(const JobSpec& job, absl::string_view name,
                                 int64_t fallback, int64_t min, int64_t max);

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_KINDS_BUILTIN_KINDS_H_

// Call identity: the id every job-running call is known by (in its reply's
// initial metadata, its summary and the server's log lines), and the W3C
// trace context a client may send along.
//
// Pure functions; thread-safe.
#ifndef JOBGROUP_SERVER_SERVICE_CALL_ID_H_
#define JOBGROUP_SERVER_SERVICE_CALL_ID_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace jobgroup {

// The metadata key a client names its call with, and the server answers
// with (initial metadata).
inline constexpr char kRequestIdKey[] = "x-request-id";
// The W3C Trace Context header (https://www.w3.org/TR/trace-context/).
inline constexpr char kTraceparentKey[] = "traceparent";

// The longest client-given id the server keeps.
inline constexpr size_t kMaxCallIdBytes = 128;

// True when `id` may serve as a call id as it is: 1 to kMaxCallIdBytes
// printable ASCII characters, no spaces (so it is one token in a text log
// line and safe in any header).
bool IsUsableCallId(absl::string_view id);

// A new id: 32 lowercase hex digits (128 random bits).
std::string MintCallId();

// The call's id: `client` when IsUsableCallId(), otherwise a new one.
std::string CallIdFor(absl::string_view client);

// True when `value` is a well-formed version-00 traceparent:
// "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>", lowercase, ids
// not all zero. Anything else is ignored (not logged, not passed on).
bool IsValidTraceparent(absl::string_view value);

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_CALL_ID_H_

// How the CLI shows a job's output (bytes) to people: as text when the
// bytes are valid UTF-8, with control characters escaped so that an output
// cannot move the cursor or break a row, and as base64 otherwise, saying
// so. Machine formats keep protobuf's base64 (job_result_json.h); these are
// for -o wide and for the extra "outputText" member of --decode-outputs.
//
// Stateless functions; thread-safe.
#ifndef JOBGROUP_CLIENT_OUTPUT_TEXT_H_
#define JOBGROUP_CLIENT_OUTPUT_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace jobgroup::client {

// IsValidUtf8() is true when `bytes` is well-formed UTF-8 (no overlong
// forms, no surrogates, nothing above U+10FFFF). The empty string is.
bool IsValidUtf8(absl::string_view bytes);

// DisplayOutput() is `bytes` for a table cell, on one line:
//   valid UTF-8:  "hello\nworld" (12 bytes)   quoted; \n \r \t \\ \" and
//                                             \xNN (C0 controls, DEL) or
//                                             \u0085 (C1 controls) escaped
//   otherwise:    base64:AAEC/w== (4 bytes, not UTF-8)
// The text or base64 is cut after `max_chars` characters, with "..." after
// it; the size is always that of the whole output.
std::string DisplayOutput(absl::string_view bytes, size_t max_chars = 60);

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_OUTPUT_TEXT_H_

// Scalar params in jobs files: a Job's `params` is a map<string, string>,
// so protobuf's JSON parser refuses {"params":{"ms":5}}, yet people write
// numbers and booleans. QuoteScalarParams() rewrites such a line so that
// protobuf takes it: inside every object that is the value of a "params"
// member, a number or true/false value becomes a string spelled exactly as
// written (5 -> "5", 1.50 -> "1.50", -2e3 -> "-2e3", true -> "true").
// Nothing else changes, byte for byte; null, objects and arrays stay as they
// are, for protobuf to take or refuse as before.
//
// Stateless; thread-safe.
#ifndef JOBGROUP_CLIENT_SCALAR_PARAMS_H_
#define JOBGROUP_CLIENT_SCALAR_PARAMS_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace jobgroup::client {

// QuoteScalarParams() returns `json` with the scalar params quoted, or
// nullopt when there were none to quote or `json` is not well-formed JSON
// (then the caller reports protobuf's own error on the original line).
// Nesting deeper than 64 levels counts as not well-formed.
std::optional<std::string> QuoteScalarParams(absl::string_view json);

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_SCALAR_PARAMS_H_

// OutputFormat: the one output convention of every jobgroup command,
// kubectl-style: `-o/--output table|wide|json|jsonl`. Each command accepts
// the formats that mean something for it (run and process all four; info
// table and json; bench table, json and csv) and a parse error lists them.
// Plain values and stateless functions; thread-safe.
#ifndef JOBGROUP_CLIENT_OUTPUT_FORMAT_H_
#define JOBGROUP_CLIENT_OUTPUT_FORMAT_H_

#include <initializer_list>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace jobgroup::client {

enum class OutputFormat {
  kTable,  // For people: a summary table (info: the server's description).
  kWide,   // The table, plus one row per result as it arrives.
  kJson,   // One JSON document on stdout, written when the command ends.
  kJsonl,  // One JobResult per line, protobuf's JSON mapping.
  kCsv,    // bench: a header line and one line of figures.
};

// OutputFormatName() is the spelling of `format` on the command line.
absl::string_view OutputFormatName(OutputFormat format);

// ParseOutputFormat() reads the value of -o/--output. `allowed` lists the
// formats of the command; "text" is read as "table" (the old spelling of
// `jobgroup info`). Errors are InvalidArgument naming the flag and listing
// `allowed`: `--output: "yaml" is not table or json`.
absl::StatusOr<OutputFormat> ParseOutputFormat(
    absl::string_view text, std::initializer_list<OutputFormat> allowed);

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_OUTPUT_FORMAT_H_

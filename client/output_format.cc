// The -o/--output values of the jobgroup CLI; see output_format.h.
#include "client/output_format.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace jobgroup::client {

absl::string_view OutputFormatName(OutputFormat format) {
  switch (format) {
    case OutputFormat::kTable:
      return "table";
    case OutputFormat::kWide:
      return "wide";
    case OutputFormat::kJson:
      return "json";
    case OutputFormat::kJsonl:
      return "jsonl";
    case OutputFormat::kCsv:
      return "csv";
  }
  return "table";
}

absl::StatusOr<OutputFormat> ParseOutputFormat(
    absl::string_view text, std::initializer_list<OutputFormat> allowed) {
  const absl::string_view wanted = text == "text" ? "table" : text;
  std::vector<std::string> names;
  for (OutputFormat format : allowed) {
    if (OutputFormatName(format) == wanted) return format;
    names.emplace_back(OutputFormatName(format));
  }
  std::string choices = names.back();
  if (names.size() > 1) {
    names.pop_back();
    choices = absl::StrCat(absl::StrJoin(names, ", "), " or ", choices);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--output: \"", text, "\" is not ", choices));
}

}  // namespace jobgroup::client

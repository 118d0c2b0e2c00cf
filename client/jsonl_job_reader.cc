// Lazy JSON Lines job reading; see jsonl_job_reader.h.
#include "client/jsonl_job_reader.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "client/scalar_params.h"
#include "google/protobuf/util/json_util.h"

namespace jobgroup::client {
namespace {

// Protobuf's JSON parse errors read "<problem>\n<input near it>\n   ^";
// keep the problem and quote the input from the caret on, on one line.
std::string Problem(absl::string_view message) {
  std::vector<absl::string_view> lines = absl::StrSplit(message, '\n');
  std::string problem(absl::StripAsciiWhitespace(lines.front()));
  if (lines.size() == 3) {
    const size_t caret = lines[2].find('^');
    if (caret != absl::string_view::npos && caret < lines[1].size()) {
      const absl::string_view near = lines[1].substr(caret, 30);
      absl::StrAppend(&problem, " near '", near, "'");
    }
  } else {
    for (size_t i = 1; i < lines.size(); ++i) {
      absl::StrAppend(&problem, " ", absl::StripAsciiWhitespace(lines[i]));
    }
  }
  constexpr size_t kMaxLength = 300;
  if (problem.size() > kMaxLength) {
    problem.resize(kMaxLength);
    problem += "...";
  }
  return problem;
}

}  // namespace

JsonlJobReader::JsonlJobReader(std::istream& in, std::string input_name)
    : in_(in), input_name_(std::move(input_name)) {}

absl::StatusOr<bool> JsonlJobReader::Next(jobgroup::v1::Job& job) {
  if (failed_) {
    return absl::FailedPreconditionError(
        absl::StrCat(input_name_, ": read after an error"));
  }
  while (std::getline(in_, line_)) {
    ++line_number_;
    const absl::string_view text = absl::StripAsciiWhitespace(line_);
    if (text.empty()) continue;
    job.Clear();
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    auto status = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(text.data(), text.size()), &job, options);
    if (!status.ok()) {
      // Numbers and booleans as params ({"ms": 5}) are taken as strings; a
      // line that still does not parse is reported as written.
      if (std::optional<std::string> quoted = QuoteScalarParams(text)) {
        job.Clear();
        if (google::protobuf::util::JsonStringToMessage(*quoted, &job, options)
                .ok()) {
          return true;
        }
      }
    }
    if (!status.ok()) {
      failed_ = true;
      const auto problem = status.message();
      return absl::InvalidArgumentError(absl::StrCat(
          input_name_, " line ", line_number_, ": not a jobgroup.v1.Job (",
          Problem(absl::string_view(problem.data(), problem.size())), ")"));
    }
    return true;
  }
  if (in_.bad()) {
    failed_ = true;
    return absl::DataLossError(absl::StrCat(
        "reading ", input_name_, " failed after line ", line_number_));
  }
  return false;
}

bool JsonlJobReader::ReadyNow() {
  std::streambuf* buffer = in_.rdbuf();
  return buffer != nullptr && buffer->in_avail() > 0;
}

}  // namespace jobgroup::client

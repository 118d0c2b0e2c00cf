// Per-result output of the jobgroup CLI; see result_printer.h.
#include "client/result_printer.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/human_duration.h"
#include "client/job_result_json.h"
#include "client/output_text.h"
#include "client/result_output.h"

namespace jobgroup::client {
namespace {

// Past this, Add() hands the buffer to the stream.
constexpr size_t kBufferBytes = 1 << 16;

}  // namespace

ResultPrinter::ResultPrinter(std::ostream& out, OutputFormat format,
                             bool with_results, bool decode_outputs)
    : out_(out),
      format_(format),
      with_results_(with_results),
      decode_outputs_(decode_outputs) {}

void ResultPrinter::AppendResultJson(const jobgroup::v1::JobResult& result,
                                     bool decode_outputs, std::string* out) {
  AppendJobResultJson(result, out);
  if (!decode_outputs || out->empty() || out->back() != '}') return;
  out->pop_back();
  out->append(",\"outputText\":");
  if (!AppendJsonString(result.output(), out)) out->append("null");
  out->push_back('}');
}

std::string ResultPrinter::WideHeader() {
  return absl::StrFormat("%-8s %-12s %-17s %8s %10s  %s", "INDEX", "ID",
                         "OUTCOME", "ATTEMPTS", "RUN TIME", "ERROR / OUTPUT");
}

std::string ResultPrinter::WideRow(const jobgroup::v1::JobResult& r) {
  std::string detail;
  if (r.has_error()) {
    detail = absl::StrCat("code ", r.error().code(), ": ", r.error().message());
  } else {
    detail = DisplayOutput(r.output());
  }
  return absl::StrFormat("%-8d %-12s %-17s %8d %10s  %s", r.index(), r.id(),
                         OutcomeName(r.outcome()), r.attempts(),
                         FormatHumanDuration(ToAbslDuration(r.run_time())),
                         detail);
}

void ResultPrinter::Add(const jobgroup::v1::JobResult& result) {
  switch (format_) {
    case OutputFormat::kTable:
    case OutputFormat::kCsv:  // Not a format of run or process.
      return;
    case OutputFormat::kJsonl:
      AppendResultJson(result, decode_outputs_, &buffer_);
      buffer_ += '\n';
      break;
    case OutputFormat::kWide:
      if (!started_) absl::StrAppend(&buffer_, WideHeader(), "\n");
      absl::StrAppend(&buffer_, WideRow(result), "\n");
      break;
    case OutputFormat::kJson:
      if (!with_results_) return;
      buffer_ += started_ ? ",\n" : "{\"results\":[\n";
      AppendResultJson(result, decode_outputs_, &buffer_);
      any_result_ = true;
      break;
  }
  started_ = true;
  if (buffer_.size() >= kBufferBytes) {
    out_ << buffer_;
    buffer_.clear();
  }
}

void ResultPrinter::Flush() {
  out_ << buffer_;
  buffer_.clear();
  out_.flush();
}

void ResultPrinter::End(const BatchEnd& end) {
  if (format_ == OutputFormat::kJson) {
    if (with_results_) {
      buffer_ += any_result_ ? "\n]" : "{\"results\":[]";
      AppendBatchJson(end, /*after_member=*/true, &buffer_);
    } else {
      buffer_ += "{";
      AppendBatchJson(end, /*after_member=*/false, &buffer_);
    }
    buffer_ += '\n';
  } else if (format_ == OutputFormat::kWide && !started_) {
    absl::StrAppend(&buffer_, WideHeader(), "\n");
  }
  Flush();
}

}  // namespace jobgroup::client

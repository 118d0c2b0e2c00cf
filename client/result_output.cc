// Result and server-info formatting for the jobgroup CLI; see
// result_output.h.
#include "client/result_output.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "client/human_duration.h"
#include "google/protobuf/util/json_util.h"

namespace jobgroup::client {
namespace {

using ::jobgroup::v1::JobOutcome;
using ::jobgroup::v1::JobResult;

constexpr char kGreen[] = "\033[32m";
constexpr char kRed[] = "\033[31m";
constexpr char kYellow[] = "\033[33m";
constexpr char kBold[] = "\033[1m";
constexpr char kReset[] = "\033[0m";

std::string Paint(absl::string_view text, const char* colour, bool enabled) {
  if (!enabled) return std::string(text);
  return absl::StrCat(colour, text, kReset);
}

// A table whose columns are as wide as their widest cell.
class TextTable {
 public:
  void Row(std::vector<std::string> cells) {
    rows_.push_back(std::move(cells));
  }
  void Print(std::ostream& out, absl::string_view indent) const {
    std::vector<size_t> widths;
    for (const auto& row : rows_) {
      widths.resize(std::max(widths.size(), row.size()));
      for (size_t i = 0; i < row.size(); ++i) {
        widths[i] = std::max(widths[i], row[i].size());
      }
    }
    for (const auto& row : rows_) {
      std::string line(indent);
      for (size_t i = 0; i < row.size(); ++i) {
        absl::StrAppend(&line, row[i]);
        if (i + 1 < row.size()) {
          line.append(widths[i] - row[i].size() + 2, ' ');
        }
      }
      out << line << '\n';
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string Bytes(uint64_t n) {
  if (n >= (1u << 20) && n % (1u << 20) == 0) {
    return absl::StrCat(n, " (", n >> 20, " MiB)");
  }
  if (n >= (1u << 10) && n % (1u << 10) == 0) {
    return absl::StrCat(n, " (", n >> 10, " KiB)");
  }
  return absl::StrCat(n);
}

}  // namespace

absl::Duration ToAbslDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

void ResultTally::Add(const JobResult& result) {
  ++received_;
  const int outcome = result.outcome();
  ++counts_[(outcome >= 0 && outcome < 6) ? outcome : 0];
  if (outcome == jobgroup::v1::JOB_OUTCOME_SUCCEEDED) {
    ++succeeded_;
    return;
  }
  const size_t slot = (outcome >= 0 && outcome < 6) ? outcome : 0;
  if (kept_[slot].size() < kKeptPerOutcome) kept_[slot].push_back(result);
}

std::vector<JobResult> ResultTally::Examples(size_t limit) const {
  std::vector<JobResult> examples;
  for (JobOutcome outcome :
       {jobgroup::v1::JOB_OUTCOME_FAILED,
        jobgroup::v1::JOB_OUTCOME_DEADLINE_EXCEEDED,
        jobgroup::v1::JOB_OUTCOME_REJECTED, jobgroup::v1::JOB_OUTCOME_CANCELLED,
        jobgroup::v1::JOB_OUTCOME_UNSPECIFIED}) {
    for (const JobResult& result : kept_[outcome]) {
      if (examples.size() >= limit) return examples;
      examples.push_back(result);
    }
  }
  return examples;
}

std::string OutcomeName(JobOutcome outcome) {
  constexpr absl::string_view kPrefix = "JOB_OUTCOME_";
  std::string name = jobgroup::v1::JobOutcome_Name(outcome);
  if (name.empty()) return absl::StrCat("OUTCOME_", static_cast<int>(outcome));
  if (absl::string_view(name).substr(0, kPrefix.size()) == kPrefix) {
    name.erase(0, kPrefix.size());
  }
  return name;
}

void PrintRunReport(std::ostream& out, const RunReport& report, bool colour) {
  const jobgroup::v1::BatchSummary& s = report.summary;
  struct Row {
    const char* name;
    uint64_t count;
    const char* colour;
  };
  const Row rows[] = {
      {"SUCCEEDED", s.succeeded(), kGreen},
      {"FAILED", s.failed(), kRed},
      {"CANCELLED", s.cancelled(), kYellow},
      {"DEADLINE_EXCEEDED", s.deadline_exceeded(), kRed},
      {"REJECTED", s.rejected(), kRed},
  };
  constexpr int kNameWidth = 19;
  const int count_width =
      std::max<int>(6, static_cast<int>(absl::StrCat(s.total()).size()));
  out << Paint(absl::StrFormat("%-*s %*s", kNameWidth, "outcome", count_width,
                               "jobs"),
               kBold, colour)
      << '\n';
  for (const Row& row : rows) {
    const std::string line = absl::StrFormat("%-*s %*d", kNameWidth, row.name,
                                             count_width, row.count);
    out << (row.count > 0 ? Paint(line, row.colour, colour) : line) << '\n';
  }
  out << absl::StrFormat("%-*s %*d", kNameWidth, "total", count_width,
                         s.total())
      << "\n\n";

  const absl::Duration server_elapsed = ToAbslDuration(s.elapsed());
  std::string elapsed = FormatHumanDuration(report.client_elapsed);
  if (server_elapsed > absl::ZeroDuration()) {
    absl::StrAppend(&elapsed, " (server ", FormatHumanDuration(server_elapsed),
                    ")");
  }
  out << absl::StrFormat("%-*s %s\n", kNameWidth, "elapsed", elapsed);
  const double seconds = absl::ToDoubleSeconds(report.client_elapsed);
  const double rate =
      seconds > 0 ? static_cast<double>(s.total()) / seconds : 0;
  out << absl::StrFormat("%-*s %.1f jobs/s\n", kNameWidth, "throughput", rate);
  std::string deadline =
      s.deadline_hit() ? Paint("yes", kYellow, colour) : std::string("no");
  if (!report.deadline.empty()) {
    absl::StrAppend(&deadline, " (", report.deadline, ")");
  }
  out << absl::StrFormat("%-*s %s\n", kNameWidth, "deadline hit", deadline);
  if (!report.not_run.empty()) {
    out << Paint(absl::StrFormat("%-*s %s", kNameWidth, "not run",
                                 report.not_run),
                 kRed, colour)
        << '\n';
  }
  if (report.results_received != s.total()) {
    out << Paint(absl::StrFormat("%-*s %d, but the summary counts %d",
                                 kNameWidth, "results received",
                                 report.results_received, s.total()),
                 kRed, colour)
        << '\n';
  }

  if (!report.examples.empty()) {
    out << '\n'
        << (report.examples.size() < report.not_succeeded
                ? absl::StrCat("jobs that did not succeed (first ",
                               report.examples.size(), " of ",
                               report.not_succeeded, "):")
                : std::string("jobs that did not succeed:"))
        << '\n';
    for (const JobResult& r : report.examples) {
      std::string line = absl::StrCat("  #", r.index());
      if (!r.id().empty() && r.id() != absl::StrCat(r.index())) {
        absl::StrAppend(&line, " id=", r.id());
      }
      absl::StrAppend(&line, " ", OutcomeName(r.outcome()));
      if (r.has_error()) {
        absl::StrAppend(&line, " (code ", r.error().code(),
                        "): ", r.error().message());
      }
      if (r.attempts() > 1)
        absl::StrAppend(&line, " after ", r.attempts(), " attempts");
      out << line << '\n';
    }
  }
}

void PrintServerInfo(std::ostream& out, absl::string_view target,
                     const jobgroup::v1::GetServerInfoResponse& info) {
  // An older server sends no name.
  out << (info.name().empty() ? "server" : info.name()) << " "
      << (info.version().empty() ? "(unknown version)" : info.version())
      << " at " << target << "\n\n";

  out << "kinds (" << info.kinds_size() << ")\n";
  TextTable kinds;
  kinds.Row({"NAME", "BACKEND", "DESCRIPTION"});
  for (const auto& kind : info.kinds()) {
    kinds.Row({kind.name(), kind.backend(), kind.description()});
  }
  kinds.Print(out, "  ");

  out << "\nbackends (" << info.backends_size() << ")\n";
  TextTable backends;
  backends.Row({"NAME", "CAPACITY", "IN USE", "WAITING"});
  for (const auto& backend : info.backends()) {
    backends.Row({backend.name(), absl::StrCat(backend.capacity()),
                  absl::StrCat(backend.in_use()),
                  absl::StrCat(backend.waiting())});
  }
  backends.Print(out, "  ");

  const auto& limits = info.limits();
  TextTable state;
  state.Row({"queue",
             absl::StrCat(info.queue().depth(), " of ", info.queue().capacity(),
                          " slots used, ", info.queue().parked(), " parked")});
  state.Row({"workers", absl::StrCat(info.workers().busy(), " of ",
                                     info.workers().total(), " busy")});
  state.Row({"in-flight jobs", absl::StrCat(limits.inflight_jobs(), " of ",
                                            limits.max_inflight_jobs())});
  out << '\n';
  state.Print(out, "");

  out << "\nlimits\n";
  TextTable table;
  table.Row({"jobs per call", absl::StrCat(limits.max_jobs_per_call())});
  table.Row({"payload bytes per job", Bytes(limits.max_payload_bytes())});
  table.Row({"default deadline",
             FormatHumanDuration(ToAbslDuration(limits.default_deadline()))});
  table.Row({"max deadline",
             FormatHumanDuration(ToAbslDuration(limits.max_deadline()))});
  table.Row({"max concurrency", absl::StrCat(limits.max_concurrency())});
  table.Print(out, "  ");
}

std::string ServerInfoToJson(const jobgroup::v1::GetServerInfoResponse& info) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(info, &json, options);
  return json;
}

}  // namespace jobgroup::client

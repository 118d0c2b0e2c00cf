// How a run or process call ended, in one line and in JSON; see
// batch_report.h.
#include "client/batch_report.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/human_duration.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace jobgroup::client {
namespace {

// The outcomes in the order people read them, with their lower-case names.
struct Named {
  jobgroup::v1::JobOutcome outcome;
  const char* name;
};
constexpr Named kOutcomes[] = {
    {jobgroup::v1::JOB_OUTCOME_SUCCEEDED, "succeeded"},
    {jobgroup::v1::JOB_OUTCOME_FAILED, "failed"},
    {jobgroup::v1::JOB_OUTCOME_CANCELLED, "cancelled"},
    {jobgroup::v1::JOB_OUTCOME_DEADLINE_EXCEEDED, "deadline exceeded"},
    {jobgroup::v1::JOB_OUTCOME_REJECTED, "rejected"},
    {jobgroup::v1::JOB_OUTCOME_UNSPECIFIED, "unspecified"},
};

// "(17 succeeded, 3 failed)": the outcomes received, zeros left out.
std::string Counts(const BatchEnd& end) {
  std::vector<std::string> parts;
  for (const Named& n : kOutcomes) {
    if (uint64_t count = end.outcomes[n.outcome]; count > 0) {
      parts.push_back(absl::StrCat(count, " ", n.name));
    }
  }
  if (parts.empty()) return "";
  return absl::StrCat(" (", absl::StrJoin(parts, ", "), ")");
}

uint64_t SentNotRun(const BatchEnd& end) {
  return end.jobs_sent > end.results_received
             ? end.jobs_sent - end.results_received
             : 0;
}

const char* SourceName(DeadlineSource source) {
  switch (source) {
    case DeadlineSource::kFlag:
      return "flag";
    case DeadlineSource::kServerDefault:
      return "server-default";
    case DeadlineSource::kServerMax:
      return "server-max";
  }
  return "server-default";
}

std::string Seconds(absl::Duration d) {
  return absl::StrFormat("%.6g", absl::ToDoubleSeconds(d));
}

}  // namespace

std::string DescribeDeadline(const DeadlineUsed& deadline) {
  const std::string value =
      deadline.value.has_value() ? FormatHumanDuration(*deadline.value) : "";
  switch (deadline.source) {
    case DeadlineSource::kFlag:
      return absl::StrCat("--deadline ", value);
    case DeadlineSource::kServerDefault:
      return value.empty()
                 ? std::string("the server's default deadline")
                 : absl::StrCat("the server's default deadline (", value, ")");
    case DeadlineSource::kServerMax:
      return absl::StrCat("the server's longest deadline, --max_deadline",
                          value.empty() ? "" : absl::StrCat(" (", value, ")"));
  }
  return "";
}

bool DeadlineHit(const BatchEnd& end) {
  return (end.summary.has_value() && end.summary->deadline_hit()) ||
         absl::IsDeadlineExceeded(end.call_status);
}

std::string ExitReason(const BatchEnd& end) {
  const uint64_t succeeded = end.outcomes[jobgroup::v1::JOB_OUTCOME_SUCCEEDED];
  const uint64_t sent_not_run = SentNotRun(end);
  const bool all_sent =
      end.jobs_not_sent.has_value() && *end.jobs_not_sent == 0;
  const bool summary_matches =
      !end.summary.has_value() || end.summary->total() == end.results_received;
  if (!end.interrupted && end.call_status.ok() && sent_not_run == 0 &&
      all_sent && succeeded == end.results_received && summary_matches) {
    return "";
  }
  std::string line =
      absl::StrCat("jobgroup ", end.command, ": ",
                   end.interrupted ? "interrupted (Ctrl-C): " : "");
  if (sent_not_run > 0 || !all_sent) {
    if (end.jobs_not_sent.has_value()) {
      const uint64_t total = end.jobs_sent + *end.jobs_not_sent;
      std::vector<std::string> why;
      if (sent_not_run > 0) {
        why.push_back(absl::StrCat(sent_not_run, " sent but not run"));
      }
      if (*end.jobs_not_sent > 0) {
        why.push_back(absl::StrCat(*end.jobs_not_sent, " never sent"));
      }
      absl::StrAppend(&line, sent_not_run + *end.jobs_not_sent, " of the ",
                      total, " jobs were not run (", absl::StrJoin(why, ", "),
                      ")");
    } else {
      absl::StrAppend(&line, sent_not_run, " of the ", end.jobs_sent,
                      " jobs sent were not run, nor the rest of the input");
    }
    absl::StrAppend(&line, "; ", end.results_received, " results", Counts(end));
  } else {
    absl::StrAppend(&line, end.results_received - succeeded, " of ",
                    end.results_received, " jobs did not succeed", Counts(end));
  }
  if (DeadlineHit(end)) {
    absl::StrAppend(&line, "; deadline hit: ", DescribeDeadline(end.deadline));
  }
  if (!summary_matches) {
    absl::StrAppend(&line, "; the server's summary counts ",
                    end.summary->total(), " jobs but ", end.results_received,
                    " results arrived");
  }
  if (!end.call_status.ok() && !end.interrupted) {
    // The client's error names the call already ("... (call <id>)").
    absl::StrAppend(&line, "; the server said: ", end.call_status.message());
  } else if (end.summary.has_value() && !end.summary->call_id().empty()) {
    absl::StrAppend(&line, "; call ", end.summary->call_id());
  }
  return line;
}

std::string ShortSummary(const BatchEnd& end) {
  const uint64_t succeeded = end.outcomes[jobgroup::v1::JOB_OUTCOME_SUCCEEDED];
  return absl::StrCat(end.results_received, " jobs, ", succeeded,
                      " succeeded, ", end.results_received - succeeded,
                      " did not, in ", FormatHumanDuration(end.client_elapsed),
                      DeadlineHit(end) ? " (deadline hit)" : "");
}

std::string JsonQuote(absl::string_view text) {
  google::protobuf::Value value;
  value.set_string_value(std::string(text));
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(value, &out).ok()) {
    // Not UTF-8: protobuf refuses it; keep what is printable.
    std::string ascii;
    for (char c : text) ascii += (c & 0x80) ? '?' : c;
    value.set_string_value(ascii);
    out.clear();
    (void)google::protobuf::util::MessageToJsonString(value, &out);
  }
  return out;
}

void AppendBatchJson(const BatchEnd& end, bool after_member, std::string* out) {
  absl::StrAppend(out, after_member ? "," : "", "\"summary\":");
  if (end.summary.has_value()) {
    google::protobuf::util::JsonPrintOptions options;
    options.always_print_primitive_fields = true;
    std::string summary;
    (void)google::protobuf::util::MessageToJsonString(*end.summary, &summary,
                                                      options);
    absl::StrAppend(out, summary);
  } else {
    absl::StrAppend(out, "null");
  }
  const uint64_t sent_not_run = SentNotRun(end);
  absl::StrAppend(out, ",\"command\":", JsonQuote(end.command),
                  ",\"target\":", JsonQuote(end.target),
                  ",\"resultsReceived\":", end.results_received,
                  ",\"jobsSent\":", end.jobs_sent, ",\"jobsNotSent\":");
  if (end.jobs_not_sent.has_value()) {
    absl::StrAppend(out, *end.jobs_not_sent,
                    ",\"jobsNotRun\":", sent_not_run + *end.jobs_not_sent);
  } else {
    absl::StrAppend(out, "null,\"jobsNotRun\":null");
  }
  absl::StrAppend(out, ",\"deadline\":{\"source\":\"",
                  SourceName(end.deadline.source), "\",\"seconds\":",
                  end.deadline.value.has_value() ? Seconds(*end.deadline.value)
                                                 : std::string("null"),
                  ",\"hit\":", DeadlineHit(end) ? "true" : "false", "}");
  absl::StrAppend(out,
                  ",\"clientElapsedSeconds\":", Seconds(end.client_elapsed),
                  ",\"callStatus\":{\"code\":",
                  JsonQuote(absl::StatusCodeToString(end.call_status.code())),
                  ",\"message\":", JsonQuote(end.call_status.message()),
                  "},\"exitStatus\":", end.exit_status,
                  ",\"reason\":", JsonQuote(ExitReason(end)), "}");
}

}  // namespace jobgroup::client

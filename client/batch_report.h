// BatchEnd: how one `jobgroup run` or `jobgroup process` call ended, as the
// client saw it — the server's summary (if one arrived), the call's status,
// the jobs sent, received and not sent, and which deadline applied — and
// the two ways the CLI reports it besides the table:
//   ExitReason()       the one line on stderr whenever the exit status is
//                      not 0 (counts by outcome, the deadline hit, jobs sent
//                      but not run, jobs never sent), terminal or not;
//   AppendBatchJson()  the fields of the `-o json` document after the
//                      results (see docs/CLI.md for its shape).
// Plain values and stateless functions; thread-safe.
#ifndef JOBGROUP_CLIENT_BATCH_REPORT_H_
#define JOBGROUP_CLIENT_BATCH_REPORT_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "jobgroup/v1/jobgroup.pb.h"

namespace jobgroup::client {

// Which deadline bounded the call.
enum class DeadlineSource {
  kFlag,           // --deadline, as given.
  kServerDefault,  // None sent: the server's --default_deadline.
  kServerMax,      // The server's --max_deadline: `process` without
                   // --deadline asks for none, or --deadline was longer.
};

struct DeadlineUsed {
  DeadlineSource source = DeadlineSource::kServerDefault;
  // Its length, when known (the server's figures come from GetServerInfo).
  std::optional<absl::Duration> value;
};

// DescribeDeadline() says which deadline it was, for people:
// "--deadline 1s", "the server's default deadline (30s)", "the server's
// longest deadline, --max_deadline (10m)".
std::string DescribeDeadline(const DeadlineUsed& deadline);

struct BatchEnd {
  // "run" or "process", for the line's prefix and the document.
  std::string command;
  std::string target;
  // The server's summary, when one arrived.
  std::optional<jobgroup::v1::BatchSummary> summary;
  // How the call ended; OK also for a call whose jobs failed.
  absl::Status call_status;
  // Results received, by JobOutcome value.
  std::array<uint64_t, 6> outcomes{};
  uint64_t results_received = 0;
  // Jobs handed to the call.
  uint64_t jobs_sent = 0;
  // Jobs of the input never sent: known for --count, nullopt when the rest
  // of a file or stdin was left unread.
  std::optional<uint64_t> jobs_not_sent = 0;
  // The deadline that applied (whether it was hit is the summary's).
  DeadlineUsed deadline;
  absl::Duration client_elapsed;
  // Ctrl-C cancelled the call (call_status is then CANCELLED).
  bool interrupted = false;
  // The exit status the command returns.
  int exit_status = 0;
};

// BatchEnd::deadline_hit(): the server's summary says so, or the call
// ended DEADLINE_EXCEEDED.
bool DeadlineHit(const BatchEnd& end);

// ExitReason() is the line (without "\n") saying why `end` exits non-zero:
//   jobgroup run: 3 of 20 jobs did not succeed (17 succeeded, 3 failed)
//   jobgroup process: 83008 of the 1000000 jobs were not run (40000 sent
//     but not run, 43008 never sent); 916992 results (916992 succeeded);
//     deadline hit: the server's default deadline (30s); the server said: ...
// (one line), after "interrupted (Ctrl-C): " when Ctrl-C ended the call.
// Empty when every job succeeded and the call ended OK.
std::string ExitReason(const BatchEnd& end);

// ShortSummary() is the note shown on a terminal when the output is not a
// table: "20 jobs, 17 succeeded, 3 did not, in 1.2s (deadline hit)".
std::string ShortSummary(const BatchEnd& end);

// AppendBatchJson() appends the members of the `-o json` document that
// follow "results" (each preceded by a comma when `after_member`), and the
// closing brace:
//   "summary":{...},"resultsReceived":N,"jobsSent":N,"jobsNotSent":N|null,
//   "jobsNotRun":N|null,"deadline":{...},"clientElapsed":"1.2s",
//   "callStatus":{...},"exitStatus":1,"reason":"..."}
void AppendBatchJson(const BatchEnd& end, bool after_member, std::string* out);

// JsonQuote() is `text` as a JSON string literal (protobuf's escaping).
std::string JsonQuote(absl::string_view text);

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_BATCH_REPORT_H_

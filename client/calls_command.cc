// `jobgroup calls list|cancel`; see calls_command.h.
#include "client/calls_command.h"

#include <algorithm>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/admin_client.h"
#include "client/admin_options.h"
#include "client/cli_flags.h"
#include "client/human_duration.h"
#include "client/output_format.h"
#include "client/top_view.h"
#include "google/protobuf/util/json_util.h"

namespace jobgroup::client {
namespace {

using ::jobgroup::admin::v1::CallInfo;
using ::jobgroup::admin::v1::ListCallsResponse;

constexpr absl::Duration kAdminDeadline = absl::Seconds(10);

constexpr char kCallsUsage[] =
    R"(Usage: jobgroup calls list [-o table|json] [flags]
       jobgroup calls cancel CALL_ID [--reason TEXT] [flags]

The job-running calls in flight on a server (RunBatch, StreamBatch,
Process), through its admin API (jobgroup.admin.v1.AdminService), and a way
to stop one. The admin API is off unless jobgroupd runs with
--admin_tokens_file; every command needs one of those tokens
(--admin-token-file FILE or $JOBGROUP_ADMIN_TOKEN); job tokens are refused.

  list     one row per call, oldest first: CALL_ID METHOD PEER IDENTITY AGE
           DEADLINE_LEFT DONE/TOTAL RUNNING PENDING WAITING_ON FLAGS
           (WAITING_ON: the backends its jobs wait for a permit at, with
           the requests queued there, e.g. db:2; DRAINING: the server is
           draining; CANCELLED: an operator cancelled it).
           -o json prints ListCallsResponse in protobuf's JSON instead.
  cancel   cancels the call CALL_ID as a client cancel would: its jobs not
           finished end CANCELLED; --reason shows in its summary and log.

Examples:
  jobgroup calls list --admin-token-file admin.token
  jobgroup calls list -o json | jq -r '.calls[].call_id'
  jobgroup calls cancel 3f2a9c... --reason "runaway batch"

)";

constexpr char kCallsExit[] =
    "Exit status: 0 done; 2 usage error or failed call (no admin token, "
    "admin\nAPI off, unknown call id, server unreachable); 130 Ctrl-C.\n";

int Fail(const Console& c, absl::string_view command,
         const absl::Status& status) {
  *c.err << "jobgroup calls " << command << ": " << status.message() << '\n';
  if (c.interrupt != nullptr && c.interrupt->cancelled()) {
    return kExitInterrupted;
  }
  return kExitUsageOrConnection;
}

int Usage(const Console& c, absl::string_view command,
          absl::string_view message) {
  *c.err << "jobgroup calls" << (command.empty() ? "" : " ") << command << ": "
         << message << " (see 'jobgroup calls --help')\n";
  return kExitUsageOrConnection;
}

FlagParser ListParser() {
  FlagParser parser("jobgroup calls list");
  parser.Section("Output")
      .Value("output", "FORMAT",
             "table (default) or json (ListCallsResponse in protobuf's\n"
             "JSON, proto field names)")
      .Short('o', "output");
  AddAdminFlags(parser);
  return parser;
}

FlagParser CancelParser() {
  FlagParser parser("jobgroup calls cancel");
  parser.Section("Cancel").Value(
      "reason", "TEXT",
      "why; shows in the call's summary and log line (at most 200\nbytes)");
  AddAdminFlags(parser);
  return parser;
}

absl::StatusOr<std::unique_ptr<AdminClient>> Connect(const ParsedFlags& flags) {
  absl::StatusOr<AdminOptions> options = AdminOptionsFromFlags(flags);
  if (!options.ok()) return options.status();
  return AdminClient::Create(options->connection, options->admin_token);
}

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

uint64_t Done(const CallInfo& call) {
  return call.succeeded() + call.failed() + call.cancelled() +
         call.deadline_exceeded() + call.rejected();
}

int ListCommand(const std::vector<std::string>& args, const Console& c) {
  const FlagParser parser = ListParser();
  absl::StatusOr<ParsedFlags> flags = parser.Parse(args);
  if (!flags.ok()) return Usage(c, "list", flags.status().message());
  if (flags->help()) {
    *c.out << kCallsUsage << parser.FlagsHelp()
           << "  --help                  this text\n\n"
           << kCallsExit;
    return kExitOk;
  }
  if (!flags->positional().empty()) {
    return Usage(c, "list",
                 absl::StrCat("unexpected argument \"",
                              flags->positional().front(), "\""));
  }
  absl::StatusOr<OutputFormat> output =
      ParseOutputFormat(flags->Get("output", "table"),
                        {OutputFormat::kTable, OutputFormat::kJson});
  if (!output.ok()) return Usage(c, "list", output.status().message());
  absl::StatusOr<std::unique_ptr<AdminClient>> client = Connect(*flags);
  if (!client.ok()) return Usage(c, "list", client.status().message());
  absl::StatusOr<ListCallsResponse> calls =
      (*client)->ListCalls(kAdminDeadline, c.interrupt);
  if (!calls.ok()) return Fail(c, "list", calls.status());
  if (*output == OutputFormat::kJson) {
    *c.out << CallsJson(*calls);
  } else if (calls->calls().empty()) {
    *c.out << "no calls in flight on " << (*client)->target() << '\n';
  } else {
    *c.out << CallsTable(*calls, absl::Now());
  }
  c.out->flush();
  return kExitOk;
}

int CancelCommand(const std::vector<std::string>& args, const Console& c) {
  const FlagParser parser = CancelParser();
  absl::StatusOr<ParsedFlags> flags = parser.Parse(args);
  if (!flags.ok()) return Usage(c, "cancel", flags.status().message());
  if (flags->help()) {
    *c.out << kCallsUsage << parser.FlagsHelp()
           << "  --help                  this text\n\n"
           << kCallsExit;
    return kExitOk;
  }
  if (flags->positional().size() != 1) {
    return Usage(c, "cancel",
                 flags->positional().empty()
                     ? "give the id of the call to cancel (CALL_ID, as "
                       "'jobgroup calls list' shows it)"
                     : "give one call id");
  }
  const std::string reason = flags->Get("reason");
  if (reason.size() > 200) {
    return Usage(
        c, "cancel",
        absl::StrCat("--reason: ", reason.size(), " bytes; at most 200"));
  }
  absl::StatusOr<std::unique_ptr<AdminClient>> client = Connect(*flags);
  if (!client.ok()) return Usage(c, "cancel", client.status().message());
  const std::string& id = flags->positional().front();
  absl::StatusOr<jobgroup::admin::v1::CancelCallResponse> cancelled =
      (*client)->CancelCall(id, reason, kAdminDeadline, c.interrupt);
  if (!cancelled.ok()) return Fail(c, "cancel", cancelled.status());
  const CallInfo& call = cancelled->call();
  *c.out << "cancelled call " << (call.call_id().empty() ? id : call.call_id());
  if (!call.method().empty()) *c.out << " (" << call.method();
  if (!call.peer().empty()) *c.out << " from " << call.peer();
  if (!call.method().empty()) {
    *c.out << ", " << Done(call) << "/" << call.jobs_total() << " jobs done, "
           << call.jobs_running() + call.jobs_pending() << " end CANCELLED)";
  }
  if (!reason.empty()) *c.out << ": " << reason;
  *c.out << '\n' << std::flush;
  return kExitOk;
}

}  // namespace

std::string CallsTable(const ListCallsResponse& calls, absl::Time now) {
  std::vector<std::vector<std::string>> rows = {
      {"CALL_ID", "METHOD", "PEER", "IDENTITY", "AGE", "DEADLINE_LEFT",
       "DONE/TOTAL", "RUNNING", "PENDING", "WAITING_ON", "FLAGS"}};
  for (const CallInfo& call : calls.calls()) {
    rows.push_back({call.call_id(), call.method(), call.peer(),
                    call.identity().empty() ? "-" : call.identity(),
                    CompactDuration(CallAge(call, now)),
                    call.has_deadline_left()
                        ? CompactDuration(FromProto(call.deadline_left()))
                        : "-",
                    absl::StrCat(Done(call), "/", call.jobs_total()),
                    absl::StrCat(call.jobs_running()),
                    absl::StrCat(call.jobs_pending()), WaitingOn(call),
                    CallFlags(call)});
  }
  std::vector<size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) {
        line.append(widths[i] - row[i].size() + 2, ' ');
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string CallsJson(const ListCallsResponse& calls) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(calls, &json, options);
  return json + "\n";
}

int CallsCommand(const std::vector<std::string>& args, const Console& c) {
  // Connection flags given before the command (jobgroup --target X calls
  // list) arrive first: find the subcommand after them.
  size_t i = 0;
  while (i < args.size() && absl::StartsWith(args[i], "-")) {
    if (args[i] == "-h" || args[i] == "--help") {
      *c.out << kCallsUsage << kCallsExit;
      return kExitOk;
    }
    i += args[i].find('=') == std::string::npos ? 2 : 1;
  }
  if (i >= args.size()) {
    return Usage(c, "", "give a subcommand: list or cancel");
  }
  std::vector<std::string> rest(args.begin(), args.begin() + i);
  rest.insert(rest.end(), args.begin() + i + 1, args.end());
  if (args[i] == "list") return ListCommand(rest, c);
  if (args[i] == "cancel") return CancelCommand(rest, c);
  return Usage(c, "",
               absl::StrCat("unknown subcommand \"", args[i],
                            "\"; one of list, cancel"));
}

}  // namespace jobgroup::client

// The subcommands of the jobgroup CLI; see commands.h.
#include "client/commands.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "client/batch_report.h"
#include "client/bench_command.h"
#include "client/calls_command.h"
#include "client/cli_flags.h"
#include "client/human_duration.h"
#include "client/job_client.h"
#include "client/job_source.h"
#include "client/jsonl_job_reader.h"
#include "client/output_format.h"
#include "client/progress_bar.h"
#include "client/result_output.h"
#include "client/result_printer.h"
#include "client/run_options.h"
#include "client/spinner.h"
#include "client/top_command.h"
#include "google/protobuf/stubs/common.h"
#include "grpcpp/grpcpp.h"

namespace jobgroup::client {
namespace {

using ::jobgroup::v1::JobResult;

// Without --deadline no deadline is sent, so the server applies its default;
// the client still gives up after this long.
constexpr absl::Duration kWaitLimitWithoutDeadline = absl::Hours(1);
constexpr absl::Duration kInfoDeadline = absl::Seconds(10);
constexpr absl::Duration kHealthDeadline = absl::Seconds(5);
// When a call hit a deadline the client did not set alone, it asks the
// server for its figures this long at most, to say which one.
constexpr absl::Duration kDeadlineInfoWait = absl::Seconds(2);

constexpr char kExitStatusHelp[] =
    "Exit status: 0 every job succeeded; 1 some job did not succeed (or was\n"
    "not run); 2 usage error, unreadable input or failed call (e.g. server\n"
    "unreachable); 130 Ctrl-C (what arrived and the summary are printed).\n"
    "Whenever it is not 0, one line on stderr says why\n"
    "(--quiet silences it for 1). Output formats and JSON shapes:\n"
    "docs/CLI.md.\n";

constexpr char kTopUsage[] =
    R"(jobgroup: the command-line client of jobgroupd, which runs batches of
jobs as task groups (deadline, failure policy, backend limits).

Usage: jobgroup [--target HOST:PORT] COMMAND [flags]

Commands:
  run       run a batch of jobs and print a summary
            (RunBatch; StreamBatch with --stream)
  process   stream jobs from a file, stdin or a generator in bounded memory;
            results are printed as JSON Lines as they finish (Process)
  info      describe the server: kinds, backends, queue, workers, limits
  health    check the server's health; exit 0 only when SERVING
  bench     load generator: calls/s, jobs/s and latency percentiles of
            RunBatch, StreamBatch or Process calls (closed or open loop)
  calls     the calls in flight on the server (calls list) and stopping
            one (calls cancel ID); admin API, needs an admin token
  top       what the server is doing, refreshed live: calls, backends,
            queue, workers, rates; keys to sort, select and cancel calls
  version   print the client's version

Global flags (also accepted after the command):
  --target HOST:PORT  server address (default $JOBGROUP_TARGET, else
                      localhost:50051); dns:///HOST:PORT spreads the calls
                      over every address of HOST (round robin)
  --help              this text; 'jobgroup COMMAND --help' for a command's
                      flags and examples

Examples:
  jobgroup run --kind sleep --count 50000 --param ms=5 --max-concurrency 500
  jobgroup --target dns:///jobgroupd.jobs.svc:50051 info
  jobgroup process --jobs-file jobs.jsonl > results.jsonl
  jobgroup health && echo ready
  jobgroup bench --jobs-per-call 10 --rate 5000 --duration 30s
  jobgroup top --admin-token-file admin.token
  jobgroup calls cancel 3f2a... --reason "runaway" --admin-token-file t

Environment:
  JOBGROUP_TARGET   default for --target
  JOBGROUP_TOKEN    default for --token
  JOBGROUP_ADMIN_TOKEN  the admin token of calls and top (else
                    --admin-token-file)
  NO_COLOR          no colours in the output (also off when stdout is not a
                    terminal)
  GRPC_VERBOSITY    e.g. DEBUG: show gRPC's own log lines on stderr

Exit status: 0 success; 1 some job did not succeed (health: not SERVING);
2 usage error, unreadable input or failed call (e.g. server unreachable);
130 Ctrl-C ended a run or process call (its outcomes so far and the summary
are printed; a second Ctrl-C exits at once). Whenever it is not 0, one line
on stderr says why. See docs/CLI.md.
)";

constexpr char kRunUsage[] =
    R"(Usage: jobgroup run [flags]

Runs a batch of jobs on jobgroupd as one task group (RunBatch, or StreamBatch
with --stream) and prints a summary table: the count of each outcome, the
elapsed time, jobs/s and whether the deadline hit (and which one). -o jsonl
prints one JobResult per line instead, and nothing else on stdout; -o json
one JSON document with the summary (and every result with --results); -o
wide a row per result, then the table.

The jobs are --count copies of one job described by --kind, --param,
--payload, --backend and --timeout, or the lines of --jobs-file: JSON Lines,
one jobgroup.v1.Job per line in protobuf's JSON form, blank lines skipped:
  {"id": "a", "kind": "sleep", "params": {"ms": "200"}, "timeout": "1s"}
  {"kind": "fail", "fallbacks": [{"kind": "echo", "payload": "aGk="}]}
(bytes such as payload are base64 in JSON). The whole batch is sent in one
request; for inputs too large for that, use 'jobgroup process'.

Examples:
  jobgroup run --kind sleep --count 50000 --param ms=5 --max-concurrency 500
  jobgroup run --kind echo --payload hello -o jsonl
  jobgroup run --kind echo --count 100 -o json | jq .summary
  jobgroup run --kind fail --count 10 --policy collect-all
  jobgroup run --jobs-file jobs.jsonl --deadline 30s --stream
  generate-jobs | jobgroup run --jobs-file - --batch-size 100 --deadline 1m30s

)";

constexpr char kProcessUsage[] =
    R"(Usage: jobgroup process [flags]

Streams jobs to jobgroupd through Process, producer-consumer over the wire:
jobs are read lazily from --jobs-file (a file, or - for stdin) or generated
from --kind/--count, and sent only as fast as the server takes them, so
memory stays bounded for any input length. Results are written to stdout as
JSON Lines as they finish (-o table prints a summary instead, -o json one
document); the end of the input ends the call. Without --deadline the call
has no deadline of its own: the server's --max_deadline (10m by default)
bounds it. The jobs file has the format of 'jobgroup run':
one jobgroup.v1.Job per line in protobuf's JSON form.

When the server ends the call before the input does (a failure under
fail-fast, the deadline, a drain), the jobs sent after the ones it read are
not run: one line on stderr says how many (sent but not run, never sent)
and which deadline was hit, if one was, and the exit status is 1.

Examples:
  jobgroup process --jobs-file jobs.jsonl > results.jsonl
  produce-jobs | jobgroup process --jobs-file - --max-concurrency 64
  jobgroup process --kind compute --count 1000000 -o table
  jobgroup process --jobs-file jobs.jsonl --policy collect-all --deadline 10m

)";

constexpr char kInfoUsage[] =
    R"(Usage: jobgroup info [flags]

Describes the server: its version, job kinds, backends (capacity, permits in
use, jobs waiting), ready queue, workers and request limits.

Examples:
  jobgroup info
  jobgroup info -o json | jq '.backends'
  jobgroup --target dns:///jobgroupd.jobs.svc:50051 info

)";

constexpr char kHealthUsage[] =
    R"(Usage: jobgroup health [flags]

Asks the server's standard gRPC health service (grpc.health.v1.Health/Check)
and prints SERVING, NOT_SERVING or SERVICE_UNKNOWN. Exit status 0 only when
SERVING, 1 when the server answers otherwise, 2 when it cannot be reached.

Examples:
  jobgroup health
  jobgroup health --service jobgroup.v1.JobService
  until jobgroup health --target localhost:50051; do sleep 1; done

)";

constexpr char kVersionUsage[] =
    R"(Usage: jobgroup version

Prints the version of this client and of the gRPC and protobuf libraries it
uses ('jobgroup info' shows the server's version).
)";

std::string WithHint(absl::string_view command, absl::string_view message) {
  if (absl::StrContains(message, "--help")) return std::string(message);
  return absl::StrCat(message, " (see 'jobgroup ", command, " --help')");
}

int UsageError(const Console& c, absl::string_view command,
               const absl::Status& status) {
  *c.err << "jobgroup " << command << ": "
         << WithHint(command, status.message()) << '\n';
  return kExitUsageOrConnection;
}

// A failed call: say what happened and what to do about it.
// `results` counts the results that arrived before a streaming call failed.
int CallError(const Console& c, absl::string_view command,
              const absl::Status& status, uint64_t results = 0) {
  std::string message(status.message());
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      absl::StrAppend(&message, " (--target HOST:PORT sets the address)");
      break;
    case absl::StatusCode::kDeadlineExceeded:
      if (results > 0) {
        absl::StrAppend(&message,
                        " (the deadline passed before the server's summary "
                        "arrived; ",
                        results, " results arrived)");
      } else {
        absl::StrAppend(&message,
                        " (the call ran out of time: raise --deadline)");
      }
      break;
    case absl::StatusCode::kResourceExhausted:
      absl::StrAppend(&message,
                      " (the server is at a limit: retry later, or send "
                      "fewer or smaller jobs)");
      break;
    default:
      break;
  }
  *c.err << "jobgroup " << command << ": " << message << '\n';
  return kExitUsageOrConnection;
}

void PrintUsage(const Console& c, const char* usage, const FlagParser& parser) {
  *c.out << usage << parser.FlagsHelp()
         << "  --help                  this text\n\n"
         << kExitStatusHelp;
}

bool UseColour(const Console& c) { return c.stdout_is_terminal && !c.no_color; }

// Where the jobs of --jobs-file come from: a file we own, or stdin.
struct JobsInput {
  std::unique_ptr<std::ifstream> file;
  std::istream* stream = nullptr;
  std::string name;
};

absl::StatusOr<JobsInput> OpenJobsFile(const std::string& path,
                                       const Console& c) {
  JobsInput input;
  if (path == "-") {
    input.stream = c.in;
    input.name = "stdin";
    if (c.stdin_is_terminal) {
      *c.err << "jobgroup: reading jobs from the terminal, one JSON object "
                "per line; end with Ctrl-D\n";
    }
    return input;
  }
  input.file = std::make_unique<std::ifstream>(path);
  if (!*input.file) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--jobs-file: cannot open \"", path, "\": ", std::strerror(errno)));
  }
  input.stream = input.file.get();
  input.name = path;
  return input;
}

// Counts the jobs handed to Process() for the progress line and keeps the
// input's error apart from the call's. Next() runs on Process()'s writer
// thread; sent() may be read on any thread, error() once Process() returned.
class CountingJobSource : public JobSource {
 public:
  explicit CountingJobSource(JobSource& source) : source_(source) {}
  absl::StatusOr<bool> Next(jobgroup::v1::Job& job) override {
    absl::StatusOr<bool> more = source_.Next(job);
    if (!more.ok()) error_ = more.status();
    if (more.ok() && *more) sent_.fetch_add(1, std::memory_order_relaxed);
    if (more.ok() && !*more) exhausted_ = true;
    return more;
  }
  bool ReadyNow() override { return source_.ReadyNow(); }
  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  const absl::Status& error() const { return error_; }
  // The source said it had no more jobs (read once Process() returned).
  bool exhausted() const { return exhausted_; }

 private:
  JobSource& source_;
  std::atomic<uint64_t> sent_{0};
  absl::Status error_;
  bool exhausted_ = false;
};

// Moves `jobs` into a request, leaving `jobs` empty.
void MoveJobs(std::vector<jobgroup::v1::Job>& jobs,
              google::protobuf::RepeatedPtrField<jobgroup::v1::Job>& into) {
  into.Reserve(static_cast<int>(jobs.size()));
  for (jobgroup::v1::Job& job : jobs) *into.Add() = std::move(job);
  jobs.clear();
}

CallOptions BatchCallOptions(const RunOptions& options, const Console& c) {
  CallOptions call;
  call.canceller = c.interrupt;
  call.deadline = options.deadline;
  if (options.longest_deadline) call.deadline = kLongestDeadline;
  call.wait_limit = kWaitLimitWithoutDeadline;
  return call;
}

bool Interrupted(const Console& c) {
  return c.interrupt != nullptr && c.interrupt->cancelled();
}

// Which deadline bounded the call, and how long it was. The server's
// figures are asked for only when a deadline was hit that --deadline alone
// does not explain (none given, or one the server may have capped).
DeadlineUsed ResolveDeadline(JobClient& client, const RunOptions& options,
                             const BatchEnd& end) {
  DeadlineUsed used;
  if (options.deadline.has_value()) {
    used = {DeadlineSource::kFlag, options.deadline};
  } else if (options.longest_deadline) {
    used = {DeadlineSource::kServerMax, std::nullopt};
  }
  if (!DeadlineHit(end)) return used;
  CallOptions call;
  call.deadline = kDeadlineInfoWait;
  absl::StatusOr<jobgroup::v1::GetServerInfoResponse> info =
      client.GetServerInfo(call);
  if (!info.ok()) return used;
  const absl::Duration max = ToAbslDuration(info->limits().max_deadline());
  const absl::Duration fallback =
      ToAbslDuration(info->limits().default_deadline());
  switch (used.source) {
    case DeadlineSource::kFlag:
      if (max > absl::ZeroDuration() && *used.value > max) {
        used = {DeadlineSource::kServerMax, max};
      }
      break;
    case DeadlineSource::kServerMax:
      if (max > absl::ZeroDuration())
        used.value = std::min(max, kLongestDeadline);
      break;
    case DeadlineSource::kServerDefault:
      if (fallback > absl::ZeroDuration()) {
        used.value =
            max > absl::ZeroDuration() ? std::min(fallback, max) : fallback;
      }
      break;
  }
  return used;
}

// The end of a run or process command: the rest of the output (the table,
// or the end of the json document), the one line on stderr when the exit
// status is not 0 (unless --quiet), and that status.
int FinishBatch(const Console& c, JobClient& client, const RunOptions& options,
                ResultPrinter& printer, const ResultTally& tally,
                BatchEnd& end) {
  end.target = options.client.target;
  end.outcomes = tally.counts();
  end.results_received = tally.received();
  end.deadline = ResolveDeadline(client, options, end);
  const std::string reason = ExitReason(end);
  end.exit_status = end.interrupted  ? kExitInterrupted
                    : reason.empty() ? kExitOk
                                     : kExitJobsNotSucceeded;
  printer.End(end);
  if (options.output == OutputFormat::kTable ||
      options.output == OutputFormat::kWide) {
    RunReport report;
    if (end.summary.has_value()) {
      report.summary = *end.summary;
    } else {
      report.summary.set_total(tally.received());
    }
    report.client_elapsed = end.client_elapsed;
    report.deadline = DescribeDeadline(end.deadline);
    report.results_received = tally.received();
    report.examples = tally.Examples(10);
    report.not_succeeded = tally.not_succeeded();
    const uint64_t sent_not_run =
        end.jobs_sent > tally.received() ? end.jobs_sent - tally.received() : 0;
    if (sent_not_run > 0 || end.jobs_not_sent != uint64_t{0}) {
      report.not_run = absl::StrCat(sent_not_run, " sent but not run, ");
      absl::StrAppend(&report.not_run,
                      end.jobs_not_sent.has_value()
                          ? absl::StrCat(*end.jobs_not_sent, " never sent")
                          : std::string("the rest of the input never sent"));
    }
    PrintRunReport(*c.out, report, UseColour(c));
    c.out->flush();
  }
  if (options.quiet) return end.exit_status;
  if (!reason.empty()) {
    *c.err << reason << '\n';
  } else if (c.stderr_is_terminal && (options.output == OutputFormat::kJsonl ||
                                      options.output == OutputFormat::kJson)) {
    *c.err << ShortSummary(end) << '\n';
  }
  return end.exit_status;
}

// A progress bar on a terminal, unless results go to the same terminal.
bool ShowProgress(const Console& c, const RunOptions& options) {
  return c.stderr_is_terminal &&
         !(c.stdout_is_terminal && (options.output == OutputFormat::kJsonl ||
                                    options.output == OutputFormat::kWide));
}

int RunCommand(const std::vector<std::string>& args, const Console& c) {
  FlagParser parser("jobgroup run");
  AddRunFlags(parser, RunMode::kRun);
  absl::StatusOr<ParsedFlags> flags = parser.Parse(args);
  if (!flags.ok()) return UsageError(c, "run", flags.status());
  if (flags->help()) {
    PrintUsage(c, kRunUsage, parser);
    return kExitOk;
  }
  absl::StatusOr<RunOptions> options =
      RunOptionsFromFlags(*flags, RunMode::kRun);
  if (!options.ok()) return UsageError(c, "run", options.status());

  std::vector<jobgroup::v1::Job> jobs;
  if (options->jobs_file.empty()) {
    jobs.assign(options->count, options->job);
  } else {
    absl::StatusOr<JobsInput> input = OpenJobsFile(options->jobs_file, c);
    if (!input.ok()) return UsageError(c, "run", input.status());
    JsonlJobReader reader(*input->stream, input->name);
    absl::StatusOr<std::vector<jobgroup::v1::Job>> read = ReadAllJobs(reader);
    if (!read.ok()) {
      *c.err << "jobgroup run: " << read.status().message() << '\n';
      return kExitUsageOrConnection;
    }
    if (read->empty()) {
      *c.err << "jobgroup run: no jobs in " << input->name
             << " (one jobgroup.v1.Job per line)\n";
      return kExitUsageOrConnection;
    }
    jobs = *std::move(read);
  }

  absl::StatusOr<std::unique_ptr<JobClient>> client =
      JobClient::Create(options->client);
  if (!client.ok()) return UsageError(c, "run", client.status());

  ResultPrinter printer(*c.out, options->output, options->results,
                        options->decode_outputs);
  ResultTally tally;
  BatchEnd end;
  end.command = "run";
  end.jobs_sent = jobs.size();
  const absl::Time start = absl::Now();
  if (options->stream) {
    jobgroup::v1::StreamBatchRequest request;
    MoveJobs(jobs, *request.mutable_jobs());
    *request.mutable_options() = options->batch;
    ProgressBar bar(*c.err, ShowProgress(c, *options),
                    static_cast<uint64_t>(request.jobs_size()));
    absl::StatusOr<jobgroup::v1::BatchSummary> streamed =
        (*client)->StreamBatch(
            request, BatchCallOptions(*options, c),
            [&](const jobgroup::v1::StreamBatchResponse& response) {
              for (const JobResult& result : response.results()) {
                tally.Add(result);
                printer.Add(result);
              }
              printer.Flush();
              bar.Update(tally.received(), tally.not_succeeded());
            });
    bar.Clear();
    if (!streamed.ok() && Interrupted(c)) {
      end.interrupted = true;
      end.call_status = streamed.status();
    } else if (!streamed.ok()) {
      return CallError(c, "run", streamed.status(), tally.received());
    } else {
      end.summary = *std::move(streamed);
    }
  } else {
    jobgroup::v1::RunBatchRequest request;
    MoveJobs(jobs, *request.mutable_jobs());
    *request.mutable_options() = options->batch;
    // RunBatch says nothing until it ends: on a terminal, show that it is
    // still going.
    Spinner spinner(*c.err, c.stderr_is_terminal && !options->quiet,
                    absl::StrCat("running ", request.jobs_size(),
                                 request.jobs_size() == 1 ? " job" : " jobs"));
    spinner.Start();
    absl::StatusOr<jobgroup::v1::RunBatchResponse> response =
        (*client)->RunBatch(request, BatchCallOptions(*options, c));
    spinner.Stop();
    if (!response.ok() && Interrupted(c)) {
      end.interrupted = true;
      end.call_status = response.status();
    } else if (!response.ok()) {
      return CallError(c, "run", response.status());
    } else {
      for (const JobResult& result : response->results()) {
        tally.Add(result);
        printer.Add(result);
      }
      end.summary = response->summary();
    }
  }
  end.client_elapsed = absl::Now() - start;
  return FinishBatch(c, **client, *options, printer, tally, end);
}

int ProcessCommand(const std::vector<std::string>& args, const Console& c) {
  FlagParser parser("jobgroup process");
  AddRunFlags(parser, RunMode::kProcess);
  absl::StatusOr<ParsedFlags> flags = parser.Parse(args);
  if (!flags.ok()) return UsageError(c, "process", flags.status());
  if (flags->help()) {
    PrintUsage(c, kProcessUsage, parser);
    return kExitOk;
  }
  absl::StatusOr<RunOptions> options =
      RunOptionsFromFlags(*flags, RunMode::kProcess);
  if (!options.ok()) return UsageError(c, "process", options.status());

  JobsInput input;
  std::unique_ptr<JobSource> source;
  std::optional<uint64_t> total;
  if (options->jobs_file.empty()) {
    source = std::make_unique<RepeatedJobSource>(options->job, options->count);
    total = options->count;
  } else {
    absl::StatusOr<JobsInput> opened = OpenJobsFile(options->jobs_file, c);
    if (!opened.ok()) return UsageError(c, "process", opened.status());
    input = *std::move(opened);
    source = std::make_unique<JsonlJobReader>(*input.stream, input.name);
  }
  CountingJobSource counting(*source);

  absl::StatusOr<std::unique_ptr<JobClient>> client =
      JobClient::Create(options->client);
  if (!client.ok()) return UsageError(c, "process", client.status());

  ProgressBar bar(*c.err, ShowProgress(c, *options), total);
  ResultPrinter printer(*c.out, options->output, options->results,
                        options->decode_outputs);
  ResultTally tally;
  ProcessOptions process_options;
  process_options.batch = options->batch;
  // Whoever reads stdout sees each result as soon as its message arrives.
  process_options.after_each_message = [&printer] { printer.Flush(); };
  std::optional<jobgroup::v1::BatchSummary> last_summary;
  process_options.on_summary =
      [&last_summary](const jobgroup::v1::BatchSummary& s) {
        last_summary = s;
      };
  const absl::Time start = absl::Now();
  absl::StatusOr<jobgroup::v1::BatchSummary> summary = (*client)->Process(
      process_options, counting, BatchCallOptions(*options, c),
      [&](const JobResult& result) {
        tally.Add(result);
        printer.Add(result);
        bar.Update(tally.received(), tally.not_succeeded(), counting.sent());
      });
  bar.Clear();
  BatchEnd end;
  end.command = "process";
  end.client_elapsed = absl::Now() - start;
  if (!summary.ok()) {
    if (!counting.error().ok()) {
      // The input was bad: the message names the line.
      printer.Flush();
      *c.err << "jobgroup process: " << counting.error().message()
             << " (the call was cancelled; " << tally.received()
             << " results were printed)\n";
      return kExitUsageOrConnection;
    }
    if (Interrupted(c)) {
      end.interrupted = true;
    } else if (!last_summary.has_value() && tally.received() == 0) {
      printer.Flush();
      return CallError(c, "process", summary.status(), tally.received());
    }
    // The server ran jobs, then ended the call before the input did
    // (fail-fast, deadline, drain...): the end says how many it did not run.
    end.call_status = summary.status();
    end.summary = last_summary;
  } else {
    end.summary = *summary;
  }
  end.jobs_sent = counting.sent();
  if (total.has_value()) {
    end.jobs_not_sent = *total - std::min(*total, counting.sent());
  } else if (counting.exhausted()) {
    end.jobs_not_sent = 0;
  } else {
    end.jobs_not_sent = std::nullopt;
  }
  return FinishBatch(c, **client, *options, printer, tally, end);
}

int InfoCommand(const std::vector<std::string>& args, const Console& c) {
  FlagParser parser("jobgroup info");
  parser.Section("Output")
      .Value("output", "FORMAT",
             "table (default; text is the old spelling) or json\n"
             "(GetServerInfoResponse in protobuf's JSON)")
      .Short('o', "output");
  parser.Value("deadline", "DURATION", "how long to wait (default 10s)");
  AddConnectionFlags(parser);
  absl::StatusOr<ParsedFlags> flags = parser.Parse(args);
  if (!flags.ok()) return UsageError(c, "info", flags.status());
  if (flags->help()) {
    *c.out << kInfoUsage << parser.FlagsHelp()
           << "  --help                  this text\n\nExit status: 0 the "
              "server answered; 2 it did not (or a usage error).\n";
    return kExitOk;
  }
  if (!flags->positional().empty()) {
    return UsageError(
        c, "info",
        absl::InvalidArgumentError(absl::StrCat(
            "unexpected argument \"", flags->positional().front(), "\"")));
  }
  absl::StatusOr<OutputFormat> output =
      ParseOutputFormat(flags->Get("output", "table"),
                        {OutputFormat::kTable, OutputFormat::kJson});
  if (!output.ok()) return UsageError(c, "info", output.status());
  CallOptions call;
  call.deadline = kInfoDeadline;
  if (flags->Has("deadline")) {
    absl::StatusOr<absl::Duration> d =
        ParseHumanDuration(flags->Get("deadline"));
    if (!d.ok()) {
      return UsageError(c, "info",
                        absl::InvalidArgumentError(absl::StrCat(
                            "--deadline: ", d.status().message())));
    }
    call.deadline = *d;
  }
  absl::StatusOr<ClientOptions> client_options = ClientOptionsFromFlags(*flags);
  if (!client_options.ok())
    return UsageError(c, "info", client_options.status());
  absl::StatusOr<std::unique_ptr<JobClient>> client =
      JobClient::Create(*client_options);
  if (!client.ok()) return UsageError(c, "info", client.status());
  absl::StatusOr<jobgroup::v1::GetServerInfoResponse> info =
      (*client)->GetServerInfo(call);
  if (!info.ok()) return CallError(c, "info", info.status());
  if (*output == OutputFormat::kJson) {
    *c.out << ServerInfoToJson(*info);
  } else {
    PrintServerInfo(*c.out, client_options->target, *info);
  }
  c.out->flush();
  return kExitOk;
}

int HealthCommand(const std::vector<std::string>& args, const Console& c) {
  FlagParser parser("jobgroup health");
  parser.Section("Health")
      .Value("service", "NAME",
             "service to ask about, e.g. jobgroup.v1.JobService\n"
             "(default: the whole server)")
      .Value("deadline", "DURATION", "how long to wait (default 5s)")
      .Bool("quiet", "no line on stderr when the server is not SERVING")
      .Short('q', "quiet");
  AddConnectionFlags(parser);
  absl::StatusOr<ParsedFlags> flags = parser.Parse(args);
  if (!flags.ok()) return UsageError(c, "health", flags.status());
  if (flags->help()) {
    *c.out << kHealthUsage << parser.FlagsHelp()
           << "  --help                  this text\n";
    return kExitOk;
  }
  if (!flags->positional().empty()) {
    return UsageError(
        c, "health",
        absl::InvalidArgumentError(absl::StrCat(
            "unexpected argument \"", flags->positional().front(), "\"")));
  }
  CallOptions call;
  call.deadline = kHealthDeadline;
  if (flags->Has("deadline")) {
    absl::StatusOr<absl::Duration> d =
        ParseHumanDuration(flags->Get("deadline"));
    if (!d.ok()) {
      return UsageError(c, "health",
                        absl::InvalidArgumentError(absl::StrCat(
                            "--deadline: ", d.status().message())));
    }
    call.deadline = *d;
  }
  absl::StatusOr<ClientOptions> client_options = ClientOptionsFromFlags(*flags);
  if (!client_options.ok()) {
    return UsageError(c, "health", client_options.status());
  }
  absl::StatusOr<std::unique_ptr<JobClient>> client =
      JobClient::Create(*client_options);
  if (!client.ok()) return UsageError(c, "health", client.status());
  absl::StatusOr<ServingStatus> status =
      (*client)->CheckHealth(flags->Get("service"), call);
  if (!status.ok()) return CallError(c, "health", status.status());
  *c.out << ServingStatusName(*status) << '\n' << std::flush;
  if (*status == ServingStatus::kServing) return kExitOk;
  if (!flags->GetBool("quiet")) {
    const std::string service = flags->Get("service");
    *c.err << "jobgroup health: "
           << (service.empty() ? std::string("the server")
                               : absl::StrCat("service ", service))
           << " at " << client_options->target << " is "
           << ServingStatusName(*status) << '\n';
  }
  return kExitJobsNotSucceeded;
}

int VersionCommand(const std::vector<std::string>& args, const Console& c) {
  FlagParser parser("jobgroup version");
  absl::StatusOr<ParsedFlags> flags = parser.Parse(args);
  if (!flags.ok()) return UsageError(c, "version", flags.status());
  if (flags->help()) {
    *c.out << kVersionUsage;
    return kExitOk;
  }
  if (!flags->positional().empty()) {
    return UsageError(
        c, "version",
        absl::InvalidArgumentError(absl::StrCat(
            "unexpected argument \"", flags->positional().front(), "\"")));
  }
  *c.out << "jobgroup " << ClientVersion() << " (gRPC " << grpc::Version()
         << ", protobuf "
         << google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION)
         << ")\n";
  return kExitOk;
}

// Connection flags given before the command apply to it.
bool IsGlobalValueFlag(absl::string_view name) {
  return name == "target" || name == "tls-ca" || name == "tls-cert" ||
         name == "tls-key" || name == "tls-server-name" || name == "token";
}

}  // namespace

int RunCli(const std::vector<std::string>& args, const Console& c) {
  std::vector<std::string> global;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help" || arg == "help") {
      // `jobgroup help run` is `jobgroup run --help`.
      if (arg == "help" && i + 1 < args.size()) {
        return RunCli({args[i + 1], "--help"}, c);
      }
      *c.out << kTopUsage;
      return kExitOk;
    }
    if (arg == "--version") return VersionCommand({}, c);
    if (!absl::StartsWith(arg, "-")) break;
    absl::string_view name =
        absl::string_view(arg).substr(absl::StartsWith(arg, "--") ? 2 : 1);
    name = name.substr(0, name.find('='));
    if (!IsGlobalValueFlag(name) || !absl::StartsWith(arg, "--")) {
      *c.err << "jobgroup: unknown flag " << arg
             << " before the command; command flags go after it, e.g. "
                "'jobgroup run --kind sleep' (see 'jobgroup --help')\n";
      return kExitUsageOrConnection;
    }
    global.push_back(arg);
    if (arg.find('=') == std::string::npos) {
      if (i + 1 >= args.size()) {
        *c.err << "jobgroup: " << arg << " needs a value (see 'jobgroup "
               << "--help')\n";
        return kExitUsageOrConnection;
      }
      global.push_back(args[++i]);
    }
  }
  if (i >= args.size()) {
    *c.err << "jobgroup: no command given; one of run, process, info, health, "
              "bench, calls, top, version (see 'jobgroup --help')\n";
    return kExitUsageOrConnection;
  }
  const std::string& command = args[i];
  std::vector<std::string> rest = global;
  rest.insert(rest.end(), args.begin() + i + 1, args.end());
  if (command == "run") return RunCommand(rest, c);
  if (command == "process") return ProcessCommand(rest, c);
  if (command == "info") return InfoCommand(rest, c);
  if (command == "health") return HealthCommand(rest, c);
  if (command == "bench") return BenchCommand(rest, c);
  if (command == "calls") return CallsCommand(rest, c);
  if (command == "top") return TopCommand(rest, c);
  if (command == "version") {
    if (!global.empty()) rest.erase(rest.begin(), rest.begin() + global.size());
    return VersionCommand(rest, c);
  }
  *c.err << "jobgroup: unknown command \"" << command
         << "\"; one of run, process, info, health, bench, calls, top, version "
            "(see "
            "'jobgroup --help')\n";
  return kExitUsageOrConnection;
}

}  // namespace jobgroup::client

// `jobgroup bench`; see bench_command.h and load_generator.h.
#include "client/bench_command.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/cli_flags.h"
#include "client/human_duration.h"
#include "client/job_client.h"
#include "client/load_generator.h"
#include "client/output_format.h"
#include "client/run_options.h"

namespace jobgroup::client {
namespace {

constexpr absl::Duration kDefaultBenchDeadline = absl::Seconds(10);
constexpr absl::Duration kProbeDeadline = absl::Seconds(5);

constexpr char kBenchUsage[] =
    R"(Usage: jobgroup bench [flags]

Load generator: keeps RunBatch, StreamBatch or Process calls going against
the server for --duration after a --warmup, then prints calls/s, jobs/s,
call latency percentiles (p50, p90, p99, p99.9), errors by gRPC code and the
outcomes of the jobs. Every call carries --jobs-per-call copies of the job
described by --kind (default echo), --param, --payload, --backend and
--timeout.

Two kinds of load:
  --concurrency N  closed loop: N calls in flight at all times, a call
                   ending starts the next; measures what the server gives
  --rate R         open loop (--rps R is the same, ghz's name): R calls/s
                   started on a fixed schedule whether or not earlier calls
                   ended; each call's latency counts from its
                   scheduled start, so a server (or client) that falls
                   behind shows up as latency rather than as calls never
                   sent. --max-in-flight caps the calls running at once;
                   a call waiting for a slot is still charged from its
                   scheduled start; calls started more than 1ms late are
                   counted (late starts), and calls still waiting when
                   the window ends are reported as unstarted
The calls use gRPC's callback API, so one process keeps any number in
flight; --connections N spreads them round robin over N connections (N
channels that share no subchannel). Rates count what happened inside the
measured window; latency (of every call, OK or not), the histogram, errors
by gRPC code and outcomes cover the calls started in it, which run to their
end. Calls that end after the window are counted apart ("after"); when no
call ends inside it (calls longer than --duration) there is no rate, and
the exit status is 1 saying so.

Examples:
  jobgroup bench --jobs-per-call 10000 --concurrency 2
  jobgroup bench --jobs-per-call 10 --rate 5000 --duration 30s -o json
  jobgroup bench --method process --jobs-per-call 100000 --concurrency 1
  jobgroup bench --method stream --kind sleep --param ms=5 \
      --jobs-per-call 100 --max-concurrency 100 --concurrency 8
  jobgroup bench --rate 200 --kind compute --deadline 2s --connections 2
  jobgroup bench --rps 100 --connections 4 --duration 30s -o csv >> runs.csv

)";

constexpr char kBenchExitStatus[] =
    "Exit status: 0 every measured call ended OK and every job succeeded;\n"
    "1 some call failed, some job did not succeed, some call due never\n"
    "started, or no call ended inside the window; 2 usage error or server\n"
    "unreachable.\n";

void AddBenchFlags(FlagParser& parser) {
  parser.Section("Load")
      .Value("method", "METHOD",
             "run (RunBatch, default), stream (StreamBatch) or\n"
             "process (Process: jobs streamed in, results out)")
      .Value("concurrency", "N",
             "closed loop: N calls in flight (default 1 without\n"
             "--rate)")
      .Value("rate", "R",
             "open loop: start R calls/s on schedule, e.g. 5000 or\n"
             "0.5")
      .Value("rps", "R", "the same as --rate")
      .Value("max-in-flight", "N",
             "open loop: calls running at once at most (default\n"
             "1000)")
      .Value("duration", "DURATION", "measured time (default 10s)")
      .Value("warmup", "DURATION",
             "time before measuring, not counted (default 1s; 0\n"
             "for none)")
      .Value("jobs-per-call", "N", "jobs in each call (default 1)")
      .Value("jobs-per-message", "N",
             "process: jobs per stream message (default 256)")
      .Value("connections", "N",
             "spread the calls over N connections (default 1)");
  parser.Section("Jobs")
      .Value("kind", "KIND", "kind of every job (default echo)")
      .Repeated("param", "KEY=VALUE", "parameter of every job")
      .Value("payload", "TEXT", "payload of every job, as text")
      .Value("payload-file", "FILE", "payload of every job: the bytes of FILE")
      .Value("backend", "NAME", "backend of every job (default: the kind's)")
      .Value("timeout", "DURATION", "bound on each attempt of a job");
  parser.Section("Batch")
      .Value("batch-size", "N",
             "run each call's jobs in rounds of N (default 0: one)")
      .Value("max-concurrency", "N",
             "at most N jobs of a call in flight (0: no cap)")
      .Value("policy", "POLICY", "fail-fast (default) or collect-all")
      .Value("deadline", "DURATION",
             "deadline of every call (default 10s); also bounds\n"
             "how long the last calls may take to end");
  parser.Section("Output")
      .Value("output", "FORMAT",
             "table (default); json: the figures as one JSON\n"
             "object; csv: a header line and one line of figures")
      .Short('o', "output")
      .Bool("json", "the old spelling of -o json")
      .Bool("quiet",
            "no line on stderr when some call or job did not\n"
            "succeed (errors that exit 2 are still said)")
      .Short('q', "quiet");
  AddConnectionFlags(parser);
}

int BenchUsageError(const Console& c, const absl::Status& status) {
  std::string message(status.message());
  if (message.find("--help") == std::string::npos) {
    absl::StrAppend(&message, " (see 'jobgroup bench --help')");
  }
  *c.err << "jobgroup bench: " << message << '\n';
  return kExitUsageOrConnection;
}

absl::StatusOr<absl::Duration> BenchDuration(const ParsedFlags& flags,
                                             absl::string_view name,
                                             absl::Duration fallback,
                                             bool zero_ok) {
  if (!flags.Has(name)) return fallback;
  const std::string text = flags.Get(name);
  absl::Duration zero;
  if (zero_ok && (text == "0" || (absl::ParseDuration(text, &zero) &&
                                  zero == absl::ZeroDuration()))) {
    return absl::ZeroDuration();
  }
  absl::StatusOr<absl::Duration> d = ParseHumanDuration(text);
  if (!d.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": ", d.status().message()));
  }
  return d;
}

absl::StatusOr<uint64_t> BenchCount(const ParsedFlags& flags,
                                    absl::string_view name, uint64_t fallback,
                                    uint64_t max) {
  if (!flags.Has(name)) return fallback;
  absl::StatusOr<uint64_t> value = ParseUintFlag(name, flags.Get(name), max);
  if (!value.ok()) return value.status();
  if (*value == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": must be at least 1"));
  }
  return value;
}

struct BenchSetup {
  ClientOptions client;
  CallSpec spec;
  LoadOptions load;
  OutputFormat output = OutputFormat::kTable;
  bool quiet = false;
};

absl::StatusOr<BenchSetup> BenchSetupFromFlags(const ParsedFlags& flags) {
  absl::StatusOr<OutputFormat> output = ParseOutputFormat(
      flags.Get("output", "table"),
      {OutputFormat::kTable, OutputFormat::kJson, OutputFormat::kCsv});
  if (!output.ok()) return output.status();
  // The job and batch flags mean what they mean to `jobgroup process`.
  absl::StatusOr<RunOptions> run = RunOptionsFromFlags(flags, RunMode::kBench);
  if (!run.ok()) return run.status();
  BenchSetup setup;
  setup.client = run->client;
  setup.spec.job = run->job;
  setup.spec.batch = run->batch;
  setup.spec.deadline = run->deadline.value_or(kDefaultBenchDeadline);
  setup.output = flags.GetBool("json") ? OutputFormat::kJson : *output;
  setup.quiet = flags.GetBool("quiet");

  const std::string method = flags.Get("method", "run");
  if (method == "run") {
    setup.spec.method = BenchMethod::kRunBatch;
  } else if (method == "stream") {
    setup.spec.method = BenchMethod::kStreamBatch;
  } else if (method == "process") {
    setup.spec.method = BenchMethod::kProcess;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--method: \"", method, "\" is not run, stream or process"));
  }

  if (flags.Has("rate") && flags.Has("rps")) {
    return absl::InvalidArgumentError(
        "--rate and --rps are two names of one flag: give one");
  }
  const std::string rate_flag = flags.Has("rps") ? "rps" : "rate";
  const bool open_loop = flags.Has(rate_flag);
  if (open_loop && flags.Has("concurrency")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", rate_flag, " and --concurrency exclude each other: --", rate_flag,
        " is an open loop, --concurrency a closed one"));
  }
  if (open_loop) {
    double rate = 0;
    const std::string text = flags.Get(rate_flag);
    if (!absl::SimpleAtod(text, &rate) || !(rate > 0) || rate > 1e7) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", rate_flag, ": \"", text,
                       "\" is not a rate in calls/s (more than 0)"));
    }
    setup.load.rate = rate;
  } else {
    absl::StatusOr<uint64_t> concurrency =
        BenchCount(flags, "concurrency", 1, 100'000);
    if (!concurrency.ok()) return concurrency.status();
    setup.load.concurrency = static_cast<uint32_t>(*concurrency);
  }
  if (flags.Has("max-in-flight") && !open_loop) {
    return absl::InvalidArgumentError(
        "--max-in-flight is for the open loop (--rate); with --concurrency "
        "the calls in flight are exactly N");
  }
  absl::StatusOr<uint64_t> max_in_flight =
      BenchCount(flags, "max-in-flight", 1000, 1'000'000);
  if (!max_in_flight.ok()) return max_in_flight.status();
  setup.load.max_in_flight = static_cast<uint32_t>(*max_in_flight);

  absl::StatusOr<absl::Duration> duration =
      BenchDuration(flags, "duration", absl::Seconds(10), false);
  if (!duration.ok()) return duration.status();
  setup.load.duration = *duration;
  absl::StatusOr<absl::Duration> warmup =
      BenchDuration(flags, "warmup", absl::Seconds(1), true);
  if (!warmup.ok()) return warmup.status();
  setup.load.warmup = *warmup;

  absl::StatusOr<uint64_t> jobs =
      BenchCount(flags, "jobs-per-call", 1, 10'000'000);
  if (!jobs.ok()) return jobs.status();
  setup.spec.jobs_per_call = *jobs;
  setup.load.jobs_per_call = *jobs;
  if (flags.Has("jobs-per-message") &&
      setup.spec.method != BenchMethod::kProcess) {
    return absl::InvalidArgumentError(
        "--jobs-per-message is for --method process");
  }
  absl::StatusOr<uint64_t> per_message =
      BenchCount(flags, "jobs-per-message", 256, 1'000'000);
  if (!per_message.ok()) return per_message.status();
  setup.spec.jobs_per_message = *per_message;
  absl::StatusOr<uint64_t> connections =
      BenchCount(flags, "connections", 1, 64);
  if (!connections.ok()) return connections.status();
  setup.spec.connections = static_cast<uint32_t>(*connections);
  return setup;
}

// Before the load: is anyone there, and does it take calls this large? A
// server without GetServerInfo (or refusing it) is benchmarked anyway.
absl::Status Probe(const BenchSetup& setup) {
  absl::StatusOr<std::unique_ptr<JobClient>> client =
      JobClient::Create(setup.client);
  if (!client.ok()) return client.status();
  CallOptions call;
  call.deadline = kProbeDeadline;
  absl::StatusOr<jobgroup::v1::GetServerInfoResponse> info =
      (*client)->GetServerInfo(call);
  if (!info.ok()) {
    if (absl::IsUnavailable(info.status()) ||
        absl::IsDeadlineExceeded(info.status())) {
      return info.status();
    }
    return absl::OkStatus();
  }
  const uint64_t max_jobs = info->limits().max_jobs_per_call();
  if (max_jobs > 0 && setup.spec.method != BenchMethod::kProcess &&
      setup.spec.jobs_per_call > max_jobs) {
    return absl::InvalidArgumentError(
        absl::StrCat("--jobs-per-call: the server takes at most ", max_jobs,
                     " jobs per call (--method process streams any number)"));
  }
  return absl::OkStatus();
}

// Why the bench exits 1, in one line; empty when every measured call ended
// OK and every job succeeded.
std::string BenchExitReason(const LoadReport& report) {
  std::vector<std::string> why;
  if (report.calls_ended_in_window == 0) {
    // Rates of 0 would read as a server doing nothing.
    std::string done =
        report.calls_ended_after_window > 0
            ? absl::StrCat(
                  report.calls_ended_after_window, " calls ended after it (",
                  report.results_after_window, " results), the last ",
                  FormatHumanDuration(report.overrun), " after its end")
            : std::string("none ended after it either");
    why.push_back(absl::StrCat("no call ended inside the ",
                               FormatHumanDuration(report.window),
                               " window, so there is no rate: ", done,
                               "; give a --duration longer than a call"));
  }
  if (!report.errors.empty()) {
    uint64_t failed = 0;
    std::vector<std::string> codes;
    for (const auto& [code, count] : report.errors) {
      failed += count;
      codes.push_back(absl::StrCat(count, " ", code));
    }
    why.push_back(absl::StrCat(failed, " of ", report.measured_calls,
                               " calls failed (", absl::StrJoin(codes, ", "),
                               ")"));
  }
  uint64_t not_succeeded = 0;
  for (size_t i = 0; i < report.outcomes.size(); ++i) {
    if (i != jobgroup::v1::JOB_OUTCOME_SUCCEEDED) {
      not_succeeded += report.outcomes[i];
    }
  }
  if (not_succeeded > 0) {
    why.push_back(absl::StrCat(not_succeeded, " jobs did not succeed"));
  }
  if (report.missing_results > 0) {
    why.push_back(absl::StrCat(report.missing_results,
                               " jobs of calls that ended OK had no result"));
  }
  if (report.unstarted > 0) {
    why.push_back(absl::StrCat(report.unstarted,
                               " calls due never started (--max-in-flight)"));
  }
  if (why.empty()) return "";
  return absl::StrCat("jobgroup bench: ", absl::StrJoin(why, "; "));
}

}  // namespace

int BenchCommand(const std::vector<std::string>& args, const Console& c) {
  FlagParser parser("jobgroup bench");
  AddBenchFlags(parser);
  // echo unless --kind says otherwise: the last --kind given wins.
  std::vector<std::string> with_default = {"--kind=echo"};
  with_default.insert(with_default.end(), args.begin(), args.end());
  absl::StatusOr<ParsedFlags> flags = parser.Parse(with_default);
  if (!flags.ok()) return BenchUsageError(c, flags.status());
  if (flags->help()) {
    *c.out << kBenchUsage << parser.FlagsHelp()
           << "  --help                  this text\n\n"
           << kBenchExitStatus;
    return kExitOk;
  }
  absl::StatusOr<BenchSetup> setup = BenchSetupFromFlags(*flags);
  if (!setup.ok()) return BenchUsageError(c, setup.status());

  if (absl::Status probe = Probe(*setup); !probe.ok()) {
    if (absl::IsInvalidArgument(probe)) return BenchUsageError(c, probe);
    *c.err << "jobgroup bench: " << probe.message()
           << " (--target HOST:PORT sets the address)\n";
    return kExitUsageOrConnection;
  }
  absl::StatusOr<std::unique_ptr<GrpcCallLauncher>> launcher =
      GrpcCallLauncher::Create(setup->client, setup->spec);
  if (!launcher.ok()) return BenchUsageError(c, launcher.status());

  if (c.stderr_is_terminal) {
    *c.err << "jobgroup bench: " << BenchMethodName(setup->spec.method)
           << " to " << setup->client.target << ": warming up for "
           << FormatHumanDuration(setup->load.warmup) << ", then measuring for "
           << FormatHumanDuration(setup->load.duration) << "...\n";
  }
  // Debian's Abseil checks every absl::Mutex (gRPC's included) for lock
  // cycles, a few per cent of the client's CPU, which the server it
  // measures shares.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  RealBenchClock clock;
  const LoadReport report = RunLoad(setup->load, **launcher, clock);
  switch (setup->output) {
    case OutputFormat::kJson:
      *c.out << LoadReportToJson(report, setup->spec, setup->client.target)
             << '\n';
      break;
    case OutputFormat::kCsv:
      *c.out << LoadReportToCsv(report, setup->spec, setup->client.target);
      break;
    default:
      *c.out << FormatLoadReport(report, setup->spec, setup->client.target);
      break;
  }
  c.out->flush();
  const std::string reason = BenchExitReason(report);
  if (reason.empty()) return kExitOk;
  if (!setup->quiet) *c.err << reason << '\n';
  return kExitJobsNotSucceeded;
}

}  // namespace jobgroup::client

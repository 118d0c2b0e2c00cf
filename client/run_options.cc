// The flags of `jobgroup run` and `jobgroup process`; see run_options.h.
#include "client/run_options.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/human_duration.h"

namespace jobgroup::client {
namespace {

// Flags that shape the generated jobs; they make no sense with --jobs-file.
constexpr absl::string_view kJobFlags[] = {
    "kind", "count", "param", "payload", "payload-file", "backend", "timeout"};

// --payload-file: the file's bytes, whatever they are (text or binary).
absl::StatusOr<std::string> ReadPayloadFile(const std::string& path) {
  if (path.empty()) {
    return absl::InvalidArgumentError("--payload-file: empty file name");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--payload-file: cannot open \"", path, "\": ", std::strerror(errno)));
  }
  std::ostringstream bytes;
  bytes << file.rdbuf();
  if (file.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--payload-file: reading \"", path, "\" failed"));
  }
  return std::move(bytes).str();
}

void SetProtoDuration(absl::Duration d, google::protobuf::Duration& out) {
  const int64_t seconds = absl::ToInt64Seconds(d);
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(d - absl::Seconds(seconds))));
}

absl::StatusOr<absl::Duration> DurationFlag(const ParsedFlags& flags,
                                            absl::string_view name) {
  absl::StatusOr<absl::Duration> d = ParseHumanDuration(flags.Get(name));
  if (!d.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": ", d.status().message()));
  }
  return d;
}

absl::StatusOr<uint32_t> Uint32Flag(const ParsedFlags& flags,
                                    absl::string_view name) {
  absl::StatusOr<uint64_t> value =
      ParseUintFlag(name, flags.Get(name), UINT32_MAX);
  if (!value.ok()) return value.status();
  return static_cast<uint32_t>(*value);
}

// `jobgroup run` builds the whole request in memory; past this many jobs it
// would only exhaust memory (servers refuse far fewer by default).
constexpr uint64_t kMaxRunCount = 10'000'000;

absl::Status FillJobTemplate(const ParsedFlags& flags, RunMode mode,
                             RunOptions& options) {
  jobgroup::v1::Job& job = options.job;
  job.set_kind(flags.Get("kind"));
  if (job.kind().empty()) {
    return absl::InvalidArgumentError(
        "--kind: give the kind of the jobs, e.g. --kind sleep (see "
        "'jobgroup info' for the server's kinds)");
  }
  if (flags.Has("count")) {
    absl::StatusOr<uint64_t> count = ParseUintFlag("count", flags.Get("count"));
    if (!count.ok()) return count.status();
    if (*count == 0) {
      return absl::InvalidArgumentError("--count: must be at least 1");
    }
    if (mode == RunMode::kRun && *count > kMaxRunCount) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--count: ", *count, " jobs are too many for one request (at most ",
          kMaxRunCount, "); 'jobgroup process' streams any number"));
    }
    options.count = *count;
  }
  for (const std::string& param : flags.GetAll("param")) {
    const size_t eq = param.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--param: expected KEY=VALUE (e.g. --param ms=5), got \"", param,
          "\""));
    }
    (*job.mutable_params())[param.substr(0, eq)] = param.substr(eq + 1);
  }
  if (flags.Has("payload") && flags.Has("payload-file")) {
    return absl::InvalidArgumentError(
        "--payload and --payload-file exclude each other: the first is the "
        "payload as text, the second names a file holding it");
  }
  if (flags.Has("payload")) job.set_payload(flags.Get("payload"));
  if (flags.Has("payload-file")) {
    absl::StatusOr<std::string> payload =
        ReadPayloadFile(flags.Get("payload-file"));
    if (!payload.ok()) return payload.status();
    job.set_payload(*std::move(payload));
  }
  if (flags.Has("backend")) {
    job.set_backend(flags.Get("backend"));
    if (job.backend().empty()) {
      return absl::InvalidArgumentError("--backend: empty backend name");
    }
  }
  if (flags.Has("timeout")) {
    absl::StatusOr<absl::Duration> timeout = DurationFlag(flags, "timeout");
    if (!timeout.ok()) return timeout.status();
    SetProtoDuration(*timeout, *job.mutable_timeout());
  }
  return absl::OkStatus();
}

absl::Status FillBatchOptions(const ParsedFlags& flags,
                              jobgroup::v1::BatchOptions& batch) {
  if (flags.Has("batch-size")) {
    absl::StatusOr<uint32_t> v = Uint32Flag(flags, "batch-size");
    if (!v.ok()) return v.status();
    batch.set_batch_size(*v);
  }
  if (flags.Has("max-concurrency")) {
    absl::StatusOr<uint32_t> v = Uint32Flag(flags, "max-concurrency");
    if (!v.ok()) return v.status();
    batch.set_max_concurrency(*v);
  }
  if (flags.Has("policy")) {
    const std::string policy = flags.Get("policy");
    if (policy == "fail-fast") {
      batch.set_failure_policy(jobgroup::v1::FAILURE_POLICY_FAIL_FAST);
    } else if (policy == "collect-all") {
      batch.set_failure_policy(jobgroup::v1::FAILURE_POLICY_COLLECT_ALL);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--policy: \"", policy, "\" is not fail-fast or collect-all"));
    }
  }
  if (flags.Has("fallback-mode")) {
    const std::string mode = flags.Get("fallback-mode");
    if (mode == "sequential") {
      batch.set_fallback_mode(jobgroup::v1::FALLBACK_MODE_SEQUENTIAL);
    } else if (mode == "race") {
      batch.set_fallback_mode(jobgroup::v1::FALLBACK_MODE_RACE);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--fallback-mode: \"", mode, "\" is not sequential or race"));
    }
  }
  if (flags.Has("max-attempts")) {
    absl::StatusOr<uint32_t> v = Uint32Flag(flags, "max-attempts");
    if (!v.ok()) return v.status();
    batch.mutable_retry()->set_max_attempts(*v);
  }
  if (flags.Has("initial-backoff")) {
    absl::StatusOr<absl::Duration> d = DurationFlag(flags, "initial-backoff");
    if (!d.ok()) return d.status();
    SetProtoDuration(*d, *batch.mutable_retry()->mutable_initial_backoff());
  }
  if (flags.Has("max-backoff")) {
    absl::StatusOr<absl::Duration> d = DurationFlag(flags, "max-backoff");
    if (!d.ok()) return d.status();
    SetProtoDuration(*d, *batch.mutable_retry()->mutable_max_backoff());
  }
  if (batch.has_retry() && batch.retry().max_attempts() <= 1 &&
      (batch.retry().has_initial_backoff() ||
       batch.retry().has_max_backoff())) {
    return absl::InvalidArgumentError(
        "--initial-backoff and --max-backoff need --max-attempts 2 or more");
  }
  return absl::OkStatus();
}

}  // namespace

void AddConnectionFlags(FlagParser& parser) {
  parser.Section("Connection")
      .Value("target", "HOST:PORT",
             "server address (default $JOBGROUP_TARGET, else\n"
             "localhost:50051); dns:///HOST:PORT spreads the calls\n"
             "over every address of HOST")
      .Value("tls-ca", "FILE", "PEM roots to verify the server (turns on TLS)")
      .Value("tls-cert", "FILE", "PEM client certificate, for mutual TLS")
      .Value("tls-key", "FILE", "PEM key of --tls-cert")
      .Value("tls-server-name", "NAME",
             "name to check in the server's certificate")
      .Value("token", "TOKEN",
             "bearer token sent on every call ($JOBGROUP_TOKEN)");
}

absl::StatusOr<ClientOptions> ClientOptionsFromFlags(const ParsedFlags& flags) {
  ClientOptions options;
  const char* env_target = std::getenv("JOBGROUP_TARGET");
  options.target = flags.Get(
      "target", env_target != nullptr && *env_target != '\0' ? env_target
                                                             : kDefaultTarget);
  if (options.target.empty()) {
    return absl::InvalidArgumentError(
        "--target: empty address; give HOST:PORT, e.g. localhost:50051");
  }
  options.tls_ca_file = flags.Get("tls-ca");
  options.tls_cert_file = flags.Get("tls-cert");
  options.tls_key_file = flags.Get("tls-key");
  options.tls_server_name = flags.Get("tls-server-name");
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(options.tls_cert_file.empty()
                                          ? "--tls-key: needs --tls-cert too"
                                          : "--tls-cert: needs --tls-key too");
  }
  const char* env_token = std::getenv("JOBGROUP_TOKEN");
  options.bearer_token =
      flags.Get("token", env_token != nullptr ? env_token : "");
  return options;
}

void AddRunFlags(FlagParser& parser, RunMode mode) {
  parser.Section("Jobs")
      .Value("jobs-file", "FILE",
             "JSON Lines, one jobgroup.v1.Job a line; - is stdin")
      .Value("kind", "KIND",
             "kind of every generated job (see 'jobgroup info')")
      .Value("count", "N", "number of jobs to generate (default 1)")
      .Repeated("param", "KEY=VALUE", "parameter of every generated job")
      .Value("payload", "TEXT",
             "payload of every generated job, as text (its UTF-8\n"
             "bytes; no base64)")
      .Value("payload-file", "FILE",
             "payload of every generated job: the bytes of FILE\n"
             "(text or binary)")
      .Value("backend", "NAME",
             "backend of every generated job (default: the kind's)")
      .Value("timeout", "DURATION",
             "bound on each attempt of a generated job, e.g. 250ms");
  parser.Section("Batch")
      .Value("batch-size", "N",
             "run the jobs in rounds of N (default 0: one round)")
      .Value("max-concurrency", "N",
             "at most N jobs of the call in flight (0: no cap)")
      .Value("policy", "POLICY",
             "fail-fast (default: a failure cancels the rest) or\n"
             "collect-all (every job runs)")
      .Value("fallback-mode", "MODE",
             "how fallbacks are tried: sequential (default) or race")
      .Value("max-attempts", "N", "attempts per job, retries included")
      .Value("initial-backoff", "DURATION", "wait before the first retry")
      .Value("max-backoff", "DURATION", "longest wait between retries")
      .Value("deadline", "DURATION",
             mode == RunMode::kRun
                 ? "bound on the whole call: 30s, 250ms, 1m30s, 2h, 1.5s\n"
                   "(default: the server's default deadline)"
                 : "bound on the whole call: 30s, 250ms, 1m30s, 2h, 1.5s\n"
                   "(default: none of its own; the server's\n"
                   "--max_deadline, 10m unless set otherwise, caps it)");
  parser.Section("Output");
  if (mode == RunMode::kRun) {
    parser.Bool("stream",
                "stream results as they finish (StreamBatch), with a\n"
                "progress bar on a terminal");
  }
  parser
      .Value("output", "FORMAT",
             absl::StrCat(mode == RunMode::kRun
                              ? "table (default): a summary; "
                              : "jsonl (default): one JobResult per line "
                                "as\nthey finish; table: a summary; ",
                          mode == RunMode::kRun
                              ? "wide: the summary\nand one row per "
                                "result; json: one document\nwith the "
                                "summary (see --results); jsonl:\none "
                                "JobResult per line"
                              : "wide: the\nsummary and one row per "
                                "result; json: one\ndocument with the "
                                "summary (see --results)"))
      .Short('o', "output")
      .Bool("results", "-o json: put every result in the document too")
      .Bool("decode-outputs",
            "-o jsonl, -o json --results: add \"outputText\" to each\n"
            "result, its output as text (null when not UTF-8);\n"
            "\"output\" stays protobuf's base64")
      .Bool("quiet",
            "no line on stderr when some job did not succeed\n"
            "(errors that exit 2 are still said)")
      .Short('q', "quiet");
  AddConnectionFlags(parser);
}

absl::StatusOr<RunOptions> RunOptionsFromFlags(const ParsedFlags& flags,
                                               RunMode mode) {
  if (!flags.positional().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument \"", flags.positional().front(),
                     "\" (flags are spelled --name VALUE)"));
  }
  RunOptions options;
  absl::StatusOr<ClientOptions> client = ClientOptionsFromFlags(flags);
  if (!client.ok()) return client.status();
  options.client = *std::move(client);

  if (flags.Has("jobs-file")) {
    options.jobs_file = flags.Get("jobs-file");
    if (options.jobs_file.empty()) {
      return absl::InvalidArgumentError(
          "--jobs-file: empty file name; give a FILE, or - for stdin");
    }
    for (absl::string_view name : kJobFlags) {
      if (flags.Has(name)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name,
                         " cannot be combined with --jobs-file: the file's "
                         "lines are the jobs"));
      }
    }
  } else if (!flags.Has("kind")) {
    return absl::InvalidArgumentError(
        "no jobs: give --kind KIND [--count N] or --jobs-file FILE");
  } else if (absl::Status status = FillJobTemplate(flags, mode, options);
             !status.ok()) {
    return status;
  }

  if (absl::Status status = FillBatchOptions(flags, options.batch);
      !status.ok()) {
    return status;
  }
  if (flags.Has("deadline")) {
    absl::StatusOr<absl::Duration> deadline = DurationFlag(flags, "deadline");
    if (!deadline.ok()) return deadline.status();
    options.deadline = *deadline;
  }
  options.longest_deadline =
      mode == RunMode::kProcess && !options.deadline.has_value();
  options.stream = mode == RunMode::kRun && flags.GetBool("stream");
  options.output =
      mode == RunMode::kRun ? OutputFormat::kTable : OutputFormat::kJsonl;
  if (flags.Has("output") && mode != RunMode::kBench) {
    absl::StatusOr<OutputFormat> output = ParseOutputFormat(
        flags.Get("output"), {OutputFormat::kTable, OutputFormat::kWide,
                              OutputFormat::kJson, OutputFormat::kJsonl});
    if (!output.ok()) return output.status();
    options.output = *output;
  }
  options.results = flags.GetBool("results");
  if (options.results && options.output != OutputFormat::kJson) {
    return absl::InvalidArgumentError(
        "--results is for -o json (jsonl and wide print every result "
        "already)");
  }
  options.decode_outputs = flags.GetBool("decode-outputs");
  if (options.decode_outputs && options.output != OutputFormat::kJsonl &&
      !(options.output == OutputFormat::kJson && options.results)) {
    return absl::InvalidArgumentError(
        "--decode-outputs is for -o jsonl and -o json --results (-o wide "
        "shows outputs as text already)");
  }
  options.quiet = flags.GetBool("quiet");
  return options;
}

}  // namespace jobgroup::client

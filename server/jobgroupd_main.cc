// The jobgroupd program: flags, signals and the server's lifetime. Flags are
// documented in --help, grouped by area (JobgroupdFlagGroups()); they may
// also come from --flagfile (one --flag=value a line) and from the
// environment (JOBGROUPD_<FLAG>, see server/flags/env_flags.h).
#include "server/jobgroupd_main.h"

#include <grpc/grpc.h>
#include <malloc.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/memory_budget.h"
#include "server/flags/env_flags.h"
#include "server/flags/flag_help.h"
#include "server/flags/repeated_flag.h"
#include "server/kinds/http_flags.h"
#include "server/service/authenticator.h"
#include "server/service/jobgroup_server.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051",
          "gRPC listen address, host:port ([::1]:0 picks a free port).");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9464",
          "Prometheus /metrics listen address; empty disables it.");
ABSL_FLAG(int, workers, 0,
          "Worker threads that run handlers; 0 means one per core.");
ABSL_FLAG(int64_t, queue_capacity, 4096,
          "Capacity of the ready queue feeding the workers; when it is full, "
          "jobs wait for space holding no thread.");
ABSL_FLAG(std::vector<std::string>, backend, {},
          "Backend resource and its capacity, NAME=CAPACITY (e.g. db=10). "
          "Repeatable, or comma-separated. Built in: local (capacity "
          "--max_inflight_jobs) and cpu (capacity --workers).");
ABSL_FLAG(std::vector<std::string>, kind_backends, {},
          "Which backends a kind's jobs may name: KIND:BACKEND[,BACKEND...] "
          "(e.g. sleep:db,local), repeatable. A kind not listed may name its "
          "own backend and those given with --backend, not another kind's "
          "built-in one (compute may not name local). A job that names no "
          "backend always uses its kind's own.");
ABSL_FLAG(int64_t, max_jobs_per_call, 100000, "Jobs per call at most.");
ABSL_FLAG(int64_t, max_payload_bytes, 1 << 20,
          "Payload bytes per job at most.");
ABSL_FLAG(int64_t, max_message_bytes, 0,
          "Largest gRPC message received or sent, in bytes. 0: what the "
          "per-call limits can need (--max_jobs_per_call jobs, each with "
          "--max_payload_bytes and its params and fallbacks), at most an "
          "eighth of --memory_budget_bytes and 256 MiB, at least 4 MiB.");
ABSL_FLAG(int64_t, memory_budget_bytes, 0,
          "Memory the server may hold for requests and gRPC's buffers, in "
          "bytes. Before a request is parsed its parsed size is estimated "
          "from its bytes and reserved from 3/4 of this; one that does not "
          "fit is refused with RESOURCE_EXHAUSTED (with retry-after-ms when "
          "it would fit once others are done). gRPC's buffers get the other "
          "quarter. 0: three quarters of the smallest of the cgroup's memory "
          "limit, half the address-space limit and half the physical "
          "memory.");
ABSL_FLAG(int64_t, max_output_bytes, 64 << 20,
          "Output bytes per job at most; a job whose output is longer FAILS "
          "(RESOURCE_EXHAUSTED, naming the size and the limit) and the other "
          "jobs are not affected. At most --max_message_bytes less 64 KiB, "
          "so that any one result fits a reply message.");
ABSL_FLAG(int64_t, max_inflight_jobs, 1000000,
          "Jobs the whole server holds in flight at most; a call whose window "
          "does not fit is refused at once with RESOURCE_EXHAUSTED and a "
          "retry-after-ms trailer.");
ABSL_FLAG(bool, adaptive_limit, false,
          "Refuse new calls (RESOURCE_EXHAUSTED with the retry-after-ms "
          "trailer, as --max_inflight_jobs does) once the jobs in flight "
          "reach a limit that follows the queueing delay of calls: it falls "
          "while calls' first jobs wait for a permit and a worker more than "
          "twice as long as normal, and climbs back when they do not. At "
          "most --max_inflight_jobs.");
ABSL_FLAG(absl::Duration, adaptive_limit_queue_delay, absl::Milliseconds(1),
          "--adaptive_limit: a queueing delay this short counts as no queue "
          "(the limit falls only past twice the normal delay, and the normal "
          "is never taken as shorter than this).");
ABSL_FLAG(int64_t, max_concurrency, 1000000,
          "Largest BatchOptions.max_concurrency accepted.");
ABSL_FLAG(int64_t, process_window, 1024,
          "Jobs in flight per Process call when it sets no max_concurrency. "
          "At most --max_inflight_jobs (when not given, the default is cut "
          "to it) and 2^32-1.");
ABSL_FLAG(absl::Duration, default_deadline, absl::Seconds(30),
          "Deadline of a call whose client sets none.");
ABSL_FLAG(absl::Duration, max_deadline, absl::Minutes(10),
          "Longest deadline honoured; longer ones are cut to it.");
ABSL_FLAG(absl::Duration, deadline_margin, absl::Milliseconds(100),
          "How long before the client's deadline the server ends a call, so "
          "partial results reach the client; 2 us per job are added, and "
          "the whole margin is at most a quarter of the call's budget.");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(10),
          "On SIGTERM/SIGINT, how long calls in flight may finish before the "
          "rest are cancelled.");
ABSL_FLAG(absl::Duration, max_connection_age, absl::Minutes(5),
          "Client connections are closed gracefully after this age, so load "
          "rebalances across replicas.");
ABSL_FLAG(absl::Duration, max_connection_age_grace, absl::Seconds(30),
          "Time calls get to finish on a connection closed for its age.");
ABSL_FLAG(absl::Duration, stream_idle_timeout, absl::Seconds(5),
          "A Process stream that sends no message for this long from its "
          "start is ended with DEADLINE_EXCEEDED (nothing run); the call's "
          "deadline, when sooner, ends it first.");
ABSL_FLAG(int64_t, max_concurrent_streams, 100,
          "Streams one client connection may have open at once (HTTP/2 "
          "MAX_CONCURRENT_STREAMS); a client past it waits for one to end.");
ABSL_FLAG(int64_t, max_open_streams, 10000,
          "Streams open at once in the whole server: RunBatch, StreamBatch "
          "and Process calls and grpc.health.v1.Health Watch streams. Past "
          "it a new one is refused with RESOURCE_EXHAUSTED.");
ABSL_FLAG(std::string, log_format, "text",
          "Log format on stderr: text or json.");
ABSL_FLAG(std::string, log_level, "info",
          "Lowest level of the lines written: debug (adds a call_started "
          "line per call), info (a call_finished line per call), warn "
          "(server faults and warnings only) or error. The started, "
          "draining and stopped lines are written at every level.");
ABSL_FLAG(uint64_t, log_calls_per_second, 0,
          "At most this many call_finished lines a second; the next line "
          "written says how many calls were left out (unlogged_calls=N). "
          "Lines of server faults (INTERNAL, UNKNOWN) are always written. "
          "0: one line per call.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain the gRPC port presents. With --tls_key it "
          "turns TLS on, and plain-text clients are refused; both or "
          "neither. Read once at start-up.");
ABSL_FLAG(std::string, tls_key, "",
          "PEM private key (unencrypted) of --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA certificate(s); when set, clients must present a "
          "certificate signed by one of them (mutual TLS). Needs --tls_cert "
          "and --tls_key.");
ABSL_FLAG(std::string, auth_tokens_file, "",
          "File of bearer tokens, one a line (blank lines and # comments "
          "ignored). When set, every JobService call must carry the metadata "
          "'authorization: Bearer TOKEN' with one of them, or it fails with "
          "UNAUTHENTICATED. Health, reflection and /metrics need no token. "
          "Keep the file readable by jobgroupd only; read once at start-up.");
ABSL_FLAG(std::string, admin_tokens_file, "",
          "File of admin tokens (format as --auth_tokens_file). When set, "
          "the admin API (jobgroup.admin.v1.AdminService: ListCalls, "
          "WatchServer, CancelCall; `jobgroup top`, `jobgroup calls`) is "
          "served (on --listen, or on --admin_listen) and needs one of these "
          "tokens; job tokens are refused by it. Unset: the admin API is "
          "off.");
ABSL_FLAG(std::string, admin_listen, "",
          "Serve the admin API alone on this host:port instead of on --listen "
          "(for example an address only operators reach), with the same TLS "
          "as --listen. Needs --admin_tokens_file. Empty: on --listen.");
ABSL_FLAG(std::string, health_listen, "",
          "Also serve grpc.health.v1.Health, alone, in plain text and without "
          "a token, on this host:port (for probes that cannot pass the gRPC "
          "port's TLS or client certificates); its status follows the gRPC "
          "port's. Empty: health is served on --listen only.");

namespace jobgroup {
namespace {

// --max_message_bytes by default: the largest request the per-call limits
// allow (every job at its largest payload, with its params and its
// fallbacks, each like a job), capped by an eighth of the memory budget
// (gRPC's buffers get a quarter: two messages arriving at once) and by
// 256 MiB (the limit before it was derived), and at least 4 MiB (gRPC's
// own default).
uint64_t DefaultMaxMessageBytes(const ServerOptions& o) {
  constexpr uint64_t kJobFieldsBytes = 1024;  // Id, kind, backend, timeout.
  const uint64_t cap =
      std::min<uint64_t>(o.memory_budget_bytes / 8, uint64_t{256} << 20);
  uint64_t job = o.max_payload_bytes + kJobFieldsBytes +
                 uint64_t{o.max_params} * (o.max_param_bytes + 8);
  job *= 1 + uint64_t{o.max_fallbacks};
  uint64_t need =
      o.max_jobs_per_call > cap / job ? cap : o.max_jobs_per_call * job;
  return std::max<uint64_t>(std::min(need, cap), 4 << 20);
}

// Flags each valid alone that would break the server without a word:
// gRPC takes the connection ages as int milliseconds (597 h and more wrap
// to negative, and every call then fails), a negative margin or grace
// means nothing, and a Process window can neither pass the admission
// limit (every Process call without max_concurrency would be refused) nor
// 2^32 (TaskGroup's window is 32 bits).
absl::Status CheckFlagCombinations(const ServerOptions& o) {
  const absl::Duration max_grpc_ms =
      absl::Milliseconds(std::numeric_limits<int>::max());
  if (o.max_connection_age > max_grpc_ms) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max_connection_age: ", absl::FormatDuration(o.max_connection_age),
        " is over gRPC's limit of ", absl::FormatDuration(max_grpc_ms)));
  }
  if (o.max_connection_age_grace < absl::ZeroDuration() ||
      o.max_connection_age_grace > max_grpc_ms) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max_connection_age_grace: ",
        absl::FormatDuration(o.max_connection_age_grace), " must be in [0, ",
        absl::FormatDuration(max_grpc_ms), "]"));
  }
  if (o.deadline_margin < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--deadline_margin: ", absl::FormatDuration(o.deadline_margin),
        " must not be negative"));
  }
  if (o.process_window > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--process_window: ", o.process_window, " is over the limit of ",
        std::numeric_limits<uint32_t>::max()));
  }
  if (o.process_window > o.max_inflight_jobs) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--process_window: ", o.process_window,
        " is over --max_inflight_jobs (", o.max_inflight_jobs,
        "), so every Process call without max_concurrency would be refused"));
  }
  return absl::OkStatus();
}

constexpr char kEnvPrefix[] = "JOBGROUPD_";

constexpr char kUsage[] =
    "%s: runs batches of jobs sent over gRPC as task groups.\n"
    "Usage: %s [--listen=HOST:PORT] [--backend=db=10 ...] "
    "[--flagfile=FILE]\n";

constexpr char kEnvironmentNote[] =
    "Every flag can also come from the environment: JOBGROUPD_ and the "
    "flag's name in capitals, shown after each flag (JOBGROUPD_MAX_DEADLINE="
    "10m is --max_deadline=10m). A flag on the command line or in a "
    "--flagfile wins. A variable whose value its flag cannot parse stops "
    "start-up (exit 2) naming the variable; JOBGROUPD_ variables that name "
    "no flag are ignored. A repeatable flag (--backend, say) takes several "
    "values comma-separated there.\n"
    "--help lists every flag; --helpmatch=TEXT only those whose name "
    "contains TEXT; --version prints the version.";

// The text after a help flag: "" for all flags, else the text flags'
// names must contain; nullopt when no help is asked for.
std::optional<std::string> HelpRequested(const std::vector<std::string>& args) {
  for (absl::string_view a : args) {
    if (a == "--") break;
    if (a == "-h") return "";
    if (!absl::ConsumePrefix(&a, "--")) {
      if (!absl::ConsumePrefix(&a, "-")) continue;
    }
    if (a == "help" || a == "helpfull" || a == "helpshort" ||
        a == "helppackage") {
      return "";
    }
    if (absl::ConsumePrefix(&a, "helpmatch=") ||
        absl::ConsumePrefix(&a, "helpon=")) {
      return std::string(a);
    }
  }
  return std::nullopt;
}

// Reads the tokens file named by --`flag` (`path`; none when empty) into
// `out`; false, with the reason on stderr naming the flag, when it cannot.
bool ReadTokensFlag(const char* flag, const std::string& path,
                    std::shared_ptr<const jobgroup::Authenticator>* out) {
  if (path.empty()) return true;
  absl::StatusOr<std::unique_ptr<jobgroup::Authenticator>> tokens =
      jobgroup::Authenticator::FromFile(path);
  if (!tokens.ok()) {
    fprintf(stderr, "jobgroupd: --%s: %s\n", flag,
            std::string(tokens.status().message()).c_str());
    return false;
  }
  *out = *std::move(tokens);
  return true;
}

std::string ProgramName(const char* argv0) {
  absl::string_view name = argv0 == nullptr ? "" : argv0;
  const size_t slash = name.rfind('/');
  if (slash != absl::string_view::npos) name.remove_prefix(slash + 1);
  return name.empty() ? "jobgroupd" : std::string(name);
}

}  // namespace

const std::vector<FlagGroup>& JobgroupdFlagGroups() {
  static const std::vector<FlagGroup>* const groups =
      new std::vector<FlagGroup>{
          {"Listening", {"listen", "health_listen", "admin_listen"}},
          {"Calls and deadlines",
           {"default_deadline", "max_deadline", "deadline_margin",
            "stream_idle_timeout", "drain_timeout", "max_connection_age",
            "max_connection_age_grace"}},
          {"Limits and memory",
           {"max_jobs_per_call", "max_payload_bytes", "max_output_bytes",
            "max_message_bytes", "memory_budget_bytes", "max_inflight_jobs",
            "adaptive_limit", "adaptive_limit_queue_delay", "max_concurrency",
            "process_window", "max_concurrent_streams", "max_open_streams"}},
          {"Backends and workers",
           {"backend", "kind_backends", "workers", "queue_capacity"}},
          {"Security",
           {"tls_cert", "tls_key", "tls_client_ca", "auth_tokens_file",
            "admin_tokens_file"}},
          {"Metrics and logging",
           {"metrics_listen", "log_format", "log_level",
            "log_calls_per_second"}},
          {"http kind (docs/HTTP_KIND.md)",
           {"http_allow", "http_allow_private", "http_max_inflight",
            "http_max_per_host", "http_host_limit", "http_max_lookups",
            "http_max_body_bytes", "http_max_retry_after"}},
          {"Flag sources", {"flagfile", "fromenv", "tryfromenv", "undefok"}},
          {"Help",
           {"help", "helpfull", "helpshort", "helppackage", "helpon",
            "helpmatch", "version", "only_check_args"}},
      };
  return *groups;
}

std::string JobgroupdHelp(absl::string_view program, absl::string_view match) {
  FlagHelpOptions options;
  options.usage = absl::StrFormat(kUsage, program, program);
  options.preamble = kEnvironmentNote;
  options.env_prefix = kEnvPrefix;
  options.match = std::string(match);
  return FormatFlagHelp(JobgroupdFlagGroups(), RegisteredFlags(), options);
}

int RunJobgroupd(int argc, char** argv, KindRegistrar extra_kinds) {
  // glibc gives each thread that contends its own malloc arena, up to 8 per
  // core; memory freed in one arena is not reused by another, which costs a
  // big call's peak RSS (100,000 jobs: 176 -> 160 MB with one arena per
  // core) and no measurable throughput. MALLOC_ARENA_MAX overrides it.
  if (getenv("MALLOC_ARENA_MAX") == nullptr) {
    mallopt(M_ARENA_MAX, static_cast<int>(std::max(
                             2u, std::thread::hardware_concurrency())));
  }
  // Debian's Abseil is built with mutex deadlock detection on; it keeps a
  // lock graph on every absl::Mutex acquisition (gRPC's locks included),
  // which costs the hot path and finds nothing the tests do not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const std::string program = ProgramName(argc > 0 ? argv[0] : nullptr);
  absl::FlagsUsageConfig config;
  config.version_string = [] {
    return absl::StrCat("jobgroupd ", jobgroup::JobgroupVersion(), "\n");
  };
  absl::SetFlagsUsageConfig(config);
  // Abseil prints this only with its own errors ("see --help"); --help
  // itself is answered here, grouped by area, not by source file.
  absl::SetProgramUsageMessage(absl::StrFormat(kUsage, program, program));
  const std::vector<std::string> command_line(argv + 1, argv + argc);
  if (std::optional<std::string> match = HelpRequested(command_line)) {
    fputs(JobgroupdHelp(program, *match).c_str(), stdout);
    return 0;
  }
  // The environment goes before the command line, so the command line
  // wins (env_flags.h says why this way); `raw` is what was parsed, and
  // what the repeatable flags are read from.
  std::vector<std::string> env_flags;
  for (const FlagDoc& f : RegisteredFlags()) {
    if (f.from_environment) env_flags.push_back(f.name);
  }
  const std::vector<EnvFlag> env =
      EnvironmentFlags(kEnvPrefix, env_flags, [](const char* variable) {
        return static_cast<const char*>(getenv(variable));
      });
  if (absl::Status s = CheckEnvironmentFlags(env); !s.ok()) {
    fprintf(stderr, "jobgroupd: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  const std::vector<std::string> raw = ArgsWithEnvironment(env, command_line);
  std::vector<char*> parse_argv = {argv[0]};
  for (const std::string& a : raw)
    parse_argv.push_back(const_cast<char*>(a.c_str()));
  absl::ParseCommandLine(static_cast<int>(parse_argv.size()),
                         parse_argv.data());

  jobgroup::ServerOptions o;
  o.server_name = program;
  o.listen = absl::GetFlag(FLAGS_listen);
  o.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  int workers = absl::GetFlag(FLAGS_workers);
  o.workers =
      workers > 0 ? workers : std::max(1u, std::thread::hardware_concurrency());
  auto positive = [](const char* name, int64_t v) {
    if (v <= 0) {
      fprintf(stderr, "jobgroupd: --%s must be positive, got %lld\n", name,
              static_cast<long long>(v));
      exit(2);
    }
    return static_cast<uint64_t>(v);
  };
  o.queue_capacity =
      positive("queue_capacity", absl::GetFlag(FLAGS_queue_capacity));
  o.max_jobs_per_call =
      positive("max_jobs_per_call", absl::GetFlag(FLAGS_max_jobs_per_call));
  o.max_payload_bytes =
      positive("max_payload_bytes", absl::GetFlag(FLAGS_max_payload_bytes));
  int64_t budget = absl::GetFlag(FLAGS_memory_budget_bytes);
  o.memory_budget_bytes = budget == 0 ? jobgroup::DefaultMemoryBudgetBytes()
                                      : positive("memory_budget_bytes", budget);
  int64_t max_message = absl::GetFlag(FLAGS_max_message_bytes);
  o.max_message_bytes = std::min<uint64_t>(
      max_message == 0 ? DefaultMaxMessageBytes(o)
                       : positive("max_message_bytes", max_message),
      INT32_MAX);
  if (o.max_message_bytes <= 2 * jobgroup::kMessageRoomBytes) {
    fprintf(stderr, "jobgroupd: --max_message_bytes must be over %llu\n",
            static_cast<unsigned long long>(2 * jobgroup::kMessageRoomBytes));
    exit(2);
  }
  o.max_output_bytes = std::min<uint64_t>(
      positive("max_output_bytes", absl::GetFlag(FLAGS_max_output_bytes)),
      o.max_message_bytes - jobgroup::kMessageRoomBytes);
  o.max_inflight_jobs =
      positive("max_inflight_jobs", absl::GetFlag(FLAGS_max_inflight_jobs));
  o.adaptive_limit = absl::GetFlag(FLAGS_adaptive_limit);
  o.adaptive_limit_queue_delay =
      absl::GetFlag(FLAGS_adaptive_limit_queue_delay);
  if (o.adaptive_limit_queue_delay <= absl::ZeroDuration()) {
    fprintf(stderr,
            "jobgroupd: --adaptive_limit_queue_delay: %s must be positive "
            "(e.g. 1ms)\n",
            absl::FormatDuration(o.adaptive_limit_queue_delay).c_str());
    return 2;
  }
  o.max_concurrency =
      positive("max_concurrency", absl::GetFlag(FLAGS_max_concurrency));
  o.process_window =
      positive("process_window", absl::GetFlag(FLAGS_process_window));
  // A small admission limit cuts the default window rather than refusing
  // to start; a window given explicitly over it is refused below.
  // (Debian's Abseil keeps IsSpecifiedOnCommandLine() private.)
  if (RepeatedFlagValues(raw, "process_window").empty()) {
    o.process_window = std::min(o.process_window, o.max_inflight_jobs);
  }
  o.default_deadline = absl::GetFlag(FLAGS_default_deadline);
  o.max_deadline = absl::GetFlag(FLAGS_max_deadline);
  o.deadline_margin = absl::GetFlag(FLAGS_deadline_margin);
  o.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  o.max_connection_age = absl::GetFlag(FLAGS_max_connection_age);
  o.max_connection_age_grace = absl::GetFlag(FLAGS_max_connection_age_grace);
  for (absl::Duration d : {o.default_deadline, o.max_deadline, o.drain_timeout,
                           o.max_connection_age}) {
    if (d <= absl::ZeroDuration()) {
      fprintf(stderr, "jobgroupd: durations must be positive (e.g. 30s)\n");
      return 2;
    }
  }
  if (absl::Status s = CheckFlagCombinations(o); !s.ok()) {
    fprintf(stderr, "jobgroupd: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  o.stream_idle_timeout = absl::GetFlag(FLAGS_stream_idle_timeout);
  if (o.stream_idle_timeout <= absl::ZeroDuration()) {
    fprintf(stderr, "jobgroupd: --stream_idle_timeout must be positive\n");
    return 2;
  }
  o.max_concurrent_streams = static_cast<uint32_t>(
      std::min<uint64_t>(positive("max_concurrent_streams",
                                  absl::GetFlag(FLAGS_max_concurrent_streams)),
                         INT32_MAX));
  o.max_open_streams =
      positive("max_open_streams", absl::GetFlag(FLAGS_max_open_streams));
  std::string log_format = absl::GetFlag(FLAGS_log_format);
  if (log_format != "text" && log_format != "json") {
    fprintf(stderr, "jobgroupd: --log_format must be text or json, got %s\n",
            log_format.c_str());
    return 2;
  }
  o.log_json = log_format == "json";
  absl::StatusOr<jobgroup::LogLevel> log_level =
      jobgroup::ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!log_level.ok()) {
    fprintf(stderr, "jobgroupd: --log_level: %s\n",
            std::string(log_level.status().message()).c_str());
    return 2;
  }
  o.log_level = *log_level;
  o.log_calls_per_second = absl::GetFlag(FLAGS_log_calls_per_second);
  o.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  o.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  o.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  o.health_listen = absl::GetFlag(FLAGS_health_listen);
  if (!ReadTokensFlag("auth_tokens_file", absl::GetFlag(FLAGS_auth_tokens_file),
                      &o.authenticator) ||
      !ReadTokensFlag("admin_tokens_file",
                      absl::GetFlag(FLAGS_admin_tokens_file),
                      &o.admin_authenticator)) {
    return 2;
  }
  o.admin_listen = absl::GetFlag(FLAGS_admin_listen);
  if (!o.admin_listen.empty() && o.admin_authenticator == nullptr) {
    fprintf(stderr,
            "jobgroupd: --admin_listen: needs --admin_tokens_file (the admin "
            "API is off without it)\n");
    return 2;
  }
  // --backend repeats (in flag files too); Abseil would keep only the last.
  std::vector<std::string> backends = RepeatedFlagValues(raw, "backend");
  for (const std::string& b : backends) {
    absl::StatusOr<jobgroup::BackendSpec> spec = jobgroup::ParseBackendSpec(b);
    if (!spec.ok()) {
      fprintf(stderr, "jobgroupd: --%s\n",
              std::string(spec.status().message()).c_str());
      return 2;
    }
    o.backends.push_back(*spec);
  }
  absl::StatusOr<std::vector<jobgroup::KindBackendsSpec>> kind_backends =
      jobgroup::ParseKindBackends(RepeatedFlagValues(raw, "kind_backends"));
  if (!kind_backends.ok()) {
    fprintf(stderr, "jobgroupd: %s\n",
            std::string(kind_backends.status().message()).c_str());
    return 2;
  }
  o.kind_backends = *std::move(kind_backends);
  absl::StatusOr<jobgroup::HttpOptions> http =
      jobgroup::HttpOptionsFromFlags(raw);
  if (!http.ok()) {
    fprintf(stderr, "jobgroupd: %s\n",
            std::string(http.status().message()).c_str());
    return 2;
  }
  o.http = *std::move(http);

  // SIGTERM and SIGINT are taken by this thread with sigwait(); every other
  // thread inherits the mask, so they never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // gRPC stays initialized until the process ends: one reference of our
  // own, never given back. Otherwise ~grpc::Server drops the last one and
  // grpc_shutdown() joins gRPC's executor threads on this thread, and one
  // of them may be in a poll of up to 10 s: after a drain that took
  // milliseconds, the exit took 10 s more (seen after StreamBatch calls of
  // 70 MB on a loaded machine). Everything of ours is stopped by Drain()
  // and the destructors; gRPC's threads end with the process.
  grpc_init();

  absl::StatusOr<std::unique_ptr<jobgroup::JobgroupServer>> server =
      jobgroup::JobgroupServer::Start(o, std::move(extra_kinds));
  if (!server.ok()) {
    fprintf(stderr, "jobgroupd: %s\n",
            std::string(server.status().message()).c_str());
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  (*server)->Drain();
  bool stuck = (*server)->abandoned_handlers() > 0;
  if (stuck) {
    // Do not run destructors that would wait for stuck handlers.
    fflush(stderr);
    _exit(0);
  }
  server->reset();
  return 0;
}

}  // namespace jobgroup

// RunOptions: what `jobgroup run` and `jobgroup process` were asked to do,
// and the flags that say it. AddRunFlags() declares the flags (and so the
// --help text); RunOptionsFromFlags() checks them and builds the options,
// with errors that name the flag. Plain values and stateless functions;
// thread-safe.
#ifndef JOBGROUP_CLIENT_RUN_OPTIONS_H_
#define JOBGROUP_CLIENT_RUN_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/cli_flags.h"
#include "client/job_client.h"
#include "client/output_format.h"
#include "jobgroup/v1/jobgroup.pb.h"

namespace jobgroup::client {

// The target used when neither --target nor $JOBGROUP_TARGET says one.
inline constexpr char kDefaultTarget[] = "localhost:50051";

enum class RunMode {
  kRun,      // jobgroup run: RunBatch, or StreamBatch with --stream.
  kProcess,  // jobgroup process: Process, jobs streamed lazily.
  kBench,    // jobgroup bench: the job and batch flags only (-o is its own).
};

struct RunOptions {
  ClientOptions client;

  // Where the jobs come from: `jobs_file` when not empty ("-" is stdin),
  // otherwise `count` copies of `job`.
  std::string jobs_file;
  jobgroup::v1::Job job;
  uint64_t count = 1;

  jobgroup::v1::BatchOptions batch;
  // The call's deadline (--deadline). Without it, run leaves the deadline
  // to the server's default, and process asks for the longest the server
  // allows (see `longest_deadline`).
  std::optional<absl::Duration> deadline;
  // process without --deadline: a Process stream runs as long as its input
  // lasts, so it asks for kLongestDeadline and the server's --max_deadline
  // caps it, rather than inheriting the server's short default.
  bool longest_deadline = false;
  // run only: StreamBatch instead of RunBatch.
  bool stream = false;
  OutputFormat output = OutputFormat::kTable;
  // -o json: the document carries every result too (--results).
  bool results = false;
  // -o jsonl, -o json --results: each result also gets "outputText", its
  // output decoded as text (--decode-outputs).
  bool decode_outputs = false;
  // --quiet: no line on stderr about jobs that did not succeed (errors that
  // exit 2 are still said).
  bool quiet = false;
};

// What `jobgroup process` asks for without --deadline; servers cap it at
// their --max_deadline (10m by default).
inline constexpr absl::Duration kLongestDeadline = absl::Hours(24);

// AddConnectionFlags() declares --target, the TLS flags and --token.
void AddConnectionFlags(FlagParser& parser);

// ClientOptionsFromFlags() reads the connection flags; the target defaults to
// $JOBGROUP_TARGET, then kDefaultTarget, and the token to $JOBGROUP_TOKEN.
absl::StatusOr<ClientOptions> ClientOptionsFromFlags(const ParsedFlags& flags);

// AddRunFlags() declares every flag of `jobgroup run` or `jobgroup process`,
// the connection flags included.
void AddRunFlags(FlagParser& parser, RunMode mode);

// RunOptionsFromFlags() checks the flags parsed by a parser built with
// AddRunFlags(`mode`) and builds the options. Errors are InvalidArgument
// and name the flag: `--policy: "x" is not fail-fast or collect-all`.
absl::StatusOr<RunOptions> RunOptionsFromFlags(const ParsedFlags& flags,
                                               RunMode mode);

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_RUN_OPTIONS_H_

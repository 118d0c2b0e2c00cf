// ServerOptions: everything jobgroupd is configured with, filled from flags
// by main.cc and read-only afterwards.
#ifndef JOBGROUP_SERVER_SERVICE_SERVER_OPTIONS_H_
#define JOBGROUP_SERVER_SERVICE_SERVER_OPTIONS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "server/core/backends.h"
#include "server/kinds/http_options.h"
#include "server/service/authenticator.h"
#include "server/service/kind_backends.h"
#include "server/service/logger.h"

namespace jobgroup {

// What a message needs beside one job's output: the result's other fields
// (its id included, within reason) and a summary.
inline constexpr uint64_t kMessageRoomBytes = 64 << 10;

struct ServerOptions {
  // What the server calls itself in GetServerInfo (RunJobgroupd(): the
  // program's file name, e.g. jobgroupd-example).
  std::string server_name = "jobgroupd";
  std::string listen = "0.0.0.0:50051";
  std::string metrics_listen = "0.0.0.0:9464";  // Empty: no metrics.
  size_t workers = 2;
  size_t queue_capacity = 4096;
  std::vector<BackendSpec> backends;  // Added to the defaults.
  // Which backends each kind's jobs may name (KindBackends); --kind_backends.
  std::vector<KindBackendsSpec> kind_backends;
  uint64_t max_jobs_per_call = 100'000;
  uint64_t max_payload_bytes = 1 << 20;
  // main.cc derives it from the per-call limits and the memory budget
  // unless --max_message_bytes is given.
  uint64_t max_message_bytes = 256 << 20;
  // A job's output at most; a longer one FAILS the job. main.cc keeps it
  // kMessageRoomBytes under max_message_bytes, so that any one result fits
  // a message.
  uint64_t max_output_bytes = 64 << 20;
  uint64_t max_inflight_jobs = 1'000'000;
  // --adaptive_limit: a limit under max_inflight_jobs that follows the
  // queueing delay of calls (AdaptiveLimit); delays under
  // adaptive_limit_queue_delay count as no queue.
  bool adaptive_limit = false;
  absl::Duration adaptive_limit_queue_delay = absl::Milliseconds(1);
  uint64_t max_concurrency = 1'000'000;  // Accepted BatchOptions value.
  uint64_t process_window = 1024;  // Process's window without max_concurrency.
  // What the server may hold (--memory_budget_bytes): requests reserve
  // their parsed size from three quarters of it, gRPC's buffers get the
  // last quarter (its ResourceQuota).
  uint64_t memory_budget_bytes = uint64_t{1} << 30;
  uint32_t max_fallbacks = 8;
  uint32_t max_attempts = 10;
  uint32_t max_params = 64;
  uint64_t max_param_bytes = 4096;
  // Lengths of a job's kind, backend and id (fixed): names are short, and
  // every one of them may be quoted in an error, a log line or a result.
  uint64_t max_kind_bytes = 128;
  uint64_t max_backend_bytes = 128;
  uint64_t max_id_bytes = 256;
  absl::Duration default_deadline = absl::Seconds(30);
  absl::Duration max_deadline = absl::Minutes(10);
  absl::Duration deadline_margin = absl::Milliseconds(100);
  absl::Duration drain_timeout = absl::Seconds(10);
  absl::Duration max_connection_age = absl::Minutes(5);
  absl::Duration max_connection_age_grace = absl::Seconds(30);
  // A Process stream that sends no message for this long from its start is
  // ended (DEADLINE_EXCEEDED); --stream_idle_timeout.
  absl::Duration stream_idle_timeout = absl::Seconds(5);
  // Concurrent streams one HTTP/2 connection may open (advertised as
  // SETTINGS_MAX_CONCURRENT_STREAMS); --max_concurrent_streams.
  uint32_t max_concurrent_streams = 100;
  // Streams open at once in the whole server (StreamLimit);
  // --max_open_streams.
  uint64_t max_open_streams = 10000;
  bool log_json = false;
  // Lines below it are not written; --log_level.
  LogLevel log_level = LogLevel::kInfo;
  // At most this many call_finished lines a second (0: every call; the
  // next line written says how many were left out); --log_calls_per_second.
  uint64_t log_calls_per_second = 0;
  HttpOptions http;  // The http kind (docs/HTTP_KIND.md).

  // Security (docs/SECURITY.md). TLS is on when tls_cert_file is set.
  std::string tls_cert_file;       // PEM certificate chain; needs the key.
  std::string tls_key_file;        // PEM private key of tls_cert_file.
  std::string tls_client_ca_file;  // PEM; set: clients need a cert it signed.
  // Null: JobService calls need no token.
  std::shared_ptr<const Authenticator> authenticator;
  // Null: the admin API (AdminService) is off. Its own tokens; a job token
  // cannot use it (--admin_tokens_file).
  std::shared_ptr<const Authenticator> admin_authenticator;
  std::string health_listen;  // Plain-text health-only address; may be empty.
  // The admin API's own address (same TLS as --listen); empty: on --listen.
  // Needs admin_authenticator.
  std::string admin_listen;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_SERVER_OPTIONS_H_

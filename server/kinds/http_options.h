// HttpOptions: the server-side settings of the http job kind (from the
// --http_* flags, see http_flags.h). A plain value, copied into the kind at
// registration.
#ifndef JOBGROUP_SERVER_KINDS_HTTP_OPTIONS_H_
#define JOBGROUP_SERVER_KINDS_HTTP_OPTIONS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace jobgroup {

struct HttpOptions {
  // Host patterns jobs may reach (--http_allow); empty: no http jobs.
  std::vector<std::string> allow;
  // Host patterns that may resolve to non-public addresses
  // (--http_allow_private). See host_policy.h.
  std::vector<std::string> allow_private;
  // Capacity of the "http" backend: requests in flight at once, all hosts
  // (--http_max_inflight). A --backend=http=N given to the server wins.
  int64_t max_inflight = 256;
  // Requests to host names that may be resolving them at once, each on a
  // resolver thread of its own (--http_max_lookups); see http_client.h.
  int64_t max_lookups = 16;
  // Requests in flight at once to one host (--http_max_per_host) ...
  int64_t max_per_host = 8;
  // ... unless the host has its own limit here (--http_host_limit=HOST=N).
  std::map<std::string, int64_t> host_limits;
  // The longest Retry-After (on 429 and 503) a job waits out before it
  // fails; longer ones fail at once. A job may lower it with its
  // max_retry_after_ms param (--http_max_retry_after).
  absl::Duration max_retry_after = absl::Seconds(30);
  // Largest max_response_bytes param accepted (and never more than
  // max_body_bytes).
  int64_t max_response_bytes_limit = 64 << 20;
  // Response bodies in flight, all jobs together, in bytes
  // (--http_max_body_bytes): a job reserves its max_response_bytes before
  // its request is sent and waits, holding no thread, while they do not
  // fit. 0: a quarter of the server's memory budget, at most 256 MiB.
  int64_t max_body_bytes = 0;
  // Pinned DNS answers, "HOST:PORT:ADDRESS" (curl's CURLOPT_RESOLVE form).
  // For tests; addresses are still checked against the policy.
  std::vector<std::string> resolve;
  std::string user_agent = "jobgroup-http/1";
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_KINDS_HTTP_OPTIONS_H_

// The --http_* flags and HttpOptionsFromFlags().
#include "server/kinds/http_flags.h"

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "server/flags/repeated_flag.h"
#include "server/kinds/host_policy.h"

ABSL_FLAG(std::vector<std::string>, http_allow, {},
          "Hosts http jobs may reach, comma-separated patterns: example.com "
          "(exactly), *.example.com (any subdomain), an IP address, or * "
          "(any host). Empty: http jobs are refused.");
ABSL_FLAG(std::vector<std::string>, http_allow_private, {},
          "Hosts (patterns as --http_allow) that http jobs may reach at "
          "loopback, private, link-local and other non-public addresses. "
          "Every other host is refused at such addresses, checked on the "
          "resolved address of each connection.");
ABSL_FLAG(int64_t, http_max_inflight, 256,
          "Capacity of the http backend: http requests in flight at once, "
          "all hosts together (--backend=http=N overrides it).");
ABSL_FLAG(int64_t, http_max_per_host, 8,
          "http requests in flight at once to one host (semaphore http:HOST).");
ABSL_FLAG(std::vector<std::string>, http_host_limit, {},
          "A host's own limit of requests in flight, HOST=N (e.g. "
          "api.example.com=32). Repeatable, or comma-separated.");
ABSL_FLAG(int64_t, http_max_lookups, 16,
          "http requests to host names that may be looking the name up at "
          "once (libcurl runs each lookup on a thread of its own); the rest "
          "wait their turn. Bounds the threads names that do not resolve "
          "can cost.");
ABSL_FLAG(int64_t, http_max_body_bytes, 0,
          "Response body bytes in flight, all http jobs together: a job "
          "reserves its max_response_bytes before its request is sent and "
          "waits (holding no thread) while they do not fit. 0: a quarter of "
          "the memory budget, at most 256 MiB. No job may ask for more.");
ABSL_FLAG(absl::Duration, http_max_retry_after, absl::Seconds(30),
          "The longest Retry-After (on 429 and 503) an http job waits out "
          "before it fails and its retry policy takes over; longer ones fail "
          "at once. Jobs may ask for less with params.max_retry_after_ms.");

namespace jobgroup {

absl::StatusOr<HttpOptions> HttpOptionsFromFlags(
    const std::vector<std::string>& raw_args) {
  HttpOptions o;
  o.allow = absl::GetFlag(FLAGS_http_allow);
  o.allow_private = absl::GetFlag(FLAGS_http_allow_private);
  o.max_inflight = absl::GetFlag(FLAGS_http_max_inflight);
  o.max_per_host = absl::GetFlag(FLAGS_http_max_per_host);
  o.max_retry_after = absl::GetFlag(FLAGS_http_max_retry_after);
  o.max_body_bytes = absl::GetFlag(FLAGS_http_max_body_bytes);
  o.max_lookups = absl::GetFlag(FLAGS_http_max_lookups);
  if (o.max_lookups <= 0) {
    return absl::InvalidArgumentError("--http_max_lookups must be positive");
  }
  if (o.max_body_bytes < 0) {
    return absl::InvalidArgumentError(
        "--http_max_body_bytes must not be negative");
  }
  if (o.max_inflight <= 0) {
    return absl::InvalidArgumentError("--http_max_inflight must be positive");
  }
  if (o.max_per_host <= 0) {
    return absl::InvalidArgumentError("--http_max_per_host must be positive");
  }
  if (o.max_retry_after < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--http_max_retry_after must not be negative");
  }
  // Bad patterns stop start-up here, naming the flag.
  absl::StatusOr<HostPolicy> policy =
      HostPolicy::Create(o.allow, o.allow_private);
  if (!policy.ok()) return policy.status();
  std::vector<std::string> limits =
      RepeatedFlagValues(raw_args, "http_host_limit");
  if (limits.empty()) limits = absl::GetFlag(FLAGS_http_host_limit);
  for (const std::string& l : limits) {
    size_t eq = l.rfind('=');
    int64_t n = 0;
    if (eq == std::string::npos || eq == 0 ||
        !absl::SimpleAtoi(absl::string_view(l).substr(eq + 1), &n) || n <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--http_host_limit=", l,
          ": want HOST=N with N a positive integer, e.g. example.com=4"));
    }
    o.host_limits[l.substr(0, eq)] = n;
  }
  return o;
}

}  // namespace jobgroup

// The params of an http job, parsed and checked: what the kind's
// ParamValidator runs before a call is accepted, and what the handler reads.
//
//   url                 required; an absolute http:// or https:// URL
//                       (parsed with curl_url()) whose host --http_allow
//                       matches. No user:password@ part.
//   method              GET (default), POST, PUT, DELETE or HEAD.
//   headers             request headers, "Name: value" lines separated by
//                       \n (a trailing \r is dropped). Host, Content-Length,
//                       Transfer-Encoding, Connection and other hop-by-hop
//                       headers are set by the client and refused here.
//   accept              status codes that count as success, codes and
//                       ranges separated by commas: "200-299,304". Default
//                       200-299.
//   max_response_bytes  body bytes kept (default 1 MiB); a longer body is
//                       cut there and the output says truncated.
//   follow_redirects    true/false (default false): follow 301, 302, 303,
//                       307 and 308, at most 5 hops, each checked again.
//   max_retry_after_ms  the longest Retry-After the job waits out (default
//                       and limit: --http_max_retry_after); 0: never wait.
// The request body is the job's payload (sent with POST, PUT and DELETE).
//
// Every error is INVALID_ARGUMENT naming the param: "params.url: ...".
// Pure functions; thread-safe.
#ifndef JOBGROUP_SERVER_KINDS_HTTP_PARAMS_H_
#define JOBGROUP_SERVER_KINDS_HTTP_PARAMS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/job.h"
#include "server/kinds/host_policy.h"
#include "server/kinds/http_options.h"

namespace jobgroup {

inline constexpr int kHttpMaxRedirects = 5;
inline constexpr int64_t kHttpDefaultMaxResponseBytes = 1 << 20;

// A parsed absolute http or https URL.
struct HttpUrl {
  std::string url;     // As curl_url() spells it back.
  std::string scheme;  // "http" or "https".
  std::string host;    // NormalizeHost()d: lowercase, no IPv6 brackets.
  int port = 0;
};

// ParseHttpUrl()
//
// Parses `text` with curl_url(). INVALID_ARGUMENT (message without a field
// name) when it is not an absolute http(s) URL with a plain host name or IP
// address, or carries credentials.
absl::StatusOr<HttpUrl> ParseHttpUrl(absl::string_view text);

// A set of HTTP status codes, e.g. "200-299,304".
class StatusCodeSet {
 public:
  // StatusCodeSet::Parse()
  //
  // Codes and LOW-HIGH ranges within 100-599, comma-separated.
  // INVALID_ARGUMENT (no field name) when malformed or empty.
  static absl::StatusOr<StatusCodeSet> Parse(absl::string_view text);
  bool Contains(int code) const;
  const std::string& text() const { return text_; }

 private:
  std::vector<std::pair<int, int>> ranges_;
  std::string text_;
};

struct HttpJobParams {
  HttpUrl url;
  std::string method;  // Upper case.
  std::vector<std::pair<std::string, std::string>> headers;
  StatusCodeSet accept;
  int64_t max_response_bytes = kHttpDefaultMaxResponseBytes;
  bool follow_redirects = false;
  absl::Duration max_retry_after;
};

// ParseHttpJobParams()
//
// Parses and checks every param of `job` (unknown params are refused too),
// and the URL's host against `policy`.
absl::StatusOr<HttpJobParams> ParseHttpJobParams(const JobSpec& job,
                                                 const HostPolicy& policy,
                                                 const HttpOptions& options);

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_KINDS_HTTP_PARAMS_H_

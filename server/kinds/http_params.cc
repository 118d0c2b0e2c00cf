// Implementation of the http job's param parsing.
#include "server/kinds/http_params.h"

#include <curl/curl.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace jobgroup {
namespace {

constexpr size_t kMaxHeaders = 64;
constexpr size_t kMaxAcceptItems = 32;
constexpr absl::string_view kParams[] = {"url",
                                         "method",
                                         "headers",
                                         "accept",
                                         "max_response_bytes",
                                         "follow_redirects",
                                         "max_retry_after_ms"};
// Set by the client library or meaningless per request; refusing them keeps
// a job from smuggling a second request or a different virtual host.
constexpr absl::string_view kForbiddenHeaders[] = {"host",
                                                   "content-length",
                                                   "transfer-encoding",
                                                   "connection",
                                                   "keep-alive",
                                                   "upgrade",
                                                   "te",
                                                   "trailer",
                                                   "proxy-authorization",
                                                   "proxy-connection"};

absl::Status Bad(absl::string_view param, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("params.", param, ": ", what));
}

struct CurlUrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct CurlFree {
  void operator()(char* p) const { curl_free(p); }
};

// The part of `u`, or empty with the error code.
std::string GetPart(CURLU* u, CURLUPart part, unsigned flags,
                    CURLUcode* rc = nullptr) {
  char* raw = nullptr;
  CURLUcode c = curl_url_get(u, part, &raw, flags);
  if (rc) *rc = c;
  std::unique_ptr<char, CurlFree> p(raw);
  return c == CURLUE_OK && p ? std::string(p.get()) : std::string();
}

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) !=
             absl::string_view::npos;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseHeaders(
    absl::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return Bad("headers", absl::StrCat("line \"", line.substr(0, 64),
                                         "\" is not \"Name: value\""));
    }
    absl::string_view name = line.substr(0, colon);
    absl::string_view value =
        absl::StripAsciiWhitespace(line.substr(colon + 1));
    for (char c : name) {
      if (!IsTokenChar(c)) {
        return Bad("headers", absl::StrCat("header name \"", name.substr(0, 64),
                                           "\" has a character not allowed"));
      }
    }
    for (char c : value) {
      unsigned char u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) {
        return Bad("headers", absl::StrCat("header ", name,
                                           ": control characters in value"));
      }
    }
    std::string lower = absl::AsciiStrToLower(name);
    for (absl::string_view f : kForbiddenHeaders) {
      if (lower == f) {
        return Bad("headers",
                   absl::StrCat("header ", name, " is set by the server"));
      }
    }
    out.emplace_back(std::string(name), std::string(value));
    if (out.size() > kMaxHeaders) {
      return Bad("headers",
                 absl::StrCat("more than ", kMaxHeaders, " headers"));
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<HttpUrl> ParseHttpUrl(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("is required");
  std::unique_ptr<CURLU, CurlUrlDeleter> u(curl_url());
  if (!u) return absl::ResourceExhaustedError("curl_url() failed");
  std::string s(text);
  CURLUcode rc =
      curl_url_set(u.get(), CURLUPART_URL, s.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (rc != CURLUE_OK) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text.substr(0, 200),
                                                   "\" is not a valid URL (",
                                                   curl_url_strerror(rc), ")"));
  }
  HttpUrl out;
  out.scheme = absl::AsciiStrToLower(GetPart(u.get(), CURLUPART_SCHEME, 0));
  if (out.scheme != "http" && out.scheme != "https") {
    return absl::InvalidArgumentError(absl::StrCat(
        "scheme \"", out.scheme, "\" is not allowed (only http and https)"));
  }
  CURLUcode user_rc, password_rc, zone_rc;
  GetPart(u.get(), CURLUPART_USER, 0, &user_rc);
  GetPart(u.get(), CURLUPART_PASSWORD, 0, &password_rc);
  if (user_rc == CURLUE_OK || password_rc == CURLUE_OK) {
    return absl::InvalidArgumentError(
        "credentials in the URL are not accepted (send an Authorization "
        "header instead)");
  }
  GetPart(u.get(), CURLUPART_ZONEID, 0, &zone_rc);
  if (zone_rc == CURLUE_OK) {
    return absl::InvalidArgumentError("IPv6 zone ids are not accepted");
  }
  std::string host = GetPart(u.get(), CURLUPART_HOST, 0);
  if (host.empty()) return absl::InvalidArgumentError("the URL has no host");
  out.host = NormalizeHost(host);
  if (!ParseIpLiteral(out.host)) {
    for (char c : out.host) {
      if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
            c == '.' || c == '_')) {
        return absl::InvalidArgumentError(absl::StrCat(
            "host \"", host.substr(0, 100),
            "\" has characters not allowed (use the punycode form of "
            "international names)"));
      }
    }
  }
  std::string port = GetPart(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (!absl::SimpleAtoi(port, &out.port) || out.port <= 0 || out.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("port \"", port, "\" is not valid"));
  }
  // The URL carries the host in lower case too, as the policy saw it.
  curl_url_set(u.get(), CURLUPART_HOST, absl::AsciiStrToLower(host).c_str(), 0);
  out.url = GetPart(u.get(), CURLUPART_URL, 0);
  return out;
}

absl::StatusOr<StatusCodeSet> StatusCodeSet::Parse(absl::string_view text) {
  StatusCodeSet set;
  std::vector<std::string> parts;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) continue;
    std::pair<absl::string_view, absl::string_view> lohi =
        absl::StrSplit(item, absl::MaxSplits('-', 1));
    int lo, hi;
    bool ok = absl::SimpleAtoi(lohi.first, &lo);
    if (item.find('-') == absl::string_view::npos) {
      hi = lo;
    } else {
      ok = ok && absl::SimpleAtoi(lohi.second, &hi);
    }
    if (!ok || lo < 100 || hi > 599 || lo > hi) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", item.substr(0, 32),
                       "\" is not a status code or range within 100-599"));
    }
    set.ranges_.emplace_back(lo, hi);
    parts.push_back(lo == hi ? absl::StrCat(lo) : absl::StrCat(lo, "-", hi));
    if (set.ranges_.size() > kMaxAcceptItems) {
      return absl::InvalidArgumentError(
          absl::StrCat("more than ", kMaxAcceptItems, " items"));
    }
  }
  if (set.ranges_.empty()) {
    return absl::InvalidArgumentError(
        "no status codes (want e.g. 200-299,304)");
  }
  set.text_ = absl::StrJoin(parts, ",");
  return set;
}

bool StatusCodeSet::Contains(int code) const {
  for (const auto& [lo, hi] : ranges_) {
    if (code >= lo && code <= hi) return true;
  }
  return false;
}

absl::StatusOr<HttpJobParams> ParseHttpJobParams(const JobSpec& job,
                                                 const HostPolicy& policy,
                                                 const HttpOptions& options) {
  for (const auto& [name, value] : job.params) {
    bool known = false;
    for (absl::string_view k : kParams) known = known || name == k;
    if (!known) {
      return Bad(absl::string_view(name).substr(0, 64),
                 absl::StrCat("unknown param (known: ",
                              absl::StrJoin(kParams, ", "), ")"));
    }
  }
  HttpJobParams p;
  if (!job.HasParam("url")) return Bad("url", "is required");
  absl::StatusOr<HttpUrl> url = ParseHttpUrl(job.Param("url"));
  if (!url.ok()) return Bad("url", url.status().message());
  p.url = *std::move(url);
  absl::Status host_ok = policy.CheckHost(p.url.host, p.url.port);
  if (!host_ok.ok()) return Bad("url", host_ok.message());

  p.method = absl::AsciiStrToUpper(job.Param("method", "GET"));
  if (p.method != "GET" && p.method != "POST" && p.method != "PUT" &&
      p.method != "DELETE" && p.method != "HEAD") {
    return Bad("method",
               absl::StrCat("\"", job.Param("method").substr(0, 32),
                            "\" is not one of GET, POST, PUT, DELETE, HEAD"));
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> headers =
      ParseHeaders(job.Param("headers"));
  if (!headers.ok()) return headers.status();
  p.headers = *std::move(headers);

  absl::StatusOr<StatusCodeSet> accept =
      StatusCodeSet::Parse(job.Param("accept", "200-299"));
  if (!accept.ok()) return Bad("accept", accept.status().message());
  p.accept = *std::move(accept);

  if (job.HasParam("max_response_bytes")) {
    absl::string_view t = job.Param("max_response_bytes");
    if (!absl::SimpleAtoi(t, &p.max_response_bytes) ||
        p.max_response_bytes < 0 ||
        p.max_response_bytes > options.max_response_bytes_limit) {
      return Bad(
          "max_response_bytes",
          absl::StrCat("\"", t.substr(0, 32), "\" is not an integer in [0, ",
                       options.max_response_bytes_limit, "]"));
    }
  }
  if (job.HasParam("follow_redirects")) {
    absl::string_view t = job.Param("follow_redirects");
    if (!absl::SimpleAtob(t, &p.follow_redirects)) {
      return Bad("follow_redirects", absl::StrCat("\"", t.substr(0, 32),
                                                  "\" is not true or false"));
    }
  }
  p.max_retry_after = options.max_retry_after;
  if (job.HasParam("max_retry_after_ms")) {
    absl::string_view t = job.Param("max_retry_after_ms");
    int64_t ms;
    int64_t limit = absl::ToInt64Milliseconds(options.max_retry_after);
    if (!absl::SimpleAtoi(t, &ms) || ms < 0 || ms > limit) {
      return Bad("max_retry_after_ms",
                 absl::StrCat("\"", t.substr(0, 32),
                              "\" is not an integer in [0, ", limit, "]"));
    }
    p.max_retry_after = absl::Milliseconds(ms);
  }
  return p;
}

}  // namespace jobgroup

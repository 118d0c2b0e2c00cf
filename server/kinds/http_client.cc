// Implementation of HttpClient.
#include "server/kinds/http_client.h"

#include <sys/socket.h>

#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace jobgroup {
namespace {

constexpr size_t kMaxHeaderBytes = 64 << 10;
// curl's own timeout is a backstop that fires a little after the deadline:
// the owner of the deadline (the core, for a job) is meant to cancel the
// transfer first and so decide the outcome.
constexpr absl::Duration kTimeoutGrace = absl::Milliseconds(200);
constexpr size_t kMaxIdleHandles = 64;

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

// One request on its way; built by Start(), then owned by the I/O thread.
struct HttpClient::Transfer {
  HttpClient* client = nullptr;
  TransferId id = 0;
  HttpRequest request;
  DoneFn done;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  HttpResponse response;
  size_t header_bytes = 0;
  bool headers_too_large = false;
  absl::Status refused;  // Set when the policy refused an address.
  bool added = false;    // In the multi handle.
  bool lookup = false;   // Holds a lookup slot.
  bool queued = false;   // Waits for a lookup slot.
  char error[CURL_ERROR_SIZE] = {};

  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
  }
};

HttpClient::HttpClient(Options options) : options_(std::move(options)) {
  InitCurlOnce();
  multi_ = curl_multi_init();
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS,
                    static_cast<long>(options_.max_idle_connections));
  for (const std::string& r : options_.resolve) {
    resolve_ = curl_slist_append(resolve_, r.c_str());
  }
  thread_ = std::thread([this] { Loop(); });
}

HttpClient::~HttpClient() {
  Shutdown();
  for (CURL* e : idle_handles_) curl_easy_cleanup(e);
  curl_multi_cleanup(multi_);
  curl_slist_free_all(resolve_);
}

absl::StatusOr<HttpClient::TransferId> HttpClient::Start(HttpRequest request,
                                                         DoneFn done) {
  auto t = std::make_unique<Transfer>();
  t->client = this;
  t->request = std::move(request);
  t->done = std::move(done);
  MutexLock lock(&mu_);
  if (stopping_) {
    return absl::UnavailableError("the http client is shutting down");
  }
  TransferId id = t->id = next_id_++;
  incoming_.push_back(std::move(t));
  in_flight_.fetch_add(1);
  if (!woken_) {
    woken_ = true;
    curl_multi_wakeup(multi_);
  }
  return id;
}

void HttpClient::Cancel(TransferId id) {
  MutexLock lock(&mu_);
  if (stopping_) return;
  cancels_.push_back(id);
  if (!woken_) {
    woken_ = true;
    curl_multi_wakeup(multi_);
  }
}

void HttpClient::Shutdown() {
  {
    MutexLock lock(&mu_);
    if (!stopping_) {
      stopping_ = true;
      curl_multi_wakeup(multi_);
    }
  }
  std::call_once(joined_, [this] { thread_.join(); });
}

void HttpClient::Loop() {
  std::vector<std::unique_ptr<Transfer>> incoming;
  std::vector<TransferId> cancels;
  while (true) {
    bool stopping;
    {
      MutexLock lock(&mu_);
      incoming.swap(incoming_);
      cancels.swap(cancels_);
      stopping = stopping_;
      woken_ = false;
    }
    for (auto& t : incoming) Begin(std::move(t));
    incoming.clear();
    for (TransferId id : cancels) {
      auto it = active_.find(id);
      if (it != active_.end()) {
        End(it->second.get(), CURLE_OK,
            absl::CancelledError("the request was cancelled"));
      }
    }
    cancels.clear();
    if (stopping) break;
    StartLookups();
    int running = 0;
    curl_multi_perform(multi_, &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &t);
      CURLcode code = m->data.result;  // `m` dies with the handle.
      End(t, code, absl::OkStatus());
    }
    // Slots freed in this round (connections chosen, transfers ended) go
    // to the queue at once, not after the next poll.
    if (!lookup_queue_.empty() &&
        lookups_.load(std::memory_order_relaxed) < options_.max_lookups) {
      continue;
    }
    curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
  }
  while (!active_.empty()) {
    End(active_.begin()->second.get(), CURLE_OK,
        absl::UnavailableError("the http client is shutting down"));
  }
}

void HttpClient::Begin(std::unique_ptr<Transfer> t) {
  const HttpRequest& req = t->request;
  absl::Status early;
  if (req.deadline != absl::InfiniteFuture() &&
      req.deadline + kTimeoutGrace <= absl::Now()) {
    early = absl::DeadlineExceededError("no time left for the request");
  }
  CURL* e = nullptr;
  if (early.ok() && !idle_handles_.empty()) {
    e = idle_handles_.back();
    idle_handles_.pop_back();
  } else if (early.ok()) {
    e = curl_easy_init();
  }
  if (early.ok() && e == nullptr) {
    early = absl::UnavailableError("curl_easy_init failed");
  }
  if (!early.ok()) {
    in_flight_.fetch_sub(1);
    HttpResponse r;
    r.transport = early;
    DoneFn done = std::move(t->done);
    t.reset();
    done(std::move(r));
    return;
  }
  t->easy = e;
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
  curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  // An empty proxy disables http_proxy and friends from the environment:
  // every connection goes where the policy checked it goes.
  curl_easy_setopt(e, CURLOPT_PROXY, "");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
  curl_easy_setopt(e, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &HttpClient::OnOpenSocket);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t.get());
  curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, &HttpClient::OnPrereq);
  curl_easy_setopt(e, CURLOPT_PREREQDATA, t.get());
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &HttpClient::OnBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &HttpClient::OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  if (resolve_ != nullptr) curl_easy_setopt(e, CURLOPT_RESOLVE, resolve_);
  if (req.deadline != absl::InfiniteFuture()) {
    int64_t ms = std::max<int64_t>(
        1,
        absl::ToInt64Milliseconds(req.deadline + kTimeoutGrace - absl::Now()));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(ms));
  }
  bool has_expect = false;
  for (const auto& [name, value] : req.headers) {
    has_expect = has_expect || absl::EqualsIgnoreCase(name, "expect");
    // "Name;" is curl's spelling of a header with an empty value.
    std::string line = value.empty() ? absl::StrCat(name, ";")
                                     : absl::StrCat(name, ": ", value);
    t->headers = curl_slist_append(t->headers, line.c_str());
  }
  // No 100-continue round trip (and no one-second stall on servers that do
  // not answer it) unless the job asks for it.
  if (!has_expect) t->headers = curl_slist_append(t->headers, "Expect:");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  if (req.method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (req.method == "GET") {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    if (req.method != "POST") {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    if (req.method != "DELETE" || !req.body.empty()) {
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(req.body.size()));
    }
  }
  Transfer* raw = t.get();
  active_.emplace(raw->id, std::move(t));
  if (ParseIpLiteral(raw->request.host)) {
    Add(raw);  // No lookup.
  } else {
    raw->queued = true;
    lookup_queue_.push_back(raw->id);
    lookup_waiting_.fetch_add(1, std::memory_order_relaxed);
  }
}

void HttpClient::Add(Transfer* t) {
  CURLMcode mc = curl_multi_add_handle(multi_, t->easy);
  if (mc == CURLM_OK) {
    t->added = true;
    return;
  }
  End(t, CURLE_OK,
      absl::UnavailableError(
          absl::StrCat("curl_multi_add_handle: ", curl_multi_strerror(mc))));
}

void HttpClient::StartLookups() {
  while (lookups_.load(std::memory_order_relaxed) < options_.max_lookups &&
         !lookup_queue_.empty()) {
    TransferId id = lookup_queue_.front();
    lookup_queue_.pop_front();
    auto it = active_.find(id);
    if (it == active_.end()) continue;  // Ended while it waited.
    Transfer* t = it->second.get();
    t->queued = false;
    lookup_waiting_.fetch_sub(1, std::memory_order_relaxed);
    t->lookup = true;
    int64_t now = lookups_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (now > peak_lookups_.load(std::memory_order_relaxed)) {
      peak_lookups_.store(now, std::memory_order_relaxed);
    }
    Add(t);
  }
}

void HttpClient::EndLookup(Transfer* t) {
  if (!t->lookup) return;
  t->lookup = false;
  lookups_.fetch_sub(1, std::memory_order_relaxed);
}

void HttpClient::End(Transfer* t, CURLcode code, absl::Status forced) {
  if (t->added) curl_multi_remove_handle(multi_, t->easy);
  EndLookup(t);
  if (t->queued) lookup_waiting_.fetch_sub(1, std::memory_order_relaxed);
  auto it = active_.find(t->id);
  std::unique_ptr<Transfer> owned = std::move(it->second);
  active_.erase(it);

  HttpResponse r = std::move(t->response);
  long status = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
  r.status = static_cast<int>(status);
  long connects = 0;
  curl_easy_getinfo(t->easy, CURLINFO_NUM_CONNECTS, &connects);
  r.new_connection = connects > 0;
  char* location = nullptr;
  curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &location);
  if (location != nullptr) r.redirect_url = location;
  curl_off_t retry_after = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RETRY_AFTER, &retry_after);
  r.retry_after = absl::Seconds(retry_after);

  std::string detail =
      t->error[0] != '\0' ? std::string(t->error) : curl_easy_strerror(code);
  if (!forced.ok()) {
    r.transport = std::move(forced);
  } else if (code == CURLE_OK) {
    r.transport = absl::OkStatus();
  } else if (code == CURLE_WRITE_ERROR && r.truncated) {
    r.transport = absl::OkStatus();  // We stopped it at the size limit.
  } else if (code == CURLE_WRITE_ERROR && t->headers_too_large) {
    r.transport = absl::ResourceExhaustedError(absl::StrCat(
        "response headers are over the limit of ", kMaxHeaderBytes, " bytes"));
  } else if (code == CURLE_OPERATION_TIMEDOUT) {
    r.transport =
        absl::DeadlineExceededError(absl::StrCat("timed out (", detail, ")"));
  } else if (!t->refused.ok() && (code == CURLE_COULDNT_CONNECT ||
                                  code == CURLE_COULDNT_RESOLVE_HOST)) {
    r.transport = t->refused;
  } else if (code == CURLE_UNSUPPORTED_PROTOCOL) {
    r.transport = absl::PermissionDeniedError(detail);
  } else {
    r.transport = absl::UnavailableError(
        absl::StrCat(detail, " (curl error ", static_cast<int>(code), ")"));
  }
  DoneFn done = std::move(owned->done);
  if (idle_handles_.size() < kMaxIdleHandles) {
    curl_easy_reset(owned->easy);
    idle_handles_.push_back(owned->easy);
    owned->easy = nullptr;
  }
  owned.reset();
  in_flight_.fetch_sub(1);
  done(std::move(r));
}

size_t HttpClient::OnBody(char* data, size_t size, size_t n, void* p) {
  auto* t = static_cast<Transfer*>(p);
  size_t len = size * n;
  std::string& body = t->response.body;
  size_t limit = static_cast<size_t>(t->request.max_response_bytes);
  size_t room = limit > body.size() ? limit - body.size() : 0;
  if (len <= room) {
    body.append(data, len);
    return len;
  }
  body.append(data, room);
  t->response.truncated = true;
  return 0;  // Stops the transfer: CURLE_WRITE_ERROR.
}

size_t HttpClient::OnHeader(char* data, size_t size, size_t n, void* p) {
  auto* t = static_cast<Transfer*>(p);
  size_t len = size * n;
  absl::string_view line(data, len);
  auto& headers = t->response.headers;
  if (absl::StartsWith(line, "HTTP/")) {
    // A new response (after 100 Continue, say): start over.
    headers.clear();
    t->header_bytes = 0;
    return len;
  }
  t->header_bytes += len;
  if (t->header_bytes > kMaxHeaderBytes) {
    t->headers_too_large = true;
    return 0;
  }
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  if (line.empty()) return len;
  if ((line.front() == ' ' || line.front() == '\t') && !headers.empty()) {
    // An obsolete folded continuation line.
    absl::StrAppend(&headers.back().second, " ",
                    absl::StripAsciiWhitespace(line));
    return len;
  }
  size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return len;
  headers.emplace_back(
      std::string(line.substr(0, colon)),
      std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  return len;
}

int HttpClient::OnPrereq(void* p, char*, char*, int, int) {
  // The connection is chosen (a kept-alive one, or a new one connected):
  // no lookup is left to make.
  auto* t = static_cast<Transfer*>(p);
  t->client->EndLookup(t);
  return CURL_PREREQFUNC_OK;
}

curl_socket_t HttpClient::OnOpenSocket(void* p, curlsocktype purpose,
                                       curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(p);
  t->client->EndLookup(t);  // The name is resolved.
  std::optional<IpAddress> ip = FromSockaddr(&address->addr);
  absl::Status ok =
      ip ? t->client->options_.policy->CheckAddress(t->request.host,
                                                    t->request.port, *ip)
         : absl::PermissionDeniedError(absl::StrCat(
               "refused to connect to an address of family ", address->family,
               " for host \"", t->request.host, "\""));
  if (!ok.ok()) {
    t->client->refused_.fetch_add(1);
    t->refused = std::move(ok);
    return CURL_SOCKET_BAD;
  }
  curl_socket_t fd = socket(address->family, address->socktype | SOCK_CLOEXEC,
                            address->protocol);
  if (fd >= 0) t->client->opened_.fetch_add(1);
  return fd;
}

}  // namespace jobgroup

// Implementation of the http job kind: one HttpExchange per attempt.
#include "server/kinds/http_kind.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/core/mutex.h"
#include "server/kinds/http_output.h"
#include "server/kinds/http_params.h"

namespace jobgroup {
namespace {

constexpr size_t kBodySnippetBytes = 200;

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 ||
         status == 308;
}

// The start of a response body, fit for an error message.
std::string BodySnippet(absl::string_view body) {
  if (body.empty()) return "";
  absl::string_view head = body.substr(0, kBodySnippetBytes);
  return absl::StrCat("; body: \"", absl::CHexEscape(head),
                      body.size() > head.size() ? "...\"" : "\"");
}

// One attempt of an http job: host permit, transfer, redirect hops, then
// the job's result. Lives while a semaphore, the client or a timer holds a
// callback to it; its cancel callback holds it weakly, so a finished
// exchange is freed. Thread-safe: events come from the worker that starts
// it, releasing threads (host permit), the I/O thread (response), the timer
// thread (Retry-After) and cancelling threads.
class HttpExchange : public std::enable_shared_from_this<HttpExchange> {
 public:
  HttpExchange(HttpKind* kind, std::shared_ptr<JobContext> ctx,
               HttpJobParams params)
      : kind_(kind),
        ctx_(std::move(ctx)),
        params_(std::move(params)),
        url_(params_.url),
        method_(params_.method),
        headers_(params_.headers),
        send_body_(method_ == "POST" || method_ == "PUT" ||
                   method_ == "DELETE") {}

  ~HttpExchange() {
    uint64_t reserved;
    {
      MutexLock lock(&mu_);
      reserved = reserved_;
    }
    if (reserved == 0) return;
    if (MemoryBudget* m = kind_->server_memory()) m->Release(reserved);
    kind_->body_bytes().Release(reserved);
  }

  void Start() {
    std::weak_ptr<HttpExchange> weak = weak_from_this();
    ctx_->OnCancel([weak] {
      if (auto self = weak.lock()) self->OnCancel();
    });
    ReserveBody();
  }

 private:
  enum class State { kWaitBytes, kWaitHost, kTransfer, kRetryWait, kDone };

  // Reserves the most the response body may take, or waits (holding no
  // thread) for bytes to come back; then goes on to the host permit.
  void ReserveBody() {
    const uint64_t want = static_cast<uint64_t>(params_.max_response_bytes);
    MemoryBudget& budget = kind_->body_bytes();
    if (!budget.TryReserve(want)) {
      uint64_t id = 0;
      bool cancelled = false;
      {
        MutexLock lock(&mu_);
        cancelled = cancelled_;
        if (cancelled) {
          state_ = State::kDone;
        } else {
          state_ = State::kWaitBytes;
          std::shared_ptr<HttpExchange> self = shared_from_this();
          id = bytes_wait_ =
              budget.WhenReleased([self] { self->ReserveBody(); });
        }
      }
      if (cancelled) {
        ctx_->Finish(Cancelled());
        return;
      }
      // Bytes released between the failed try and the wait woke nobody:
      // look again. When they fit now and the wake has not run, take it
      // back; when it runs already, it tries on its own: give this try
      // back.
      if (!budget.TryReserve(want)) return;
      if (!budget.CancelWait(id)) {
        budget.Release(want);
        return;
      }
    }
    bool cancelled;
    {
      MutexLock lock(&mu_);
      reserved_ = want;
      bytes_wait_ = 0;
      cancelled = cancelled_;
      if (cancelled) state_ = State::kDone;
    }
    if (MemoryBudget* m = kind_->server_memory()) m->Hold(want);
    if (cancelled) {
      ctx_->Finish(Cancelled());
    } else {
      AcquireHost();
    }
  }

  // Parks for a permit of the current URL's host.
  void AcquireHost() {
    bool cancelled = false;
    bool granted = false;
    {
      MutexLock lock(&mu_);
      if (cancelled_) {
        state_ = State::kDone;
        cancelled = true;
      } else {
        state_ = State::kWaitHost;
        host_ = kind_->host_limits().For(url_.host);
        std::shared_ptr<HttpExchange> self = shared_from_this();
        // The callback runs on a releasing thread; it takes mu_ and so
        // sees waiter_ stored.
        waiter_ = host_->AcquireOrWait(
            [self](absl::Duration) { self->OnHostPermit(); });
        granted = waiter_ == 0;
      }
    }
    if (cancelled) {
      ctx_->Finish(Cancelled());
    } else if (granted) {
      OnHostPermit();
    }
  }

  // Holds the host permit: starts the transfer.
  void OnHostPermit() {
    std::optional<absl::Status> fail;
    std::shared_ptr<Semaphore> host;
    {
      MutexLock lock(&mu_);
      waiter_ = 0;
      host = host_;
      if (cancelled_ || state_ != State::kWaitHost) {
        fail = Cancelled();
      } else {
        HttpRequest req;
        req.url = url_.url;
        req.host = url_.host;
        req.port = url_.port;
        req.method = method_;
        req.headers = headers_;
        AddCallHeaders(req);
        if (send_body_) req.body = ctx_->job().payload;
        req.deadline = ctx_->deadline();
        req.max_response_bytes = params_.max_response_bytes;
        std::shared_ptr<HttpExchange> self = shared_from_this();
        absl::StatusOr<HttpClient::TransferId> id = kind_->client().Start(
            std::move(req),
            [self](HttpResponse r) { self->OnResponse(std::move(r)); });
        if (id.ok()) {
          state_ = State::kTransfer;
          transfer_ = *id;
        } else {
          fail = absl::Status(
              id.status().code(),
              absl::StrCat(Describe(), ": ", id.status().message()));
        }
      }
      if (fail) state_ = State::kDone;
    }
    if (fail) {
      host->Release();
      ctx_->Finish(*fail);
    }
  }

  // On the I/O thread: the transfer ended.
  void OnResponse(HttpResponse r) {
    std::optional<absl::StatusOr<std::string>> result;
    bool next_hop = false;
    std::shared_ptr<Semaphore> host;
    {
      MutexLock lock(&mu_);
      transfer_ = 0;
      host = host_;
      if (cancelled_) {
        result = Cancelled();
      } else if (!r.transport.ok()) {
        result =
            absl::Status(r.transport.code(),
                         absl::StrCat(Describe(), ": ", r.transport.message()));
      } else if (params_.follow_redirects && IsRedirect(r.status) &&
                 !r.redirect_url.empty()) {
        absl::Status hop = NextHopLocked(r);
        if (hop.ok()) {
          next_hop = true;
        } else {
          result = hop;
        }
      } else if (params_.accept.Contains(r.status)) {
        result = FormatHttpOutput(r, url_.url, hops_);
      } else {
        absl::Status err = StatusError(r);
        if ((r.status == 429 || r.status == 503) &&
            r.retry_after > absl::ZeroDuration()) {
          result = WaitRetryAfterLocked(r.retry_after, std::move(err));
        } else {
          result = std::move(err);
        }
      }
      if (result) state_ = State::kDone;
    }
    host->Release();
    if (next_hop) AcquireHost();
    if (result) ctx_->Finish(*std::move(result));
  }

  // Parks until Retry-After has passed, then fails with `err`; returns
  // nothing when parked, or the error to fail with at once.
  std::optional<absl::Status> WaitRetryAfterLocked(absl::Duration wait,
                                                   absl::Status err)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::Time until = absl::Now() + wait;
    std::string why;
    if (wait > params_.max_retry_after) {
      why = absl::StrCat("over max_retry_after_ms ",
                         absl::ToInt64Milliseconds(params_.max_retry_after));
    } else if (until >= ctx_->deadline()) {
      why = "it would pass the deadline";
    } else {
      absl::Status waited(err.code(),
                          absl::StrCat(err.message(), " (waited Retry-After ",
                                       absl::FormatDuration(wait), ")"));
      std::shared_ptr<HttpExchange> self = shared_from_this();
      state_ = State::kRetryWait;
      timer_ = ctx_->timers().Schedule(
          until, [self, waited] { self->OnRetryAfterWaited(waited); });
      if (timer_ != 0) return std::nullopt;
      why = "the server is shutting down";
    }
    return absl::Status(
        err.code(),
        absl::StrCat(err.message(), " (Retry-After ",
                     absl::FormatDuration(wait), " not waited: ", why, ")"));
  }

  void OnRetryAfterWaited(absl::Status err) {
    {
      MutexLock lock(&mu_);
      if (state_ != State::kRetryWait) return;
      state_ = State::kDone;
      timer_ = 0;
    }
    ctx_->Finish(std::move(err));
  }

  void OnCancel() {
    HttpClient::TransferId abort = 0;
    bool finish = false;
    {
      MutexLock lock(&mu_);
      if (state_ == State::kDone || cancelled_) return;
      cancelled_ = true;
      switch (state_) {
        case State::kWaitBytes:
          // 0 or CancelWait() false: the wake is running; ReserveBody()
          // sees cancelled_ and finishes.
          if (bytes_wait_ != 0 && kind_->body_bytes().CancelWait(bytes_wait_)) {
            bytes_wait_ = 0;
            finish = true;
          }
          break;
        case State::kWaitHost:
          // 0: the permit was granted and OnHostPermit() is on its way.
          // CancelWait() false: it is being handed over right now. Either
          // way OnHostPermit() sees cancelled_ and gives it back.
          if (waiter_ != 0 && host_->CancelWait(waiter_)) {
            waiter_ = 0;
            finish = true;
          }
          break;
        case State::kTransfer:
          abort = transfer_;  // OnResponse() follows with CANCELLED.
          break;
        case State::kRetryWait:
          finish = ctx_->timers().Cancel(timer_);
          break;
        case State::kDone:
          break;
      }
      if (finish) state_ = State::kDone;
    }
    if (abort != 0) kind_->client().Cancel(abort);
    if (finish) ctx_->Finish(Cancelled());
  }

  // Moves to the redirect's target, or says why not.
  absl::Status NextHopLocked(const HttpResponse& r)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (hops_ >= kHttpMaxRedirects) {
      return absl::FailedPreconditionError(absl::StrCat(
          Describe(), ": more than ", kHttpMaxRedirects, " redirects"));
    }
    absl::StatusOr<HttpUrl> next = ParseHttpUrl(r.redirect_url);
    absl::Status allowed =
        next.ok() ? kind_->policy().CheckHost(next->host, next->port)
                  : next.status();
    if (!allowed.ok()) {
      return absl::PermissionDeniedError(absl::StrCat(
          Describe(), ": redirect (", r.status, ") to \"",
          r.redirect_url.substr(0, 200), "\" refused: ", allowed.message()));
    }
    // As browsers and curl do: 303 turns into GET, and so do 301 and 302
    // after a POST; 307 and 308 keep the method and body.
    if ((r.status == 303 && method_ != "HEAD") ||
        ((r.status == 301 || r.status == 302) && method_ == "POST")) {
      method_ = "GET";
      send_body_ = false;
      DropHeaders({"content-type"});
    }
    // Credentials are for the origin they were given to: as curl does, a
    // change of scheme (https -> http would send them in clear), host or
    // port (another service on the same host) drops them.
    if (next->scheme != url_.scheme || next->host != url_.host ||
        next->port != url_.port) {
      DropHeaders({"authorization", "cookie"});
    }
    url_ = *std::move(next);
    ++hops_;
    return absl::OkStatus();
  }

  // What the request carries of its call, unless the job's params set the
  // same header: the call's W3C traceparent (when its client sent one), and
  // the time left until the attempt's deadline, in whole milliseconds
  // (x-request-timeout-ms), so the remote end can give up when the answer
  // would come too late.
  void AddCallHeaders(HttpRequest& req) const {
    auto has = [&req](absl::string_view name) {
      for (const auto& [k, v] : req.headers) {
        if (absl::EqualsIgnoreCase(k, name)) return true;
      }
      return false;
    };
    const std::shared_ptr<const std::string>& tp = ctx_->job().traceparent;
    if (tp != nullptr && !has("traceparent")) {
      req.headers.emplace_back("traceparent", *tp);
    }
    if (ctx_->deadline() != absl::InfiniteFuture() &&
        !has("x-request-timeout-ms")) {
      int64_t ms = std::max<int64_t>(
          0, absl::ToInt64Milliseconds(ctx_->deadline() - absl::Now()));
      req.headers.emplace_back("x-request-timeout-ms", absl::StrCat(ms));
    }
  }

  void DropHeaders(std::initializer_list<absl::string_view> names)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::erase_if(headers_, [&](const auto& h) {
      for (absl::string_view n : names) {
        if (absl::EqualsIgnoreCase(h.first, n)) return true;
      }
      return false;
    });
  }

  absl::Status StatusError(const HttpResponse& r) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::string msg =
        absl::StrCat(Describe(), ": status ", r.status, " is not accepted (",
                     params_.accept.text(), ")", BodySnippet(r.body));
    if (r.status == 429) return absl::ResourceExhaustedError(msg);
    if (r.status >= 500) return absl::UnavailableError(msg);
    return absl::FailedPreconditionError(msg);
  }

  std::string Describe() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return absl::StrCat("http ", method_, " ", url_.url);
  }

  static absl::Status Cancelled() {
    return absl::CancelledError("http request cancelled");
  }

  HttpKind* const kind_;
  const std::shared_ptr<JobContext> ctx_;
  const HttpJobParams params_;

  Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kWaitBytes;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<Semaphore> host_ ABSL_GUARDED_BY(mu_);
  Semaphore::WaiterId waiter_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_wait_ ABSL_GUARDED_BY(mu_) = 0;  // A body_bytes() wait.
  // Body bytes reserved (of body_bytes() and the server's budget); given
  // back by the destructor.
  uint64_t reserved_ ABSL_GUARDED_BY(mu_) = 0;
  HttpClient::TransferId transfer_ ABSL_GUARDED_BY(mu_) = 0;
  TimerService::TimerId timer_ ABSL_GUARDED_BY(mu_) = 0;
  // The current hop.
  HttpUrl url_ ABSL_GUARDED_BY(mu_);
  std::string method_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, std::string>> headers_
      ABSL_GUARDED_BY(mu_);
  bool send_body_ ABSL_GUARDED_BY(mu_);  // The payload, as the body.
  int hops_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

HttpKind::HttpKind(HttpOptions options, HostPolicy policy,
                   MemoryBudget* server_memory)
    : options_(std::move(options)),
      policy_(std::move(policy)),
      host_limits_(options_.max_per_host, options_.host_limits),
      body_bytes_(static_cast<uint64_t>(options_.max_body_bytes)),
      server_memory_(server_memory) {
  HttpClient::Options o;
  o.policy = &policy_;
  o.max_idle_connections = options_.max_inflight;
  o.max_lookups = options_.max_lookups;
  o.resolve = options_.resolve;
  o.user_agent = options_.user_agent;
  client_ = std::make_unique<HttpClient>(std::move(o));
}

absl::StatusOr<std::shared_ptr<HttpKind>> HttpKind::Create(
    HttpOptions options, MemoryBudget* server_memory) {
  if (options.max_inflight <= 0) {
    return absl::InvalidArgumentError("--http_max_inflight must be positive");
  }
  if (options.max_per_host <= 0) {
    return absl::InvalidArgumentError("--http_max_per_host must be positive");
  }
  if (options.max_lookups <= 0) {
    return absl::InvalidArgumentError("--http_max_lookups must be positive");
  }
  std::map<std::string, int64_t> limits;
  for (const auto& [host, n] : options.host_limits) {
    if (n <= 0 || host.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--http_host_limit=", host, "=", n,
                       ": want HOST=N with N a positive integer"));
    }
    limits[NormalizeHost(host)] = n;
  }
  options.host_limits = std::move(limits);
  if (options.max_retry_after < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--http_max_retry_after must not be negative");
  }
  if (options.max_body_bytes < 0) {
    return absl::InvalidArgumentError(
        "--http_max_body_bytes must not be negative");
  }
  if (options.max_body_bytes == 0) {
    options.max_body_bytes = int64_t{256} << 20;
    if (server_memory != nullptr) {
      options.max_body_bytes =
          std::min<int64_t>(options.max_body_bytes,
                            static_cast<int64_t>(server_memory->limit() / 4));
    }
  }
  // A job reserves its max_response_bytes whole: more than the total could
  // never start.
  options.max_response_bytes_limit =
      std::min(options.max_response_bytes_limit, options.max_body_bytes);
  absl::StatusOr<HostPolicy> policy =
      HostPolicy::Create(options.allow, options.allow_private);
  if (!policy.ok()) return policy.status();
  return std::make_shared<HttpKind>(std::move(options), *std::move(policy),
                                    server_memory);
}

absl::Status HttpKind::Register(KindRegistry& kinds, BackendSet& backends) {
  if (backends.Find(kHttpBackendName) == nullptr) {
    absl::Status s = backends.Add({kHttpBackendName, options_.max_inflight});
    if (!s.ok()) return s;
  }
  std::shared_ptr<HttpKind> self = shared_from_this();
  return kinds.RegisterAsync(
      {kHttpKindName, kHttpBackendName,
       "HTTP request to params.url (method, headers, accept, "
       "max_response_bytes, follow_redirects, max_retry_after_ms); body = "
       "the payload; output = JSON with status, headers and body. Hosts "
       "must match --http_allow."},
      [self](std::shared_ptr<JobContext> ctx) { self->Run(std::move(ctx)); },
      [self](const JobSpec& job) { return self->Validate(job); });
}

absl::Status HttpKind::Validate(const JobSpec& job) const {
  return ParseHttpJobParams(job, policy_, options_).status();
}

void HttpKind::Run(std::shared_ptr<JobContext> ctx) {
  // Validated already; parsed again here because the handler keeps only
  // the job, and so that a job that skipped validation is refused too.
  absl::StatusOr<HttpJobParams> params =
      ParseHttpJobParams(ctx->job(), policy_, options_);
  if (!params.ok()) {
    ctx->Finish(params.status());
    return;
  }
  auto exchange = std::make_shared<HttpExchange>(this, ctx, *std::move(params));
  exchange->Start();
}

absl::Status RegisterHttpKind(KindRegistry& kinds, BackendSet& backends,
                              const HttpOptions& options,
                              MemoryBudget* server_memory) {
  absl::StatusOr<std::shared_ptr<HttpKind>> kind =
      HttpKind::Create(options, server_memory);
  if (!kind.ok()) return kind.status();
  return (*kind)->Register(kinds, backends);
}

}  // namespace jobgroup

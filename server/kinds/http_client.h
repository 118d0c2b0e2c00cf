// HttpClient: HTTP requests on libcurl's multi interface, all driven by one
// dedicated I/O thread, so a request in flight holds no thread of its own.
//
// Start() hands a request to the I/O thread (waking its curl_multi_poll()
// with curl_multi_wakeup()) and returns at once; the request's done
// callback later runs exactly once, on the I/O thread: with the response,
// with a transport error, or with CANCELLED after Cancel(), which removes
// the transfer from the multi handle at once and so closes its connection.
//
// Name lookups run on libcurl's resolver (Debian's: the threaded resolver,
// a short-lived thread per lookup missing from its 60 s cache), so DNS never
// stalls the I/O thread. At most Options::max_lookups transfers to a host
// name (not an IP address) are between their start and the moment their
// connection is chosen (a new one's address known, or a kept-alive one
// reused) at once; the others wait their turn in a FIFO, so names that do
// not resolve, or resolve slowly, cost at most that many resolver threads.
//
// One multi handle holds one connection cache: connections are kept alive
// and reused by later requests to the same host and port. Before any
// connection is opened, its address (after DNS) is checked against the
// HostPolicy (CURLOPT_OPENSOCKETFUNCTION), so a name that resolves to a
// refused address never gets a connection. Only http and https are spoken;
// proxies from the environment are ignored; redirects are not followed
// here (the caller decides, see http_kind.h).
//
// Thread-safe: Start(), Cancel() and the counters may be called from any
// thread, also from a done callback. Done callbacks run on the I/O thread
// without the client's lock held; they must not block (they hand work on,
// e.g. finish a job or release a semaphore).
//
// Shutdown() (also run by the destructor) ends every transfer still in
// flight with UNAVAILABLE, running its callback, and joins the I/O thread;
// Start() then fails. It must not be called from a done callback.
#ifndef JOBGROUP_SERVER_KINDS_HTTP_CLIENT_H_
#define JOBGROUP_SERVER_KINDS_HTTP_CLIENT_H_

#include <curl/curl.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/mutex.h"
#include "server/kinds/host_policy.h"

namespace jobgroup {

struct HttpRequest {
  std::string url;
  std::string host;  // The URL's host, NormalizeHost()d: the policy's key.
  int port = 0;      // The URL's port (its scheme's default when it has none).
  std::string method = "GET";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // Sent with POST, PUT and DELETE.
  // The transfer is abandoned (DEADLINE_EXCEEDED) 200 ms after this time,
  // a backstop for the owner of the deadline, who should Cancel() at it.
  absl::Time deadline = absl::InfiniteFuture();
  // Body bytes kept; the transfer stops there and the response is marked
  // truncated.
  int64_t max_response_bytes = 1 << 20;
};

struct HttpResponse {
  // OK when a response came, even a truncated one. Otherwise the reason:
  // DEADLINE_EXCEEDED (timed out), PERMISSION_DENIED (address refused by
  // the policy), CANCELLED (Cancel()), UNAVAILABLE (cannot resolve or
  // connect, connection lost, TLS failure, shutdown), RESOURCE_EXHAUSTED
  // (response headers too large).
  absl::Status transport;
  int status = 0;
  // The final response's headers in arrival order, names as sent.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool truncated = false;
  std::string redirect_url;  // Where a 3xx points, made absolute.
  absl::Duration retry_after = absl::ZeroDuration();  // From Retry-After.
  bool new_connection = false;  // False: a kept-alive connection was reused.
};

class HttpClient {
 public:
  using TransferId = uint64_t;  // Never 0.
  using DoneFn = absl::AnyInvocable<void(HttpResponse)>;

  struct Options {
    const HostPolicy* policy = nullptr;  // Required; must outlive the client.
    // Idle connections kept for reuse at most.
    int64_t max_idle_connections = 256;
    // Pinned DNS answers, "HOST:PORT:ADDRESS" (CURLOPT_RESOLVE).
    std::vector<std::string> resolve;
    std::string user_agent = "jobgroup-http/1";
    // Transfers to host names that may be looking their name up at once
    // (see above); must be > 0.
    int64_t max_lookups = 16;
  };

  explicit HttpClient(Options options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // HttpClient::Start()
  //
  // Queues `request` for the I/O thread and returns its id. `done` runs
  // exactly once, on the I/O thread, never inside Start(). UNAVAILABLE, with
  // `done` dropped unrun, after Shutdown().
  absl::StatusOr<TransferId> Start(HttpRequest request, DoneFn done);

  // HttpClient::Cancel()
  //
  // Aborts the transfer: the I/O thread removes it from the multi handle
  // (closing its connection) and runs its callback with CANCELLED. No
  // effect when it has ended already or `id` is unknown.
  void Cancel(TransferId id);

  // HttpClient::Shutdown()
  //
  // Ends every transfer with UNAVAILABLE and joins the I/O thread.
  // Idempotent; any thread but the I/O thread.
  void Shutdown();

  // Connections opened since the start (not reuses), and connection
  // attempts the policy refused.
  int64_t connections_opened() const { return opened_.load(); }
  int64_t connections_refused() const { return refused_.load(); }
  // Transfers started and not yet ended.
  int64_t in_flight() const { return in_flight_.load(); }
  // Transfers holding a lookup slot now, the most ever at once, and those
  // waiting for one.
  int64_t lookups() const { return lookups_.load(); }
  int64_t peak_lookups() const { return peak_lookups_.load(); }
  int64_t waiting_for_lookup() const { return lookup_waiting_.load(); }

 private:
  struct Transfer;
  void Loop();
  void Begin(std::unique_ptr<Transfer> t);  // I/O thread.
  // Hands `t` to the multi handle. I/O thread.
  void Add(Transfer* t);
  // Adds queued transfers while lookup slots are free. I/O thread, never
  // inside a curl callback.
  void StartLookups();
  // Gives back `t`'s lookup slot, if it holds one. I/O thread.
  void EndLookup(Transfer* t);
  // Removes `t` from the multi handle and runs its callback. I/O thread.
  void End(Transfer* t, CURLcode code, absl::Status forced);
  static size_t OnBody(char* data, size_t size, size_t n, void* transfer);
  static size_t OnHeader(char* data, size_t size, size_t n, void* transfer);
  static curl_socket_t OnOpenSocket(void* transfer, curlsocktype purpose,
                                    curl_sockaddr* address);
  static int OnPrereq(void* transfer, char* primary_ip, char* local_ip,
                      int primary_port, int local_port);

  const Options options_;
  CURLM* multi_ = nullptr;
  curl_slist* resolve_ = nullptr;
  std::atomic<int64_t> opened_{0};
  std::atomic<int64_t> refused_{0};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> lookups_{0};  // Written by the I/O thread only.
  std::atomic<int64_t> peak_lookups_{0};
  std::atomic<int64_t> lookup_waiting_{0};

  Mutex mu_;
  std::vector<std::unique_ptr<Transfer>> incoming_ ABSL_GUARDED_BY(mu_);
  std::vector<TransferId> cancels_ ABSL_GUARDED_BY(mu_);
  TransferId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // A wake-up is on its way to the I/O thread; saves redundant ones.
  bool woken_ ABSL_GUARDED_BY(mu_) = false;

  // Owned and used by the I/O thread only.
  absl::flat_hash_map<TransferId, std::unique_ptr<Transfer>> active_;
  // Easy handles of ended transfers, reset for reuse: saves allocating and
  // freeing curl's per-handle state (buffers included) for every request.
  std::vector<CURL*> idle_handles_;
  // Transfers waiting for a lookup slot, oldest first; ids of transfers
  // that have ended since are skipped.
  std::deque<TransferId> lookup_queue_;
  std::thread thread_;
  std::once_flag joined_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_KINDS_HTTP_CLIENT_H_

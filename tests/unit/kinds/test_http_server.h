// TestHttpServer: a small threaded HTTP/1.1 server on 127.0.0.1 for the
// http kind's tests, with keep-alive, and counters that prove what the
// client did: connections opened and closed, requests in flight per Host at
// once (now and peak), requests per path and key, and their arrival times.
//
// Endpoints (query parameters in brackets):
//   /ok                        200 "hello"
//   /echo                      200; body: "METHOD TARGET\n", the request
//                              headers one a line, a blank line, the body
//   /slow [ms]                 waits ms (default 10000), watching the
//                              connection: a client that closes it is seen
//                              at once (closed_while_waiting())
//   /status [code]             that status, body "status CODE"
//   /flaky [key, fails]        500 for the first `fails` requests of `key`,
//                              then 200 "ok"
//   /retry_after [key, fails, secs, code]
//                              `code` (429) with Retry-After: secs for the
//                              first `fails` requests of `key`, then 200
//   /redirect [to, code]       `code` (302) with Location: to
//   /loop                      302 with Location: /loop
//   /big [bytes]               200 with that many bytes of text
//   /binary [bytes]            200 with that many bytes 0xff, 0xfe, ...
// Anything else is 404.
//
// Thread-safe: one thread accepts, one thread serves each connection. The
// destructor closes every connection and joins the threads.
#ifndef JOBGROUP_TESTS_UNIT_KINDS_TEST_HTTP_SERVER_H_
#define JOBGROUP_TESTS_UNIT_KINDS_TEST_HTTP_SERVER_H_

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/core/mutex.h"

namespace jobgroup::testing {

class TestHttpServer {
 public:
  TestHttpServer();
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  int port() const { return port_; }
  // "http://HOST:PORT" + path_and_query.
  std::string Url(absl::string_view path_and_query,
                  absl::string_view host = "127.0.0.1") const;

  int connections_accepted() const { return accepted_.load(); }
  int connections_closed() const { return closed_.load(); }
  // Requests whose client closed the connection while /slow waited.
  int closed_while_waiting() const { return closed_waiting_.load(); }
  int requests() const { return requests_.load(); }
  int requests_to(absl::string_view path) const;
  // Requests in flight at once for Host `host` (port stripped), at most.
  int peak_in_flight(absl::string_view host) const;
  // Requests in flight at once, all hosts.
  int peak_in_flight_all() const;
  int in_flight_all() const;
  // When each request of `key` (/flaky, /retry_after) arrived.
  std::vector<absl::Time> arrivals(absl::string_view key) const;
  // The last request headers seen for a path, lowercased names.
  std::map<std::string, std::string> last_headers(absl::string_view path) const;

  // Waits until `pred` holds or `timeout` passes; returns pred().
  template <typename Pred>
  bool WaitFor(Pred pred, absl::Duration timeout = absl::Seconds(5)) const {
    absl::Time end = absl::Now() + timeout;
    while (!pred()) {
      if (absl::Now() > end) return false;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return true;
  }

 private:
  struct Request {
    std::string method, target, path, body;
    std::map<std::string, std::string> query;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string host;  // Host header without the port.
  };
  void AcceptLoop();
  void Serve(int fd);
  // Reads one request; false on EOF or error.
  bool ReadRequest(int fd, std::string& buffer, Request* req);
  // Writes the response; false when the connection should end.
  bool Respond(int fd, const Request& req);
  void Enter(const std::string& host);
  void Leave(const std::string& host);

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> closed_{0};
  std::atomic<int> closed_waiting_{0};
  std::atomic<int> requests_{0};

  mutable Mutex mu_;
  std::vector<int> fds_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> in_flight_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> peak_ ABSL_GUARDED_BY(mu_);
  int in_flight_all_ ABSL_GUARDED_BY(mu_) = 0;
  int peak_all_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int> per_path_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> per_key_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<absl::Time>> arrivals_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, std::string>> last_headers_
      ABSL_GUARDED_BY(mu_);
  std::thread accept_thread_;
};

}  // namespace jobgroup::testing

#endif  // JOBGROUP_TESTS_UNIT_KINDS_TEST_HTTP_SERVER_H_

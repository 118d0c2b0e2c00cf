// Implementation of TestHttpServer.
#include "tests/unit/kinds/test_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace jobgroup::testing {
namespace {

std::string PercentDecode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    int hi, lo;
    auto hex = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      c = absl::ascii_tolower(c);
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    if (s[i] == '%' && i + 2 < s.size() && (hi = hex(s[i + 1])) >= 0 &&
        (lo = hex(s[i + 2])) >= 0) {
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

int IntArg(const std::map<std::string, std::string>& q, const std::string& k,
           int def) {
  auto it = q.find(k);
  int v = def;
  if (it != q.end() && !absl::SimpleAtoi(it->second, &v)) v = def;
  return v;
}

std::string Arg(const std::map<std::string, std::string>& q,
                const std::string& k, const std::string& def = "") {
  auto it = q.find(k);
  return it == q.end() ? def : it->second;
}

}  // namespace

TestHttpServer::TestHttpServer() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 512) != 0) {
    perror("TestHttpServer: bind/listen");
    abort();
  }
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

TestHttpServer::~TestHttpServer() {
  stopping_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  accept_thread_.join();
  close(listen_fd_);
  std::vector<std::thread> threads;
  {
    MutexLock lock(&mu_);
    for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

std::string TestHttpServer::Url(absl::string_view path_and_query,
                                absl::string_view host) const {
  return absl::StrCat("http://", host, ":", port_, path_and_query);
}

void TestHttpServer::AcceptLoop() {
  while (!stopping_) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) return;
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    accepted_.fetch_add(1);
    MutexLock lock(&mu_);
    fds_.push_back(fd);
    threads_.emplace_back([this, fd] { Serve(fd); });
  }
}

void TestHttpServer::Serve(int fd) {
  std::string buffer;
  Request req;
  while (!stopping_ && ReadRequest(fd, buffer, &req)) {
    if (!Respond(fd, req)) break;
    req = Request();
  }
  closed_.fetch_add(1);
  MutexLock lock(&mu_);
  fds_.erase(std::remove(fds_.begin(), fds_.end(), fd), fds_.end());
  close(fd);
}

bool TestHttpServer::ReadRequest(int fd, std::string& buffer, Request* req) {
  size_t end;
  while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
    char chunk[16384];
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(n));
  }
  std::string head = buffer.substr(0, end);
  buffer.erase(0, end + 4);
  std::vector<std::string> lines = absl::StrSplit(head, "\r\n");
  std::vector<std::string> first = absl::StrSplit(lines[0], ' ');
  if (first.size() < 2) return false;
  req->method = first[0];
  req->target = first[1];
  std::pair<std::string, std::string> pq =
      absl::StrSplit(req->target, absl::MaxSplits('?', 1));
  req->path = pq.first;
  for (absl::string_view kv :
       absl::StrSplit(pq.second, '&', absl::SkipEmpty())) {
    std::pair<std::string, std::string> p =
        absl::StrSplit(kv, absl::MaxSplits('=', 1));
    req->query[PercentDecode(p.first)] = PercentDecode(p.second);
  }
  size_t content_length = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    std::string name = lines[i].substr(0, colon);
    std::string value(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    req->headers.emplace_back(name, value);
    std::string lower = absl::AsciiStrToLower(name);
    if (lower == "content-length" &&
        !absl::SimpleAtoi(value, &content_length)) {
      return false;
    }
    if (lower == "host") {
      if (!value.empty() && value[0] == '[') {
        req->host = value.substr(0, value.find(']') + 1);
      } else {
        req->host = value.substr(0, value.rfind(':'));
      }
    }
  }
  while (buffer.size() < content_length) {
    char chunk[16384];
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(n));
  }
  req->body = buffer.substr(0, content_length);
  buffer.erase(0, content_length);
  return true;
}

void TestHttpServer::Enter(const std::string& host) {
  MutexLock lock(&mu_);
  int n = ++in_flight_[host];
  peak_[host] = std::max(peak_[host], n);
  ++in_flight_all_;
  peak_all_ = std::max(peak_all_, in_flight_all_);
}

void TestHttpServer::Leave(const std::string& host) {
  MutexLock lock(&mu_);
  --in_flight_[host];
  --in_flight_all_;
}

bool TestHttpServer::Respond(int fd, const Request& req) {
  requests_.fetch_add(1);
  std::string key = Arg(req.query, "key", req.path);
  int key_count;
  {
    MutexLock lock(&mu_);
    ++per_path_[req.path];
    key_count = ++per_key_[key];
    arrivals_[key].push_back(absl::Now());
    auto& h = last_headers_[req.path];
    h.clear();
    for (const auto& [n, v] : req.headers) h[absl::AsciiStrToLower(n)] = v;
  }
  Enter(req.host);
  int code = 200;
  std::string body;
  std::vector<std::string> extra;
  bool keep = true;
  if (req.path == "/ok") {
    body = "hello";
  } else if (req.path == "/echo") {
    body = absl::StrCat(req.method, " ", req.target, "\n");
    for (const auto& [n, v] : req.headers)
      absl::StrAppend(&body, n, ": ", v, "\n");
    absl::StrAppend(&body, "\n", req.body);
  } else if (req.path == "/slow") {
    absl::Time until =
        absl::Now() + absl::Milliseconds(IntArg(req.query, "ms", 10000));
    while (!stopping_) {
      absl::Duration left = until - absl::Now();
      if (left <= absl::ZeroDuration()) break;
      pollfd p{fd, POLLIN | POLLRDHUP, 0};
      int r = poll(&p, 1,
                   static_cast<int>(std::min<int64_t>(
                       50, absl::ToInt64Milliseconds(left) + 1)));
      if (r > 0) {
        char c;
        ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
          closed_waiting_.fetch_add(1);
          keep = false;
          break;
        }
      }
    }
    body = "slow";
  } else if (req.path == "/status") {
    code = IntArg(req.query, "code", 200);
    body = absl::StrCat("status ", code);
  } else if (req.path == "/flaky") {
    if (key_count <= IntArg(req.query, "fails", 1)) {
      code = 500;
      body = absl::StrCat("failure ", key_count);
    } else {
      body = "ok";
    }
  } else if (req.path == "/retry_after") {
    if (key_count <= IntArg(req.query, "fails", 1)) {
      code = IntArg(req.query, "code", 429);
      extra.push_back(
          absl::StrCat("Retry-After: ", Arg(req.query, "secs", "1")));
      body = "slow down";
    } else {
      body = "ok";
    }
  } else if (req.path == "/redirect") {
    code = IntArg(req.query, "code", 302);
    extra.push_back(absl::StrCat("Location: ", Arg(req.query, "to")));
  } else if (req.path == "/loop") {
    code = 302;
    extra.push_back("Location: /loop");
  } else if (req.path == "/big") {
    int n = IntArg(req.query, "bytes", 1000);
    body.reserve(n);
    for (int i = 0; i < n; ++i) body += static_cast<char>('a' + i % 26);
  } else if (req.path == "/binary") {
    int n = IntArg(req.query, "bytes", 256);
    for (int i = 0; i < n; ++i) body += static_cast<char>(255 - i % 256);
  } else {
    code = 404;
    body = "not found";
  }
  Leave(req.host);
  if (!keep) return false;
  std::string head =
      absl::StrCat("HTTP/1.1 ", code, " X\r\nContent-Length: ", body.size(),
                   "\r\nX-Served-By: test\r\n");
  for (const std::string& e : extra) absl::StrAppend(&head, e, "\r\n");
  absl::StrAppend(&head, "\r\n");
  if (req.method == "HEAD") body.clear();
  return WriteAll(fd, head + body);
}

int TestHttpServer::requests_to(absl::string_view path) const {
  MutexLock lock(&mu_);
  auto it = per_path_.find(std::string(path));
  return it == per_path_.end() ? 0 : it->second;
}

int TestHttpServer::peak_in_flight(absl::string_view host) const {
  MutexLock lock(&mu_);
  auto it = peak_.find(std::string(host));
  return it == peak_.end() ? 0 : it->second;
}

int TestHttpServer::peak_in_flight_all() const {
  MutexLock lock(&mu_);
  return peak_all_;
}

int TestHttpServer::in_flight_all() const {
  MutexLock lock(&mu_);
  return in_flight_all_;
}

std::vector<absl::Time> TestHttpServer::arrivals(absl::string_view key) const {
  MutexLock lock(&mu_);
  auto it = arrivals_.find(std::string(key));
  return it == arrivals_.end() ? std::vector<absl::Time>() : it->second;
}

std::map<std::string, std::string> TestHttpServer::last_headers(
    absl::string_view path) const {
  MutexLock lock(&mu_);
  auto it = last_headers_.find(std::string(path));
  return it == last_headers_.end() ? std::map<std::string, std::string>()
                                   : it->second;
}

}  // namespace jobgroup::testing

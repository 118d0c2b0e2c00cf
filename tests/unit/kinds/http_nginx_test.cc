// The http kind against Debian's nginx (skipped when nginx is not
// installed): a real, independent HTTP/1.1 server, whose access log names
// the connection each request came on, so keep-alive is proven from the
// server's side.
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/unit/kinds/http_test_env.h"

extern char** environ;

namespace jobgroup {
namespace {

using ::jobgroup::testing::HttpTestEnv;
using ::jobgroup::testing::LoopbackOptions;

std::string NginxBinary() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/bin/nginx"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// nginx in the foreground on a free loopback port, serving `files` from a
// temporary root; the access log records "$connection $request".
class Nginx {
 public:
  bool Start(const std::map<std::string, std::string>& files) {
    char tmpl[] = "/tmp/jobgroup-nginx-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return false;
    dir_ = tmpl;
    // Workers may run as another user: let them read the files.
    chmod(dir_.c_str(), 0755);
    mkdir((dir_ + "/www").c_str(), 0755);
    mkdir((dir_ + "/logs").c_str(), 0755);
    for (const auto& [name, body] : files) {
      std::ofstream(dir_ + "/www/" + name) << body;
      chmod((dir_ + "/www/" + name).c_str(), 0644);
    }
    port_ = FreePort();
    // Run as root (as in CI's clean root), nginx's workers would take the
    // package's user, which may not reach the temporary root: keep them
    // as root.
    std::ofstream(dir_ + "/nginx.conf") << absl::StrCat(
        geteuid() == 0 ? "user root;\n" : "", "worker_processes 1;\npid ", dir_,
        "/nginx.pid;\nerror_log ", dir_,
        "/logs/error.log warn;\nevents { worker_connections 1024; }\n"
        "http {\n  log_format conn '$connection $request';\n  access_log ",
        dir_, "/logs/access.log conn;\n  keepalive_timeout 60s;\n",
        "  client_body_temp_path ", dir_, "/tmp;\n  proxy_temp_path ", dir_,
        "/tmp;\n  fastcgi_temp_path ", dir_, "/tmp;\n  uwsgi_temp_path ", dir_,
        "/tmp;\n  scgi_temp_path ", dir_, "/tmp;\n",
        "  server {\n    listen 127.0.0.1:", port_, ";\n    root ", dir_,
        "/www;\n  }\n}\n");
    std::string bin = NginxBinary();
    std::string conf = dir_ + "/nginx.conf";
    const char* argv[] = {bin.c_str(),  "-p", dir_.c_str(),  "-c",
                          conf.c_str(), "-g", "daemon off;", nullptr};
    if (posix_spawn(&pid_, bin.c_str(), nullptr, nullptr,
                    const_cast<char* const*>(argv), environ) != 0) {
      return false;
    }
    // Ready when the port accepts connections.
    for (int i = 0; i < 200; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(port_);
      bool up =
          connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
      close(fd);
      if (up) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }
  // The status line nginx answers a GET of `path` with ("" when it does not
  // answer), to tell "nginx cannot serve the test's files" from a failure
  // of the http kind.
  std::string StatusLineFor(absl::string_view path) const {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_);
    std::string reply;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\n\r\n");
      if (write(fd, request.data(), request.size()) ==
          static_cast<ssize_t>(request.size())) {
        char buf[256];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n > 0) reply.assign(buf, static_cast<size_t>(n));
      }
    }
    close(fd);
    return reply.substr(0, reply.find("\r\n"));
  }
  // nginx's error log, for a failure message.
  std::string ErrorLog() const {
    std::ifstream in(dir_ + "/logs/error.log");
    std::stringstream all;
    all << in.rdbuf();
    return all.str();
  }
  ~Nginx() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    if (!dir_.empty()) {
      std::string cmd = absl::StrCat("rm -rf '", dir_, "'");
      EXPECT_EQ(system(cmd.c_str()), 0);
    }
  }
  std::string Url(absl::string_view path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }
  // The access log's lines.
  std::vector<std::string> AccessLog() const {
    std::ifstream in(dir_ + "/logs/access.log");
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
  }

 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = 0;
};

TEST(HttpNginxTest, KeepAliveServesManyJobsOnFewConnections) {
  if (NginxBinary().empty()) GTEST_SKIP() << "nginx is not installed";
  Nginx nginx;
  ASSERT_TRUE(nginx.Start({{"small.txt", std::string(100, 'x')}}));
  ASSERT_EQ(nginx.StatusLineFor("/small.txt"), "HTTP/1.1 200 OK")
      << "nginx cannot serve the test's files; its error log:\n"
      << nginx.ErrorLog();
  HttpOptions o = LoopbackOptions();
  o.max_per_host = 4;
  HttpTestEnv env(o);
  auto results = env.Run(env.Job({{"url", nginx.Url("/small.txt")}}), 300);
  ASSERT_EQ(results.size(), 300u);
  for (auto& [i, r] : results) {
    ASSERT_EQ(r.outcome, JobOutcome::kSucceeded) << r.error;
    ASSERT_TRUE(absl::StrContains(r.output, "\"body_bytes\":100,")) << r.output;
  }
  std::vector<std::string> log = nginx.AccessLog();
  // The first line is StatusLineFor's probe, on a connection of its own.
  ASSERT_EQ(log.size(), 301u);
  log.erase(log.begin());
  std::set<std::string> connections;
  for (const std::string& line : log) {
    connections.insert(std::string(line.substr(0, line.find(' '))));
  }
  // Four requests in flight at most: four connections carry all 300.
  EXPECT_LE(connections.size(), 4u);
  EXPECT_EQ(env.kind().client().connections_opened(),
            static_cast<int64_t>(connections.size()));
}

TEST(HttpNginxTest, TruncationAndStatusCodesFromARealServer) {
  if (NginxBinary().empty()) GTEST_SKIP() << "nginx is not installed";
  Nginx nginx;
  ASSERT_TRUE(nginx.Start({{"big.txt", std::string(1 << 20, 'y')}}));
  ASSERT_EQ(nginx.StatusLineFor("/big.txt"), "HTTP/1.1 200 OK")
      << "nginx cannot serve the test's files; its error log:\n"
      << nginx.ErrorLog();
  HttpTestEnv env(LoopbackOptions());
  JobResult r = env.RunOne(env.Job(
      {{"url", nginx.Url("/big.txt")}, {"max_response_bytes", "4096"}}));
  ASSERT_EQ(r.outcome, JobOutcome::kSucceeded) << r.error;
  EXPECT_TRUE(
      absl::StrContains(r.output, "\"body_bytes\":4096,\"truncated\":true}"));
  EXPECT_TRUE(absl::StrContains(r.output, "\"content-length\":\"1048576\""));
  r = env.RunOne(env.Job({{"url", nginx.Url("/missing")}}));
  EXPECT_EQ(r.outcome, JobOutcome::kFailed);
  EXPECT_EQ(r.error.code(), absl::StatusCode::kFailedPrecondition);
  r = env.RunOne(env.Job({{"url", nginx.Url("/big.txt")}, {"method", "HEAD"}}));
  EXPECT_EQ(r.outcome, JobOutcome::kSucceeded) << r.error;
  EXPECT_TRUE(absl::StrContains(r.output, "\"body_bytes\":0,"));
}

}  // namespace
}  // namespace jobgroup

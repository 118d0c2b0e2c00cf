// The metrics port of a real jobgroupd (--metrics_listen): /metrics still
// serves Prometheus text, / links the pages, /statusz.json is a
// ServerSnapshot, and /statusz, as headless Chromium renders it while a
// long call runs, shows the call's id (escaped), its progress and its
// backend; a phone-sized screenshot goes to the test output directory.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "jobgroup/admin/v1/admin.pb.h"
#include "tests/integration/server_process.h"

#ifndef TEST_OUTPUT_DIR
#define TEST_OUTPUT_DIR "/tmp/jobgroup-test-output"
#endif

namespace jobgroup::testing {
namespace {

using admin::v1::ServerSnapshot;

// A call id with markup in it: printable ASCII without spaces, so the
// server keeps it (call_id.h), and the page must escape it.
constexpr char kHostileId[] = "statusz-<b>x</b>&\"q\"";
// The same as Chromium's DOM serializer writes the text node.
constexpr char kHostileIdInDom[] = "statusz-&lt;b&gt;x&lt;/b&gt;&amp;\"q\"";

struct HttpResponse {
  int code = 0;  // 0: no answer.
  std::string headers;
  std::string body;
};

// One HTTP/1.0 request to 127.0.0.1:`port`; reads for at most 10 s.
HttpResponse Http(int port, const std::string& path,
                  const std::string& method = "GET",
                  const std::string& extra_headers = "") {
  HttpResponse r;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return r;
  timeval wait{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof wait);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string request = method + " " + path +
                          " HTTP/1.0\r\nHost: 127.0.0.1\r\n" + extra_headers +
                          "Connection: close\r\n\r\n";
    if (write(fd, request.data(), request.size()) ==
        static_cast<ssize_t>(request.size())) {
      char buf[65536];
      ssize_t n;
      while ((n = read(fd, buf, sizeof buf)) > 0) response.append(buf, n);
    }
  }
  close(fd);
  size_t end = response.find("\r\n\r\n");
  if (end == std::string::npos || response.rfind("HTTP/1.", 0) != 0) return r;
  r.headers = response.substr(0, end);
  r.body = response.substr(end + 4);
  r.code = std::atoi(response.c_str() + response.find(' ') + 1);
  return r;
}

std::string Header(const HttpResponse& r, const std::string& name) {
  std::istringstream in(r.headers);
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWithIgnoreCase(line, name + ":")) {
      return std::string(
          absl::StripAsciiWhitespace(line.substr(name.size() + 1)));
    }
  }
  return "";
}

// The directory for files a person may want to look at after the run.
std::string OutputDir() {
  const char* env = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  std::string dir = env && *env ? env : TEST_OUTPUT_DIR;
  std::filesystem::create_directories(dir);
  return dir;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `args` in a process group of its own with stdout to `out_path` and
// stderr to `err_path`; kills the whole group after `timeout`. The exit
// code, or -1 on timeout.
int RunBounded(std::vector<std::string> args, const std::string& out_path,
               const std::string& err_path, std::chrono::seconds timeout) {
  std::fflush(stdout);  // Or the child writes our buffered lines again.
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    FILE* out = std::freopen(out_path.c_str(), "w", stdout);
    FILE* err = std::freopen(err_path.c_str(), "w", stderr);
    (void)out;
    (void)err;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  if (pid < 0) return -1;
  setpgid(pid, pid);  // Also here: no race with the kill below.
  auto give_up = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < give_up) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      // Helpers it left behind go too.
      kill(-pid, SIGKILL);
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(-pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

bool HaveChromium() {
  return std::system("which chromium >/dev/null 2>&1") == 0;
}

// Headless Chromium on `url` with `extra` arguments (--dump-dom, or
// --screenshot=...); its stdout, or "" (and a test failure) when it fails
// or takes more than 60 s.
std::string Chromium(const std::string& url, std::vector<std::string> extra) {
  char profile[] = "/tmp/jobgroup-chromium-XXXXXX";
  if (mkdtemp(profile) == nullptr) {
    ADD_FAILURE() << "mkdtemp";
    return "";
  }
  std::vector<std::string> args = {"chromium",
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-background-networking",
                                   "--no-first-run",
                                   std::string("--user-data-dir=") + profile};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(url);
  std::string out = std::string(profile) + ".out";
  std::string err = std::string(profile) + ".err";
  int rc = RunBounded(args, out, err, std::chrono::seconds(60));
  std::string dom = ReadFile(out);
  if (rc != 0) {
    ADD_FAILURE() << "chromium " << (rc < 0 ? "timed out (killed)" : "failed")
                  << " (rc " << rc << "); its stderr:\n"
                  << ReadFile(err);
  }
  std::error_code ec;
  std::filesystem::remove_all(profile, ec);
  std::filesystem::remove(out, ec);
  std::filesystem::remove(err, ec);
  return dom;
}

TEST(StatusPageTest, MetricsStillServePrometheusText) {
  ServerProcess server(JOBGROUPD_PATH, {});
  ASSERT_NE(server.metrics_port(), 0);
  HttpResponse r = Http(server.metrics_port(), "/metrics");
  ASSERT_EQ(r.code, 200) << r.headers;
  EXPECT_EQ(Header(r, "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_NE(r.body.find("# TYPE jobgroup_jobs_in_flight gauge"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("jobgroup_build_info{version=\""), std::string::npos);
  EXPECT_NE(r.body.find("# TYPE process_cpu_seconds_total counter"),
            std::string::npos);
  // The families prometheus-cpp's Exposer added are still there.
  EXPECT_NE(r.body.find("# TYPE exposer_scrapes_total counter"),
            std::string::npos);
  // Every line is a comment or a sample: Prometheus text.
  std::istringstream lines(r.body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    EXPECT_TRUE(line.find(' ') != std::string::npos &&
                (absl::ascii_isalpha(line[0]) || line[0] == '_'))
        << line;
  }
  // gzip, as the Exposer did, when the scraper accepts it (Prometheus does).
  HttpResponse gz = Http(server.metrics_port(), "/metrics", "GET",
                         "Accept-Encoding: gzip\r\n");
  ASSERT_EQ(gz.code, 200);
  EXPECT_EQ(Header(gz, "Content-Encoding"), "gzip");
  ASSERT_GE(gz.body.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(gz.body[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(gz.body[1]), 0x8b);
  EXPECT_EQ(Http(server.metrics_port(), "/nothing-here").code, 404);
  EXPECT_EQ(Http(server.metrics_port(), "/metrics", "POST").code, 405);
}

TEST(StatusPageTest, IndexLinksThePagesAndJsonIsASnapshot) {
  ServerProcess server(JOBGROUPD_PATH, {});
  ASSERT_NE(server.metrics_port(), 0);
  HttpResponse index = Http(server.metrics_port(), "/");
  ASSERT_EQ(index.code, 200);
  EXPECT_TRUE(absl::StartsWith(Header(index, "Content-Type"), "text/html"));
  for (const char* link : {"/metrics", "/statusz", "/statusz.json"}) {
    EXPECT_NE(index.body.find(std::string("href=\"") + link + "\""),
              std::string::npos)
        << link << " not linked:\n"
        << index.body;
  }
  HttpResponse page = Http(server.metrics_port(), "/statusz");
  ASSERT_EQ(page.code, 200);
  EXPECT_NE(page.body.find("<meta http-equiv=\"refresh\" content=\"2\">"),
            std::string::npos);

  HttpResponse json = Http(server.metrics_port(), "/statusz.json");
  ASSERT_EQ(json.code, 200) << "(503 until jobgroupd sets a status source)\n"
                            << json.body;
  EXPECT_TRUE(
      absl::StartsWith(Header(json, "Content-Type"), "application/json"));
  ServerSnapshot snapshot;
  auto parsed =
      google::protobuf::util::JsonStringToMessage(json.body, &snapshot);
  ASSERT_TRUE(parsed.ok()) << parsed.ToString() << "\n" << json.body;
  EXPECT_FALSE(snapshot.version().empty()) << json.body;
  EXPECT_EQ(snapshot.calls_in_flight(), 0u);
}

TEST(StatusPageTest, ChromiumShowsALongCallWithItsProgressAndBackend) {
  if (!HaveChromium()) {
    FAIL() << "chromium is not installed (`which chromium` failed); "
              "scripts/install-deps.sh test should have installed it";
  }
  ServerProcess server(JOBGROUPD_PATH, {});
  ASSERT_NE(server.metrics_port(), 0);
  const int port = server.metrics_port();

  // One 20 s sleep job on the local backend, from a thread of its own.
  auto stub = server.NewStub();
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 60000);
  ctx.AddMetadata("x-request-id", kHostileId);
  v1::RunBatchRequest req;
  *req.add_jobs() = MakeJob("sleep", {{"ms", "20000"}}, "local");
  v1::RunBatchResponse resp;
  std::atomic<bool> done{false};
  grpc::Status status;
  std::thread caller([&] {
    status = stub->RunBatch(&ctx, req, &resp);
    done = true;
  });
  struct Join {
    grpc::ClientContext& ctx;
    std::thread& t;
    ~Join() {
      ctx.TryCancel();
      t.join();
    }
  } join{ctx, caller};

  // Until the snapshot shows the call (at most 30 s).
  ServerSnapshot snapshot;
  bool seen = false;
  std::string last;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!seen && !done && std::chrono::steady_clock::now() < give_up) {
    HttpResponse r = Http(port, "/statusz.json");
    last = r.body;
    snapshot.Clear();
    if (r.code == 200 &&
        google::protobuf::util::JsonStringToMessage(r.body, &snapshot).ok()) {
      for (const auto& c : snapshot.calls()) {
        if (c.call_id() == kHostileId) seen = true;
      }
    }
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(seen) << "the call never showed in /statusz.json; last:\n"
                    << last;
  EXPECT_GE(snapshot.calls_in_flight(), 1u);

  const std::string url =
      "http://127.0.0.1:" + std::to_string(port) + "/statusz";
  const std::string out_dir = OutputDir();
  std::printf("test output dir: %s\n", out_dir.c_str());
  std::string dom = Chromium(url, {"--dump-dom"});
  ASSERT_FALSE(dom.empty());
  { std::ofstream(out_dir + "/statusz.dom.html") << dom; }
  // The id, escaped: its markup is text, not elements.
  EXPECT_NE(dom.find(kHostileIdInDom), std::string::npos) << dom;
  EXPECT_EQ(dom.find("<b>x</b>"), std::string::npos) << dom;
  // Its progress: 0 of 1 jobs done, 1 running.
  EXPECT_NE(dom.find("0/1"), std::string::npos) << dom;
  EXPECT_NE(dom.find("1 running"), std::string::npos) << dom;
  EXPECT_NE(dom.find("RunBatch"), std::string::npos) << dom;
  // The backend in use: local, one permit taken.
  EXPECT_NE(dom.find(">local<"), std::string::npos) << dom;
  bool local_in_use = false;
  for (const auto& b : snapshot.backends()) {
    if (b.name() == "local") {
      local_in_use = b.in_use() >= 1;
      EXPECT_NE(dom.find(std::to_string(b.in_use()) + "/" +
                         std::to_string(b.capacity())),
                std::string::npos)
          << dom;
    }
  }
  EXPECT_TRUE(local_in_use) << last;

  // A phone-sized screenshot, for a person to look at.
  const std::string png = out_dir + "/statusz.png";
  std::error_code ec;
  std::filesystem::remove(png, ec);
  Chromium(url, {"--screenshot=" + png, "--window-size=412,915",
                 "--hide-scrollbars"});
  ASSERT_TRUE(std::filesystem::exists(png)) << png;
  EXPECT_GT(std::filesystem::file_size(png), 1000u) << png;
  std::printf("screenshot: %s\n", png.c_str());

  EXPECT_FALSE(done.load())
      << "the 20 s call ended early: " << status.error_message();
}

}  // namespace
}  // namespace jobgroup::testing

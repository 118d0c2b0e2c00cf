// Tests of the status page's rendering (server/service/status_page.h): a
// hand-built snapshot as HTML (escaped, with its call, progress and
// backend) and as JSON that parses back to the same message; and the
// StatusHttpServer that serves them (with and without a source).
#include "server/service/status_page.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "server/core/backends.h"
#include "server/core/job_kind.h"
#include "server/service/metrics.h"
#include "server/service/status_http_server.h"

namespace jobgroup {
namespace {

using admin::v1::ServerSnapshot;

constexpr char kHostileId[] = "<script>alert(\"x\")</script>&'id";
constexpr char kHostilePeer[] = "ipv4:127.0.0.1:5000\"><img src=x>";

ServerSnapshot Snapshot() {
  ServerSnapshot s;
  s.mutable_time()->set_seconds(1'800'000'000);
  s.set_version("0.1.0");
  s.mutable_uptime()->set_seconds(185);
  s.set_draining(false);
  auto* c = s.add_calls();
  c->set_call_id("call-42");
  c->set_method("RunBatch");
  c->set_peer("ipv4:127.0.0.1:40000");
  c->set_identity("sha256:0123456789ab");
  c->mutable_start_time()->set_seconds(1'800'000'000 - 3);
  c->mutable_deadline_left()->set_seconds(17);
  c->set_jobs_total(10);
  c->set_succeeded(3);
  c->set_failed(1);
  c->set_cancelled(1);
  c->set_jobs_running(2);
  c->set_jobs_pending(3);
  auto* h = s.add_calls();
  h->set_call_id(kHostileId);
  h->set_method("Process");
  h->set_peer(kHostilePeer);
  h->set_jobs_total(1);
  h->set_jobs_running(1);
  s.set_calls_in_flight(3);
  s.set_calls_omitted(1);
  s.set_jobs_in_flight(6);
  auto* b = s.add_backends();
  b->set_name("gpu-pool");
  b->set_capacity(8);
  b->set_in_use(5);
  b->set_waiting(2);
  b->mutable_oldest_wait()->set_nanos(250'000'000);
  s.mutable_queue()->set_capacity(1024);
  s.mutable_queue()->set_depth(7);
  s.mutable_queue()->set_parked(0);
  s.mutable_workers()->set_workers(4);
  s.mutable_workers()->set_busy(3);
  s.mutable_rates()->mutable_window()->set_seconds(10);
  s.mutable_rates()->set_succeeded(12.5);
  s.mutable_rates()->set_calls(0.5);
  s.set_memory_budget_bytes(768ull << 20);
  s.set_memory_in_use_bytes(3ull << 20);
  return s;
}

TEST(HtmlEscapeTest, EscapesEveryMarkupCharacter) {
  EXPECT_EQ(HtmlEscape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;");
  EXPECT_EQ(HtmlEscape("plain-id_1.2"), "plain-id_1.2");
  EXPECT_EQ(HtmlEscape(""), "");
  EXPECT_EQ(HtmlEscape("&amp;"), "&amp;amp;");
}

TEST(StatusPageTest, ShowsTheCallItsProgressAndTheBackend) {
  std::string html = RenderStatusHtml(Snapshot());
  // With TEST_UNDECLARED_OUTPUTS_DIR set, the page is kept there for a
  // person (or a browser) to look at.
  if (const char* dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
      dir != nullptr && *dir != 0) {
    std::ofstream(std::string(dir) + "/statusz_sample.html") << html;
  }
  EXPECT_NE(html.find("<meta http-equiv=\"refresh\" content=\"2\">"),
            std::string::npos);
  EXPECT_NE(html.find("call-42"), std::string::npos);
  EXPECT_NE(html.find("RunBatch"), std::string::npos);
  // 5 of 10 jobs have an outcome.
  EXPECT_NE(html.find("5/10"), std::string::npos);
  EXPECT_NE(html.find("succeeded 3"), std::string::npos);
  EXPECT_NE(html.find("failed 1"), std::string::npos);
  EXPECT_NE(html.find("2 running"), std::string::npos);
  EXPECT_NE(html.find("3 pending"), std::string::npos);
  EXPECT_NE(html.find("sha256:0123456789ab"), std::string::npos);
  EXPECT_NE(html.find("age 3.0s"), std::string::npos);
  EXPECT_NE(html.find("deadline left 17.0s"), std::string::npos);
  EXPECT_NE(html.find("gpu-pool"), std::string::npos);
  EXPECT_NE(html.find("5/8"), std::string::npos);
  EXPECT_NE(html.find("250ms"), std::string::npos);
  EXPECT_NE(html.find("1 more calls not shown"), std::string::npos);
  EXPECT_NE(html.find("up 3m05s"), std::string::npos);
  EXPECT_NE(html.find("3/4"), std::string::npos);     // Workers.
  EXPECT_NE(html.find("7/1024"), std::string::npos);  // Queue.
  EXPECT_NE(html.find("<b>3.0 MiB</b> <small>of 768.0 MiB</small>"),
            std::string::npos);
  EXPECT_NE(html.find("12.5"), std::string::npos);
  EXPECT_NE(html.find("0.1.0"), std::string::npos);
  EXPECT_NE(html.find("serving"), std::string::npos);
  // No script and nothing loaded from elsewhere.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src=\""), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
}

TEST(StatusPageTest, EscapesHostileCallIdsAndPeers) {
  std::string html = RenderStatusHtml(Snapshot());
  EXPECT_EQ(html.find(kHostileId), std::string::npos);
  EXPECT_EQ(html.find(kHostilePeer), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_NE(html.find(HtmlEscape(kHostileId)), std::string::npos);
  EXPECT_NE(html.find(HtmlEscape(kHostilePeer)), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
                      "&amp;&#39;id"),
            std::string::npos);
  EXPECT_NE(html.find("0/1"), std::string::npos);
}

TEST(StatusPageTest, DrainingShows) {
  ServerSnapshot s = Snapshot();
  s.set_draining(true);
  s.mutable_calls(0)->set_draining(true);
  s.mutable_calls(0)->set_cancelled_by_operator(true);
  std::string html = RenderStatusHtml(s);
  EXPECT_NE(html.find(">draining<"), std::string::npos);
  EXPECT_NE(html.find("cancelled by operator"), std::string::npos);
}

TEST(StatusPageTest, AnEmptySnapshotRenders) {
  std::string html = RenderStatusHtml(ServerSnapshot());
  EXPECT_NE(html.find("No calls in flight"), std::string::npos);
  EXPECT_NE(html.find("</html>"), std::string::npos);
}

TEST(StatusPageTest, UnavailableSaysSo) {
  EXPECT_NE(RenderStatusUnavailableHtml().find("status not available"),
            std::string::npos);
}

TEST(StatusPageTest, IndexLinksThePages) {
  std::string html = RenderIndexHtml();
  EXPECT_NE(html.find("href=\"/metrics\""), std::string::npos);
  EXPECT_NE(html.find("href=\"/statusz\""), std::string::npos);
  EXPECT_NE(html.find("href=\"/statusz.json\""), std::string::npos);
}

TEST(StatusJsonTest, ParsesBackToAnEqualMessage) {
  const ServerSnapshot s = Snapshot();
  std::string json = RenderStatusJson(s);
  // Field names as in the .proto; zero fields printed too.
  EXPECT_NE(json.find("\"calls_in_flight\""), std::string::npos);
  EXPECT_NE(json.find("\"memory_budget_bytes\""), std::string::npos);
  EXPECT_NE(json.find("\"deadline_exceeded\""), std::string::npos);
  EXPECT_NE(json.find("\"draining\":false"), std::string::npos) << json;
  ServerSnapshot back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &back).ok())
      << json;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(s, back))
      << back.DebugString();
  EXPECT_EQ(back.calls(1).call_id(), kHostileId);
}

// GET (or `method`) `path` on 127.0.0.1:`port`: the whole response.
std::string Get(int port, const std::string& path,
                const std::string& method = "GET") {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval wait{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string request = method + " " + path +
                          " HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                          "Connection: close\r\n\r\n";
    if (write(fd, request.data(), request.size()) ==
        static_cast<ssize_t>(request.size())) {
      char buf[65536];
      ssize_t n;
      while ((n = read(fd, buf, sizeof buf)) > 0) response.append(buf, n);
    }
  }
  close(fd);
  return response;
}

std::string Body(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

TEST(StatusHttpServerTest, WithoutASourceThePagesSaySo) {
  auto server = StatusHttpServer::Start("127.0.0.1:0", {}, nullptr);
  ASSERT_NE(server, nullptr);
  ASSERT_FALSE(server->ports().empty());
  const int port = server->ports()[0];
  std::string page = Get(port, "/statusz");
  EXPECT_EQ(page.rfind("HTTP/1.1 200", 0), 0u) << page;
  EXPECT_NE(page.find("status not available"), std::string::npos);
  std::string json = Get(port, "/statusz.json");
  EXPECT_EQ(json.rfind("HTTP/1.1 503", 0), 0u) << json;
  EXPECT_EQ(Body(json), "{\"error\":\"status not available\"}\n");
  // A source that has nothing (ServerMetrics' when none is set) is the same.
  auto empty = StatusHttpServer::Start("127.0.0.1:0", {}, [] {
    return std::optional<admin::v1::ServerSnapshot>();
  });
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(Get(empty->ports()[0], "/statusz.json").rfind("HTTP/1.1 503", 0),
            0u);
}

TEST(StatusHttpServerTest, ServesTheSnapshotMetricsAndTheIndex) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter()
      .Name("jobgroup_test_total")
      .Help("A test counter.")
      .Register(*registry)
      .Add({})
      .Increment(3);
  std::atomic<int> calls{0};
  auto server = StatusHttpServer::Start(
      "127.0.0.1:0", {registry},
      [&calls]() -> std::optional<admin::v1::ServerSnapshot> {
        ++calls;
        return Snapshot();
      });
  ASSERT_NE(server, nullptr);
  const int port = server->ports()[0];

  std::string json = Body(Get(port, "/statusz.json"));
  ServerSnapshot back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &back).ok())
      << json;
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(back, Snapshot()));
  std::string page = Get(port, "/statusz");
  EXPECT_NE(page.find("Content-Type: text/html; charset=utf-8"),
            std::string::npos);
  EXPECT_NE(page.find("Content-Security-Policy: default-src 'none'"),
            std::string::npos);
  EXPECT_NE(Body(page).find("call-42"), std::string::npos);
  EXPECT_EQ(calls.load(), 2);  // Once per page request.

  std::string metrics = Get(port, "/metrics");
  EXPECT_NE(metrics.find("Content-Type: text/plain; charset=utf-8"),
            std::string::npos);
  EXPECT_NE(Body(metrics).find("jobgroup_test_total 3"), std::string::npos)
      << metrics;
  // prometheus-cpp's Exposer families come first, as they did.
  EXPECT_EQ(Body(metrics).rfind("# HELP exposer_transferred_bytes_total", 0),
            0u)
      << metrics;
  EXPECT_NE(Body(Get(port, "/")).find("href=\"/statusz\""), std::string::npos);
  EXPECT_EQ(Get(port, "/statusz/x").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(Get(port, "/", "DELETE").rfind("HTTP/1.1 405", 0), 0u);
  std::string head = Get(port, "/statusz", "HEAD");
  EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(Body(head), "");
}

TEST(StatusHttpServerTest, AnUnusableAddressGivesNull) {
  auto first = StatusHttpServer::Start("127.0.0.1:0", {}, nullptr);
  ASSERT_NE(first, nullptr);
  const std::string taken = "127.0.0.1:" + std::to_string(first->ports()[0]);
  EXPECT_EQ(StatusHttpServer::Start(taken, {}, nullptr), nullptr);
  EXPECT_EQ(StatusHttpServer::Start("not an address", {}, nullptr), nullptr);
}

// ServerMetrics serves the source set last; SetStatusSource(nullptr) waits
// for a page request in progress, so the source's state may go after it.
TEST(StatusHttpServerTest, ServerMetricsServesItsStatusSource) {
  KindRegistry kinds;
  BackendSet backends;
  ASSERT_TRUE(backends.Add({"local", 2}).ok());
  ServerMetrics metrics(kinds, LiveSources{nullptr, &backends}, "test");
  ASSERT_TRUE(metrics.Serve("127.0.0.1:0").ok());
  const int port = metrics.port();
  ASSERT_GT(port, 0);
  EXPECT_EQ(Get(port, "/statusz.json").rfind("HTTP/1.1 503", 0), 0u);

  std::atomic<bool> in_source{false};
  std::atomic<bool> source_done{false};
  metrics.SetStatusSource([&] {
    in_source = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    source_done = true;
    return Snapshot();
  });
  std::string json;
  std::thread request([&] { json = Body(Get(port, "/statusz.json")); });
  while (!in_source) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  metrics.SetStatusSource(nullptr);
  EXPECT_TRUE(source_done.load()) << "SetStatusSource did not wait";
  request.join();
  ServerSnapshot back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &back).ok())
      << json;
  EXPECT_EQ(back.calls(0).call_id(), "call-42");
  EXPECT_NE(Get(port, "/statusz").find("status not available"),
            std::string::npos);
  EXPECT_NE(Body(Get(port, "/metrics")).find("jobgroup_build_info"),
            std::string::npos);
}

}  // namespace
}  // namespace jobgroup

// Tests of the status page's rendering (server/service/status_page.h): a
// hand-built snapshot as HTML (escaped, with its call, progress and
// backend) and as JSON that parses back to the same message.
#include "server/service/status_page.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

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

}  // namespace
}  // namespace jobgroup

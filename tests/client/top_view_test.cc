// Tests of the rendering of `jobgroup top` (client/top_view.h) with
// hand-built snapshots: bars, widths, colours, sorting and selection.
#include "client/top_view.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jobgroup::client {
namespace {

using ::jobgroup::admin::v1::CallInfo;
using ::jobgroup::admin::v1::ServerSnapshot;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kNow = 1'800'000'000;

CallInfo* AddCall(ServerSnapshot& s, std::string id, int64_t age_s,
                  int64_t deadline_left_s, uint64_t total, uint64_t done,
                  uint64_t running, uint64_t pending) {
  CallInfo* call = s.add_calls();
  call->set_call_id(std::move(id));
  call->set_method("RunBatch");
  call->set_peer("ipv4:127.0.0.1:40000");
  call->set_identity("sha256:0123456789ab");
  call->mutable_start_time()->set_seconds(kNow - age_s);
  call->mutable_deadline_left()->set_seconds(deadline_left_s);
  call->set_jobs_total(total);
  call->set_succeeded(done);
  call->set_jobs_running(running);
  call->set_jobs_pending(pending);
  return call;
}

// Three calls: "aaaa..." most jobs in flight, "bbbb..." oldest, "cccc..."
// least deadline left.
ServerSnapshot Snapshot() {
  ServerSnapshot s;
  s.mutable_time()->set_seconds(kNow);
  s.set_version("1.2.3");
  s.mutable_uptime()->set_seconds(3725);
  s.set_calls_in_flight(3);
  s.set_jobs_in_flight(170);
  AddCall(s, std::string(32, 'a'), 10, 50, 200, 50, 100, 50);
  AddCall(s, std::string(32, 'b'), 300, 40, 10, 5, 5, 0);
  AddCall(s, std::string(32, 'c'), 20, 5, 100, 85, 10, 5);
  auto* db = s.add_backends();
  db->set_name("db");
  db->set_capacity(10);
  db->set_in_use(5);
  db->set_waiting(3);
  db->mutable_oldest_wait()->set_seconds(2);
  auto* idle = s.add_backends();
  idle->set_name("cache");
  idle->set_capacity(4);
  s.mutable_queue()->set_capacity(1024);
  s.mutable_queue()->set_depth(12);
  s.mutable_workers()->set_workers(4);
  s.mutable_workers()->set_busy(3);
  s.mutable_rates()->mutable_window()->set_seconds(10);
  s.mutable_rates()->set_succeeded(120.5);
  s.mutable_rates()->set_calls(3.25);
  s.set_memory_budget_bytes(256ull << 20);
  s.set_memory_in_use_bytes(64ull << 20);
  return s;
}

std::string Joined(const std::vector<std::string>& lines) {
  return absl::StrJoin(lines, "\n");
}

const std::string* LineWith(const std::vector<std::string>& lines,
                            absl::string_view needle) {
  for (const std::string& line : lines) {
    if (absl::StrContains(line, needle)) return &line;
  }
  return nullptr;
}

std::vector<std::string> Ids(const ServerSnapshot& s, TopSort sort) {
  std::vector<std::string> ids;
  for (const CallInfo* call : SortCalls(s, sort)) {
    ids.push_back(call->call_id().substr(0, 1));
  }
  return ids;
}

TEST(RenderBarTest, FillsInProportion) {
  EXPECT_EQ(RenderBar(0, 10, 12), "[..........]");
  EXPECT_EQ(RenderBar(5, 10, 12), "[#####.....]");
  EXPECT_EQ(RenderBar(10, 10, 12), "[##########]");
  EXPECT_EQ(RenderBar(25, 10, 12), "[##########]");
  EXPECT_EQ(RenderBar(3, 0, 7), "[.....]");
  EXPECT_EQ(RenderBar(1, 3, 5), "[#..]");
  EXPECT_EQ(RenderBar(1, 1, 0), "[#]");
}

TEST(CompactDurationTest, FitsSixCharacters) {
  EXPECT_EQ(CompactDuration(absl::Milliseconds(850)), "850ms");
  EXPECT_EQ(CompactDuration(absl::Milliseconds(12300)), "12.3s");
  EXPECT_EQ(CompactDuration(absl::Seconds(185)), "3m05s");
  EXPECT_EQ(CompactDuration(absl::Seconds(3725)), "1h02m");
  EXPECT_EQ(CompactDuration(absl::Hours(76)), "3d04h");
  EXPECT_EQ(CompactDuration(absl::ZeroDuration()), "0s");
  EXPECT_EQ(CompactDuration(absl::Seconds(-1)), "-");
}

TEST(CompactBytesTest, BinaryUnits) {
  EXPECT_EQ(CompactBytes(512), "512B");
  EXPECT_EQ(CompactBytes(1536), "1.5KiB");
  EXPECT_EQ(CompactBytes(256ull << 20), "256MiB");
}

TEST(SortCallsTest, ByEachKey) {
  const ServerSnapshot s = Snapshot();
  EXPECT_THAT(Ids(s, TopSort::kJobsInFlight), ElementsAre("a", "c", "b"));
  EXPECT_THAT(Ids(s, TopSort::kAge), ElementsAre("b", "c", "a"));
  EXPECT_THAT(Ids(s, TopSort::kDeadlineLeft), ElementsAre("c", "b", "a"));
  EXPECT_EQ(NextSort(TopSort::kJobsInFlight), TopSort::kAge);
  EXPECT_EQ(NextSort(TopSort::kAge), TopSort::kDeadlineLeft);
  EXPECT_EQ(NextSort(TopSort::kDeadlineLeft), TopSort::kJobsInFlight);
}

TEST(SelectionTest, FollowsTheCallAndStopsAtTheEnds) {
  const ServerSnapshot s = Snapshot();
  const std::string a(32, 'a'), b(32, 'b'), c(32, 'c');
  EXPECT_EQ(SelectedCall(s, TopSort::kJobsInFlight, ""), a);
  EXPECT_EQ(SelectedCall(s, TopSort::kJobsInFlight, "gone"), a);
  EXPECT_EQ(SelectedCall(s, TopSort::kAge, c), c);
  EXPECT_EQ(MoveSelection(s, TopSort::kJobsInFlight, a, 1), c);
  EXPECT_EQ(MoveSelection(s, TopSort::kJobsInFlight, c, 1), b);
  EXPECT_EQ(MoveSelection(s, TopSort::kJobsInFlight, b, 1), b);
  EXPECT_EQ(MoveSelection(s, TopSort::kJobsInFlight, b, -5), a);
  EXPECT_EQ(MoveSelection(ServerSnapshot(), TopSort::kAge, "", 1), "");
}

TEST(RenderTopTest, Width80ShowsHeaderCallsAndBackends) {
  const std::vector<std::string> lines =
      RenderTop(Snapshot(), {}, {.width = 80});
  for (const std::string& line : lines) {
    EXPECT_LE(line.size(), 80u) << line;
  }
  const std::string text = Joined(lines);
  EXPECT_THAT(text, HasSubstr("jobgroupd 1.2.3"));
  EXPECT_THAT(text, HasSubstr("up 1h02m"));
  EXPECT_THAT(text, HasSubstr("jobs in flight 170"));
  EXPECT_THAT(text, HasSubstr("memory 64MiB/256MiB [##........]"));
  EXPECT_THAT(text, HasSubstr("succeeded 120.5"));
  EXPECT_THAT(text, HasSubstr("calls 3.2"));
  EXPECT_THAT(text, HasSubstr("queue 12/1024"));
  EXPECT_THAT(text, HasSubstr("workers 3/4 busy"));
  EXPECT_THAT(text, HasSubstr("sort: jobs in flight"));
  EXPECT_THAT(text, Not(HasSubstr("DRAINING")));
  EXPECT_THAT(text, Not(HasSubstr("keys:")));
  EXPECT_THAT(text, Not(HasSubstr("\x1b")));
  const std::string* header = LineWith(lines, "CALL_ID");
  ASSERT_NE(header, nullptr);
  EXPECT_THAT(*header, HasSubstr("AGE"));
  EXPECT_THAT(*header, HasSubstr("DEADLINE_LEFT"));
  EXPECT_THAT(*header, HasSubstr("DONE/TOTAL"));
  EXPECT_THAT(*header, HasSubstr("RUNNING"));
  EXPECT_THAT(*header, HasSubstr("PENDING"));
  // The call ids are cut to 12 characters at this width.
  const std::string* a = LineWith(lines, "aaaaaaaaaaaa ");
  ASSERT_NE(a, nullptr);
  EXPECT_THAT(*a, HasSubstr("50/200"));
  EXPECT_THAT(*a, HasSubstr("[###"));  // a quarter done
  EXPECT_THAT(*a, HasSubstr("10.0s"));
  const std::string* c = LineWith(lines, "cccccccccccc ");
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(*c, HasSubstr("85/100"));
  const std::string* db = LineWith(lines, "  db ");
  ASSERT_NE(db, nullptr);
  EXPECT_THAT(*db, HasSubstr("5/10"));
  EXPECT_THAT(*db, HasSubstr("2.0s"));
  EXPECT_THAT(*db, HasSubstr("[###########............]")) << *db;
  const std::string* cache = LineWith(lines, "  cache ");
  ASSERT_NE(cache, nullptr);
  EXPECT_THAT(*cache, HasSubstr("0/4"));
}

TEST(RenderTopTest, Width40StillFits) {
  ServerSnapshot s = Snapshot();
  s.set_draining(true);
  const std::vector<std::string> lines =
      RenderTop(s, {.interactive = true}, {.width = 40});
  for (const std::string& line : lines) {
    EXPECT_LE(line.size(), 40u) << line;
  }
  const std::string text = Joined(lines);
  EXPECT_THAT(text, HasSubstr("DRAINING"));
  EXPECT_THAT(text, HasSubstr("aaaaaaaa "));
  EXPECT_THAT(text, HasSubstr("85/100"));
  EXPECT_THAT(text, HasSubstr("db"));
  EXPECT_THAT(text, Not(HasSubstr("DEADLINE_LEFT")));
  // Wrapped, not lost: every rate is there.
  EXPECT_THAT(text, HasSubstr("rejected 0.0"));
}

TEST(RenderTopTest, Width120ShowsMethodPeerAndFlags) {
  ServerSnapshot s = Snapshot();
  s.mutable_calls(1)->set_cancelled_by_operator(true);
  const std::vector<std::string> lines = RenderTop(s, {}, {.width = 120});
  for (const std::string& line : lines) EXPECT_LE(line.size(), 120u);
  const std::string* b = LineWith(lines, "bbbbbbbbbbbb");
  ASSERT_NE(b, nullptr);
  EXPECT_THAT(*b, HasSubstr("RunBatch"));
  EXPECT_THAT(*b, HasSubstr("ipv4:127.0.0.1:40000"));
  EXPECT_THAT(*b, HasSubstr("CANCELLED"));
  EXPECT_THAT(*b, HasSubstr("5m00s"));
}

TEST(RenderTopTest, ColourOnlyWhenAsked) {
  const ServerSnapshot s = Snapshot();
  const TopViewState state{.interactive = true};
  EXPECT_THAT(Joined(RenderTop(s, state, {.width = 80, .color = false})),
              Not(HasSubstr("\x1b")));
  const std::vector<std::string> coloured =
      RenderTop(s, state, {.width = 80, .color = true});
  EXPECT_THAT(Joined(coloured), HasSubstr("\x1b[7m"));  // the selection
  EXPECT_THAT(Joined(coloured), HasSubstr("\x1b[1m"));
}

TEST(RenderTopTest, SortLabelAndOrder) {
  const ServerSnapshot s = Snapshot();
  const std::vector<std::string> lines =
      RenderTop(s, {.sort = TopSort::kDeadlineLeft}, {.width = 80});
  EXPECT_THAT(Joined(lines), HasSubstr("sort: deadline left"));
  std::vector<char> order;
  for (const std::string& line : lines) {
    for (char id : {'a', 'b', 'c'}) {
      if (absl::StartsWith(line, "  " + std::string(12, id))) {
        order.push_back(id);
      }
    }
  }
  EXPECT_THAT(order, ElementsAre('c', 'b', 'a'));
}

TEST(RenderTopTest, MarksTheSelectionAndShowsTheStatusLine) {
  const ServerSnapshot s = Snapshot();
  TopViewState state;
  state.interactive = true;
  state.selected_call_id = std::string(32, 'b');
  state.status_line = "cancel call bbbb? [y/N]";
  const std::vector<std::string> lines = RenderTop(s, state, {.width = 80});
  const std::string* b = LineWith(lines, "bbbbbbbbbbbb");
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(absl::StartsWith(*b, "> ")) << *b;
  const std::string* a = LineWith(lines, "aaaaaaaaaaaa");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(absl::StartsWith(*a, "  ")) << *a;
  EXPECT_EQ(lines.back(), "cancel call bbbb? [y/N]");
  EXPECT_THAT(Joined(lines), HasSubstr("keys: s sort"));
  // A selection that left the snapshot falls back to the first call.
  state.selected_call_id = "gone";
  const std::vector<std::string> again = RenderTop(s, state, {.width = 80});
  EXPECT_TRUE(absl::StartsWith(*LineWith(again, "aaaaaaaaaaaa"), "> "));
}

TEST(RenderTopTest, EmptyServer) {
  ServerSnapshot s;
  s.set_version("1.2.3");
  const std::string text = Joined(RenderTop(s, {}, {.width = 80}));
  EXPECT_THAT(text, HasSubstr("(no calls in flight)"));
  EXPECT_THAT(text, HasSubstr("(no backends)"));
  EXPECT_THAT(text, HasSubstr("memory 0B (no budget)"));
}

}  // namespace
}  // namespace jobgroup::client

// Tests of call identity: which client ids are kept, the ids the server
// makes, and which traceparent values are taken.
#include "server/service/call_id.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace jobgroup {
namespace {

bool IsHex32(const std::string& id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

TEST(CallIdTest, PrintableClientIdsAreKeptAsTheyAre) {
  EXPECT_EQ(CallIdFor("etl-2026-12-02/run:7"), "etl-2026-12-02/run:7");
  EXPECT_EQ(CallIdFor(std::string(kMaxCallIdBytes, 'x')),
            std::string(kMaxCallIdBytes, 'x'));
}

TEST(CallIdTest, EmptyLongOrUnprintableClientIdsAreReplaced) {
  for (std::string bad :
       {std::string(), std::string(kMaxCallIdBytes + 1, 'x'),
        std::string("two words"), std::string("tab\there"), std::string("nl\n"),
        std::string("del\x7f"), std::string("\xc3\xa9")}) {
    EXPECT_FALSE(IsUsableCallId(bad)) << bad;
    std::string id = CallIdFor(bad);
    EXPECT_TRUE(IsHex32(id)) << id;
  }
}

TEST(CallIdTest, MintedIdsAre32HexDigitsAndDoNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    std::string id = MintCallId();
    ASSERT_TRUE(IsHex32(id)) << id;
    ASSERT_TRUE(seen.insert(id).second) << "repeated " << id;
  }
}

TEST(CallIdTest, OnlyWellFormedVersion00TraceparentsAreTaken) {
  EXPECT_TRUE(IsValidTraceparent(
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  // short
           "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
           "00-4bf92f3577b34da6a3ce929d0e0e473x-00f067aa0ba902b7-01",
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
       }) {
    EXPECT_FALSE(IsValidTraceparent(bad)) << bad;
  }
}

}  // namespace
}  // namespace jobgroup

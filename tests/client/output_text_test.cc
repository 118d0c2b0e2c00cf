// Tests of how outputs are shown to people: text when valid UTF-8, with
// controls escaped, base64 otherwise, cut to a width.
#include "client/output_text.h"

#include <string>

#include "gtest/gtest.h"

namespace jobgroup::client {
namespace {

TEST(IsValidUtf8Test, AcceptsUtf8AndRefusesEverythingElse) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("hello"));
  EXPECT_TRUE(IsValidUtf8("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_TRUE(IsValidUtf8(std::string("a\0b", 3)));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // Cut short.
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // Overlong '/'.
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // A surrogate.
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // Above U+10FFFF.
}

TEST(DisplayOutputTest, TextIsQuotedWithItsSize) {
  EXPECT_EQ(DisplayOutput("hi"), "\"hi\" (2 bytes)");
  EXPECT_EQ(DisplayOutput(""), "\"\" (0 bytes)");
  EXPECT_EQ(DisplayOutput("caf\xc3\xa9"), "\"caf\xc3\xa9\" (5 bytes)");
}

TEST(DisplayOutputTest, ControlCharactersAreEscaped) {
  EXPECT_EQ(DisplayOutput("a\nb\tc\r\"\\"),
            "\"a\\nb\\tc\\r\\\"\\\\\" (8 bytes)");
  EXPECT_EQ(DisplayOutput(std::string("\0\x1b[2J\x7f", 6)),
            "\"\\x00\\x1b[2J\\x7f\" (6 bytes)");
  EXPECT_EQ(DisplayOutput("\xc2\x85"), "\"\\u0085\" (2 bytes)");  // NEL.
}

TEST(DisplayOutputTest, BytesThatAreNotUtf8AreBase64AndSaySo) {
  EXPECT_EQ(DisplayOutput(std::string("\x00\x01\x02\xff", 4)),
            "base64:AAEC/w== (4 bytes, not UTF-8)");
}

TEST(DisplayOutputTest, LongOutputsAreCutButTheSizeIsTheWhole) {
  EXPECT_EQ(DisplayOutput(std::string(100, 'x'), 5),
            "\"xxxxx\"... (100 bytes)");
  EXPECT_EQ(DisplayOutput("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 2),
            "\"\xe2\x82\xac\xe2\x82\xac\"... (9 bytes)");
  EXPECT_EQ(DisplayOutput(std::string(30, '\xff'), 8),
            "base64:////////... (30 bytes, not UTF-8)");
}

}  // namespace
}  // namespace jobgroup::client

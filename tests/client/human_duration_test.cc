// Tests of the CLI's human duration parsing and printing.
#include "client/human_duration.h"

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jobgroup::client {
namespace {

using ::testing::HasSubstr;

TEST(ParseHumanDurationTest, AcceptsTheDocumentedForms) {
  EXPECT_EQ(*ParseHumanDuration("30s"), absl::Seconds(30));
  EXPECT_EQ(*ParseHumanDuration("250ms"), absl::Milliseconds(250));
  EXPECT_EQ(*ParseHumanDuration("1m30s"), absl::Seconds(90));
  EXPECT_EQ(*ParseHumanDuration("2h"), absl::Hours(2));
  EXPECT_EQ(*ParseHumanDuration("1.5s"), absl::Milliseconds(1500));
  EXPECT_EQ(*ParseHumanDuration("100us"), absl::Microseconds(100));
  EXPECT_EQ(*ParseHumanDuration(" 5s "), absl::Seconds(5));
}

TEST(ParseHumanDurationTest, BareNumberIsRejectedWithTheExpectedForm) {
  absl::StatusOr<absl::Duration> d = ParseHumanDuration("30");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(d.status().message(), HasSubstr("\"30\" has no unit"));
  EXPECT_THAT(d.status().message(), HasSubstr("250ms"));
}

TEST(ParseHumanDurationTest, GarbageIsRejectedAndQuoted) {
  for (const char* text : {"abc", "5 s", "1d", "s", "5sec", "--5s"}) {
    absl::StatusOr<absl::Duration> d = ParseHumanDuration(text);
    ASSERT_FALSE(d.ok()) << text;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(d.status().message(), HasSubstr(text));
  }
}

TEST(ParseHumanDurationTest, EmptyIsRejected) {
  absl::StatusOr<absl::Duration> d = ParseHumanDuration("  ");
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), HasSubstr("empty duration"));
}

TEST(ParseHumanDurationTest, ZeroNegativeAndInfiniteAreRejected) {
  EXPECT_THAT(ParseHumanDuration("0").status().message(),
              HasSubstr("must be positive"));
  EXPECT_THAT(ParseHumanDuration("0s").status().message(),
              HasSubstr("must be positive"));
  EXPECT_THAT(ParseHumanDuration("-5s").status().message(),
              HasSubstr("must be positive"));
  EXPECT_THAT(ParseHumanDuration("inf").status().message(),
              HasSubstr("must be finite"));
}

TEST(FormatHumanDurationTest, RoundsToMillisecondsAndMicroseconds) {
  EXPECT_EQ(FormatHumanDuration(absl::Milliseconds(1234)), "1.234s");
  EXPECT_EQ(FormatHumanDuration(absl::Microseconds(1234567)), "1.235s");
  EXPECT_EQ(FormatHumanDuration(absl::Seconds(90)), "1m30s");
  EXPECT_EQ(FormatHumanDuration(absl::Milliseconds(250)), "250ms");
  EXPECT_EQ(FormatHumanDuration(absl::Nanoseconds(350400)), "350us");
  EXPECT_EQ(FormatHumanDuration(absl::ZeroDuration()), "0");
}

}  // namespace
}  // namespace jobgroup::client

// Tests of LogSampler (driven by explicit times, no clock) and of the log
// levels.
#include "server/service/log_sampler.h"

#include "gtest/gtest.h"
#include "server/service/logger.h"

namespace jobgroup {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

TEST(LogSamplerTest, ZeroAdmitsEveryLine) {
  LogSampler sampler(0);
  for (int i = 0; i < 1000; ++i) {
    uint64_t skipped = 7;
    ASSERT_TRUE(sampler.Admit(kT0, &skipped));
    ASSERT_EQ(skipped, 0u);
  }
}

TEST(LogSamplerTest, AtMostNPerSecondAndTheNextLineCountsTheRest) {
  LogSampler sampler(3);
  uint64_t skipped = 0;
  int admitted = 0;
  for (int i = 0; i < 10; ++i) {
    if (sampler.Admit(kT0 + absl::Milliseconds(i * 10), &skipped)) {
      ++admitted;
      EXPECT_EQ(skipped, 0u);
    }
  }
  EXPECT_EQ(admitted, 3);
  // A second later the window has moved on: admitted, and it says 7 lines
  // were left out before it.
  ASSERT_TRUE(sampler.Admit(kT0 + absl::Seconds(1), &skipped));
  EXPECT_EQ(skipped, 7u);
  ASSERT_TRUE(sampler.Admit(kT0 + absl::Seconds(1), &skipped));
  EXPECT_EQ(skipped, 0u);
}

TEST(LogSamplerTest, EveryLineIsWrittenOrCounted) {
  LogSampler sampler(5);
  uint64_t written = 0, counted = 0, skipped = 0;
  // 1000 lines over 10 seconds, then one late line that reports the rest.
  for (int i = 0; i < 1000; ++i) {
    if (sampler.Admit(kT0 + absl::Milliseconds(i * 10), &skipped)) {
      ++written;
      counted += skipped;
    }
  }
  ASSERT_TRUE(sampler.Admit(kT0 + absl::Seconds(60), &skipped));
  counted += skipped;
  EXPECT_EQ(written, 50u);
  EXPECT_EQ(written + counted, 1000u);
}

TEST(LogLevelTest, ParsesTheFourLevelsAndRefusesOthers) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("INFO"), LogLevel::kInfo);
  EXPECT_EQ(*ParseLogLevel("warning"), LogLevel::kWarn);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
  absl::StatusOr<LogLevel> bad = ParseLogLevel("verbose");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("debug, info, warn or error"),
            absl::string_view::npos);
}

TEST(LogLevelTest, ALoggerWritesItsLevelAndAbove) {
  Logger warn(false, LogLevel::kWarn);
  EXPECT_FALSE(warn.Enabled(LogLevel::kDebug));
  EXPECT_FALSE(warn.Enabled(LogLevel::kInfo));
  EXPECT_TRUE(warn.Enabled(LogLevel::kWarn));
  EXPECT_TRUE(warn.Enabled(LogLevel::kError));
}

}  // namespace
}  // namespace jobgroup

// Tests of Logger: the timestamp against absl::FormatTime, and whole lines
// as they reach stderr (redirected to a file for the test).
#include "server/service/logger.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace jobgroup {
namespace {

std::string Stamp(absl::Time t) {
  std::string out;
  AppendLogTimestamp(t, &out);
  return out;
}

TEST(LoggerTest, TimestampIsUtcToTheMillisecondLikeFormatTime) {
  std::mt19937_64 rng(20261203);
  // Random instants over 60 years and runs of instants within one second
  // and across its end (the per-second cache must follow).
  std::uniform_int_distribution<int64_t> ms(0, int64_t{60} * 365 * 86400000);
  std::vector<absl::Time> times;
  for (int i = 0; i < 2000; ++i) times.push_back(absl::FromUnixMillis(ms(rng)));
  const absl::Time base = absl::FromUnixSeconds(1'800'000'000);
  for (int i = -1500; i < 1500; i += 7) {
    times.push_back(base + absl::Milliseconds(i));
  }
  times.push_back(absl::UnixEpoch());
  times.push_back(absl::FromUnixMicros(1'800'000'000'999'999));
  for (absl::Time t : times) {
    ASSERT_EQ(Stamp(t),
              absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone()))
        << absl::ToUnixMicros(t);
  }
}

// Runs `write` with stderr sent to a file; returns what was written.
template <typename Fn>
std::string CaptureStderr(Fn write) {
  char path[] = "/tmp/logger_test.XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  write();
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::string out;
  lseek(fd, 0, SEEK_SET);
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) out.append(buf, n);
  close(fd);
  unlink(path);
  return out;
}

TEST(LoggerTest, TextLinesQuoteOnlyWhatNeedsIt) {
  Logger logger(/*json=*/false);
  const absl::Time before = absl::Now();
  std::string out = CaptureStderr([&] {
    logger.Info("call_finished", "",
                {{"code", "OK"},
                 {"jobs", "10"},
                 {"error", "a b"},
                 {"empty", ""},
                 {"eq", "x=y"}});
    logger.Log(LogLevel::kDebug, "not_written", "");
  });
  ASSERT_GE(out.size(), 25u);
  const std::string ts = out.substr(0, 24);
  absl::Time t;
  std::string err;
  ASSERT_TRUE(absl::ParseTime("%Y-%m-%dT%H:%M:%E3SZ", ts, &t, &err)) << ts;
  EXPECT_GE(t, absl::FromUnixMillis(absl::ToUnixMillis(before)));
  EXPECT_LE(t, absl::Now());
  EXPECT_EQ(
      out.substr(24),
      R"( INFO call_finished code=OK jobs=10 error="a b" empty="" eq="x=y")"
      "\n");
}

TEST(LoggerTest, JsonLinesWriteNumbersBare) {
  Logger logger(/*json=*/true);
  std::string out = CaptureStderr([&] {
    logger.Warn("e", "m \"q\"", {{"n", "12"}, {"s", "x\ty"}, {"b", "true"}});
  });
  const size_t ts_end = out.find("\",\"level\"");
  ASSERT_NE(ts_end, std::string::npos) << out;
  EXPECT_EQ(out.substr(0, 7), "{\"ts\":\"");
  EXPECT_EQ(
      out.substr(ts_end),
      R"(","level":"WARN","event":"e","msg":"m \"q\"","n":12,"s":"x\ty","b":true})"
      "\n");
}

}  // namespace
}  // namespace jobgroup

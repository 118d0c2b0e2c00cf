// Tests of the spinner of a non-streamed `jobgroup run`: the frames it
// draws, that it erases its line, and that it draws nothing when disabled
// (stderr not a terminal, or --quiet).
#include "client/spinner.h"

#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jobgroup::client {
namespace {

using ::testing::EndsWith;
using ::testing::StartsWith;

TEST(SpinnerTest, FrameShowsATurningBarAndTheElapsedTenths) {
  EXPECT_EQ(Spinner::Frame("running 3 jobs", absl::ZeroDuration()),
            "| running 3 jobs  0.0s");
  EXPECT_EQ(Spinner::Frame("running 3 jobs", absl::Milliseconds(100)),
            "/ running 3 jobs  0.1s");
  EXPECT_EQ(Spinner::Frame("x", absl::Milliseconds(250)), "- x  0.2s");
  EXPECT_EQ(Spinner::Frame("x", absl::Milliseconds(399)), "\\ x  0.3s");
  EXPECT_EQ(Spinner::Frame("x", absl::Milliseconds(400)), "| x  0.4s");
  EXPECT_EQ(Spinner::Frame("x", absl::Seconds(75)), "- x  75.0s");
  EXPECT_EQ(Spinner::Frame("x", absl::Milliseconds(-5)), "| x  0.0s");
}

// A stream its writer and the test may share. Recursive: stringbuf's
// xsputn() may call overflow().
class LockedStream : public std::stringbuf {
 public:
  std::string Text() {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return str();
  }

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return std::stringbuf::xsputn(s, n);
  }
  int_type overflow(int_type c) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return std::stringbuf::overflow(c);
  }

 private:
  std::recursive_mutex mu_;
};

TEST(SpinnerTest, DrawsInPlaceAndErasesItsLineOnStop) {
  LockedStream buffer;
  std::ostream out(&buffer);
  Spinner spinner(out, /*enabled=*/true, "running 1 job",
                  /*first_frame_after=*/absl::ZeroDuration());
  spinner.Start();
  while (buffer.Text().find("running 1 job") == std::string::npos) {
    std::this_thread::yield();
  }
  spinner.Stop();
  const std::string text = buffer.Text();
  EXPECT_THAT(text, StartsWith("\r| running 1 job  0.0s\033[K"));
  EXPECT_THAT(text, EndsWith("\r\033[K"));
  EXPECT_EQ(text.find('\n'), std::string::npos) << text;
  spinner.Stop();  // Idempotent.
  EXPECT_EQ(buffer.Text(), text);
}

TEST(SpinnerTest, ADisabledSpinnerWritesNothing) {
  std::ostringstream out;
  {
    Spinner spinner(out, /*enabled=*/false, "running 1 job",
                    absl::ZeroDuration());
    spinner.Start();
    spinner.Stop();
  }
  EXPECT_EQ(out.str(), "");
}

TEST(SpinnerTest, NothingIsLeftWhenStoppedBeforeTheFirstFrame) {
  std::ostringstream out;
  Spinner spinner(out, /*enabled=*/true, "running 1 job", absl::Hours(1));
  spinner.Start();
  spinner.Stop();
  EXPECT_EQ(out.str(), "");
}

}  // namespace
}  // namespace jobgroup::client

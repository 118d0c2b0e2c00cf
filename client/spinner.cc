// The terminal spinner of a non-streamed `jobgroup run`; see spinner.h.
#include "client/spinner.h"

#include <utility>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace jobgroup::client {
namespace {

constexpr absl::Duration kFrameInterval = absl::Milliseconds(100);
constexpr char kFrames[] = {'|', '/', '-', '\\'};

}  // namespace

Spinner::Spinner(std::ostream& out, bool enabled, std::string label,
                 absl::Duration first_frame_after)
    : out_(out),
      enabled_(enabled),
      label_(std::move(label)),
      first_frame_after_(first_frame_after) {}

Spinner::~Spinner() { Stop(); }

std::string Spinner::Frame(absl::string_view label, absl::Duration elapsed) {
  if (elapsed < absl::ZeroDuration()) elapsed = absl::ZeroDuration();
  const int64_t step = absl::IDivDuration(elapsed, kFrameInterval, &elapsed);
  const double seconds =
      absl::ToDoubleSeconds(static_cast<double>(step) * kFrameInterval);
  return absl::StrFormat("%c %s  %.1fs", kFrames[step % 4], label, seconds);
}

void Spinner::Start() {
  if (!enabled_ || thread_.joinable()) return;
  thread_ = std::thread([this] { Draw(); });
}

void Spinner::Draw() {
  const absl::Time start = absl::Now();
  bool drawn = false;
  for (absl::Time next = start + first_frame_after_;; next += kFrameInterval) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithDeadline(absl::Condition(&stopping_), next)) break;
    }
    // \033[K erases what a longer previous frame left behind.
    out_ << '\r' << Frame(label_, absl::Now() - start) << "\033[K"
         << std::flush;
    drawn = true;
  }
  if (drawn) out_ << "\r\033[K" << std::flush;
}

void Spinner::Stop() {
  if (!thread_.joinable()) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

}  // namespace jobgroup::client

// Terminal progress line for streaming calls; see progress_bar.h.
#include "client/progress_bar.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace jobgroup::client {

ProgressBar::ProgressBar(std::ostream& out, bool enabled,
                         std::optional<uint64_t> total)
    : out_(out), enabled_(enabled), total_(total), start_(absl::Now()) {}

ProgressBar::~ProgressBar() { Clear(); }

std::string ProgressBar::Render(uint64_t done, uint64_t not_succeeded,
                                std::optional<uint64_t> sent,
                                std::optional<uint64_t> total, double rate) {
  std::string line;
  if (total.has_value() && *total > 0) {
    constexpr int kWidth = 30;
    const uint64_t shown = std::min(done, *total);
    const int filled = static_cast<int>(shown * kWidth / *total);
    line = absl::StrFormat("[%s%s] %d/%d %3d%%", std::string(filled, '#'),
                           std::string(kWidth - filled, '.'), done, *total,
                           static_cast<int>(shown * 100 / *total));
  } else {
    line = absl::StrCat(done, " done");
    if (sent.has_value()) absl::StrAppend(&line, ", ", *sent, " sent");
  }
  absl::StrAppend(&line, absl::StrFormat("  %.0f jobs/s", rate));
  if (not_succeeded > 0) {
    absl::StrAppend(&line, "  ", not_succeeded, " not succeeded");
  }
  return line;
}

void ProgressBar::Update(uint64_t done, uint64_t not_succeeded,
                         std::optional<uint64_t> sent, bool force) {
  if (!enabled_) return;
  const absl::Time now = absl::Now();
  if (!force && now - last_draw_ < absl::Milliseconds(100)) return;
  last_draw_ = now;
  const double seconds = absl::ToDoubleSeconds(now - start_);
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  // \033[K erases what a longer previous line left behind.
  out_ << '\r' << Render(done, not_succeeded, sent, total_, rate) << "\033[K"
       << std::flush;
  drawn_ = true;
}

void ProgressBar::Clear() {
  if (!enabled_ || !drawn_) return;
  out_ << "\r\033[K" << std::flush;
  drawn_ = false;
}

}  // namespace jobgroup::client

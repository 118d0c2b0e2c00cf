// Implementation of AdaptiveLimit; the algorithm is described in the header.
#include "server/core/adaptive_limit.h"

#include <algorithm>
#include <cmath>

namespace jobgroup {

AdaptiveLimit::AdaptiveLimit(Options options)
    : options_([&] {
        options.max_limit = std::max<uint64_t>(options.max_limit, 1);
        options.min_limit =
            std::clamp<uint64_t>(options.min_limit, 1, options.max_limit);
        options.tolerance = std::max(options.tolerance, 1.0);
        options.smoothing = std::clamp(options.smoothing, 0.01, 1.0);
        return options;
      }()),
      limit_(options_.max_limit),
      estimate_(static_cast<double>(options_.max_limit)),
      long_(absl::ToDoubleSeconds(options_.delay_floor)) {}

void AdaptiveLimit::Observe(absl::Duration delay, uint64_t in_use,
                            absl::Time now) {
  MutexLock lock(&mu_);
  if (window_samples_ == 0) window_start_ = now;
  window_sum_ += absl::ToDoubleSeconds(std::max(delay, absl::ZeroDuration()));
  ++window_samples_;
  window_peak_in_use_ = std::max(window_peak_in_use_, in_use);
  if (now - window_start_ >= options_.interval) Update(now);
}

void AdaptiveLimit::Update(absl::Time now) {
  const double floor = absl::ToDoubleSeconds(options_.delay_floor);
  const double s =
      std::max(window_sum_ / static_cast<double>(window_samples_), floor);
  const double tol = options_.tolerance;
  if (s < long_) {
    // Better than normal: the baseline follows quickly (halfway a window).
    long_ += 0.5 * (s - long_);
  } else {
    // Worse: slowly, and ten times slower while the limit is falling, so
    // that a queue the limit is fighting does not become the normal.
    const bool falling = tol * long_ < s;
    const double tau = absl::ToDoubleSeconds(options_.baseline_window) *
                       (falling ? 10.0 : 1.0);
    const double dt = absl::ToDoubleSeconds(now - window_start_);
    const double a = tau > 0 ? 1.0 - std::exp(-std::max(dt, 0.0) / tau) : 1.0;
    long_ += a * (s - long_);
  }
  short_ = s;

  const double gradient = std::clamp(tol * long_ / s, 0.5, 1.0);
  const double peak =
      static_cast<double>(std::max<uint64_t>(window_peak_in_use_, 1));
  const double sm = options_.smoothing;
  double limit = estimate_;
  if (gradient < 1.0) {
    // A limit far above what is in use says nothing: start from twice that.
    limit = std::min(limit, 2.0 * peak);
    limit = (1 - sm) * limit + sm * (limit * gradient + std::sqrt(limit));
  } else if (2.0 * peak >= limit) {
    // Climbing is not smoothed: from a low limit it would take minutes.
    limit += std::sqrt(limit);
  }  // Else less than half the limit is in use: it stays.
  limit = std::clamp(limit, static_cast<double>(options_.min_limit),
                     static_cast<double>(options_.max_limit));
  estimate_ = limit;
  limit_.store(static_cast<uint64_t>(std::llround(limit)),
               std::memory_order_relaxed);

  window_start_ = now;
  window_sum_ = 0;
  window_samples_ = 0;
  window_peak_in_use_ = 0;
}

absl::Duration AdaptiveLimit::short_term() const {
  MutexLock lock(&mu_);
  return absl::Seconds(short_);
}

absl::Duration AdaptiveLimit::long_term() const {
  MutexLock lock(&mu_);
  return absl::Seconds(long_);
}

}  // namespace jobgroup

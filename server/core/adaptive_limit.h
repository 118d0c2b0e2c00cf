// AdaptiveLimit: a limit on the jobs the server holds in flight that follows
// the server's own queueing delay, so that past saturation calls are
// refused at once (and retried elsewhere or later) instead of waiting in a
// queue that only adds latency (a gradient limit, in the manner of Netflix's
// concurrency-limits "Gradient2" and Envoy's adaptive concurrency filter).
//
// What it measures is the queueing delay of calls, not their latency: one
// sample per call, the time the call's first job waited for a backend permit
// and a worker. That wait is what the server's backlog costs a newcomer; it
// does not grow with the work a job does (a sleep(10 s) job waits as long
// as an echo job) nor with the size of its own call (the first job of a
// 10,000-job call queues behind other calls only, never behind its
// siblings), so 10-job and 10,000-job calls give the same signal.
//
// Every `interval` (50 ms) the samples of the interval are averaged into
// the short-term delay S. The long-term delay L, the server's normal, starts
// at `delay_floor` (no queue), follows S down quickly (halfway each
// interval) and up slowly (a time constant of `baseline_window`, ten times
// longer while the limit is falling, so that a queue the limit is fighting
// does not become the new normal). Delays under `delay_floor` count as
// `delay_floor`: a queue that short is not congestion, and the microseconds
// of waking a worker must not move the limit. Then
//
//   gradient = clamp(tolerance * L / S, 0.5, 1)
//   falling (gradient < 1):
//     limit = (1 - smoothing) * limit
//             + smoothing * (limit * gradient + sqrt(limit))
//   otherwise:
//     limit = limit + sqrt(limit)
//
// bounded by [min_limit, max_limit]. The limit falls while the queue is
// longer than `tolerance` times its normal (by 10 % an interval at most,
// with the defaults) and climbs by sqrt(limit) an interval otherwise, but
// not while less than half of it is in use (that would say nothing about
// what the server can take); and when it must fall from far above what is
// in use, it first drops to twice the jobs in flight.
//
// Admission is soft: Admits() compares what is in use now with the limit,
// and a call is admitted while the server is under it, whatever its window
// (an exact check would refuse every call larger than the limit for ever).
// The jobs in flight may so pass the limit by one call's window (more when
// calls are admitted at the same instant); --max_inflight_jobs still caps
// them exactly. With nothing in flight a call is always admitted, so the
// limit never stops the samples that let it climb again.
//
// Time is passed in (Observe()'s `now`), so tests drive it with a fake
// clock. Thread-safe: Admits() and limit() read one atomic; Observe() takes
// a short mutex, once per call.
#ifndef JOBGROUP_SERVER_CORE_ADAPTIVE_LIMIT_H_
#define JOBGROUP_SERVER_CORE_ADAPTIVE_LIMIT_H_

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "server/core/mutex.h"

namespace jobgroup {

class AdaptiveLimit {
 public:
  struct Options {
    // Bounds of the limit, in jobs in flight; the limit starts at max_limit.
    uint64_t min_limit = 1;
    uint64_t max_limit = 1'000'000;
    // Queueing delays under it count as it (see the top of the file).
    absl::Duration delay_floor = absl::Milliseconds(1);
    // How many times its long-term value the short-term delay may be
    // before the limit falls.
    double tolerance = 2.0;
    // The short-term window, and the time constant of the long-term delay.
    absl::Duration interval = absl::Milliseconds(50);
    absl::Duration baseline_window = absl::Seconds(10);
    // The share of each step's new limit taken (1: all of it at once).
    double smoothing = 0.2;
  };

  explicit AdaptiveLimit(Options options);
  AdaptiveLimit(const AdaptiveLimit&) = delete;
  AdaptiveLimit& operator=(const AdaptiveLimit&) = delete;

  // AdaptiveLimit::Admits()
  //
  // True when a new call may be admitted with `in_use` jobs in flight: when
  // `in_use` is under the limit. Lock-free.
  bool Admits(uint64_t in_use) const {
    return in_use < limit_.load(std::memory_order_relaxed);
  }

  // AdaptiveLimit::Observe()
  //
  // One admitted call's sample, taken at `now` (CallGate: when the call's
  // first job ends): `delay`, the time that job waited to start, and
  // `in_use`, the jobs in flight then. Calls none of whose jobs started
  // (refused, cancelled before) have no sample and must not be observed. May
  // update the limit (once every `interval` at most). `now` must not go
  // backwards by much: a sample older than the current window counts in it.
  void Observe(absl::Duration delay, uint64_t in_use, absl::Time now);

  // The current limit, in jobs. Lock-free.
  uint64_t limit() const { return limit_.load(std::memory_order_relaxed); }
  // The short- and long-term delays of the last update, for metrics (before
  // the first: zero, and the floor).
  absl::Duration short_term() const;
  absl::Duration long_term() const;

  const Options& options() const { return options_; }

 private:
  // Closes the window ending at `now`: new estimates, new limit.
  void Update(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  std::atomic<uint64_t> limit_;

  mutable Mutex mu_;  // The core's: ThreadSanitizer sees it (mutex.h).
  // The limit before rounding, so that small steps add up.
  double estimate_ ABSL_GUARDED_BY(mu_);
  absl::Time window_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  double window_sum_ ABSL_GUARDED_BY(mu_) = 0;  // Seconds.
  uint64_t window_samples_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t window_peak_in_use_ ABSL_GUARDED_BY(mu_) = 0;
  // Seconds; 0 before the first update.
  double short_ ABSL_GUARDED_BY(mu_) = 0;
  double long_ ABSL_GUARDED_BY(mu_);  // Starts at the floor: no queue.
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_ADAPTIVE_LIMIT_H_

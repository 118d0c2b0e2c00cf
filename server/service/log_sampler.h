// LogSampler: bounds how many lines of one kind (call_finished) the server
// writes per second under heavy load, and counts the ones it left out, so
// that the next line written can say how many calls went unlogged.
//
// At most `per_second` lines are admitted in any one-second window (a
// fixed window starting at the first line of the window); 0 admits every
// line. The caller passes the time, so tests drive it with their own clock.
//
// Thread-safe.
#ifndef JOBGROUP_SERVER_SERVICE_LOG_SAMPLER_H_
#define JOBGROUP_SERVER_SERVICE_LOG_SAMPLER_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "server/core/mutex.h"

namespace jobgroup {

class LogSampler {
 public:
  explicit LogSampler(uint64_t per_second) : per_second_(per_second) {}
  LogSampler(const LogSampler&) = delete;
  LogSampler& operator=(const LogSampler&) = delete;

  // LogSampler::Admit()
  //
  // True when a line at `now` may be written. Then `*skipped_before` is the
  // number of lines refused since the last admitted one (0 usually). A
  // refused line is counted for the next admitted one.
  bool Admit(absl::Time now, uint64_t* skipped_before);

  uint64_t per_second() const { return per_second_; }

 private:
  const uint64_t per_second_;
  Mutex mu_;
  absl::Time window_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t in_window_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t skipped_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_LOG_SAMPLER_H_

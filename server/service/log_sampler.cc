#include "server/service/log_sampler.h"

namespace jobgroup {

bool LogSampler::Admit(absl::Time now, uint64_t* skipped_before) {
  *skipped_before = 0;
  if (per_second_ == 0) return true;
  MutexLock lock(&mu_);
  if (now - window_start_ >= absl::Seconds(1)) {
    window_start_ = now;
    in_window_ = 0;
  }
  if (in_window_ >= per_second_) {
    ++skipped_;
    return false;
  }
  ++in_window_;
  *skipped_before = skipped_;
  skipped_ = 0;
  return true;
}

}  // namespace jobgroup

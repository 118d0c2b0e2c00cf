// AdmissionLimit: a non-blocking cap on a count the whole server holds: the
// jobs in flight (a call reserves its window when it is accepted and gives
// it back when it ends), and under the service's names, the bytes of
// parsed requests (MemoryBudget) and the streams open (StreamLimit). What
// does not fit is refused at once, never queued.
//
// Thread-safe and lock-free.
#ifndef JOBGROUP_SERVER_CORE_ADMISSION_H_
#define JOBGROUP_SERVER_CORE_ADMISSION_H_

#include <atomic>
#include <cstdint>

namespace jobgroup {

class AdmissionLimit {
 public:
  explicit AdmissionLimit(uint64_t limit) : limit_(limit) {}
  AdmissionLimit(const AdmissionLimit&) = delete;
  AdmissionLimit& operator=(const AdmissionLimit&) = delete;

  // AdmissionLimit::TryAcquire()
  //
  // Reserves `n` when they fit under the limit; otherwise reserves nothing
  // and returns false.
  bool TryAcquire(uint64_t n) {
    uint64_t cur = used_.load(std::memory_order_relaxed);
    do {
      if (n > limit_ || cur > limit_ - n) return false;
    } while (
        !used_.compare_exchange_weak(cur, cur + n, std::memory_order_acq_rel));
    return true;
  }

  // AdmissionLimit::Release()
  //
  // Gives back `n` reserved by TryAcquire().
  void Release(uint64_t n) { used_.fetch_sub(n, std::memory_order_acq_rel); }

  // AdmissionLimit::Add()
  //
  // Counts `n` that is held already, whether or not it fits: used() may
  // then be over the limit, and TryAcquire() refuses until enough is given
  // back (Release()).
  void Add(uint64_t n) { used_.fetch_add(n, std::memory_order_acq_rel); }

  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_ADMISSION_H_

// Mutex, MutexLock and CondVar: std::mutex and std::condition_variable with
// Abseil's thread-safety annotations.
//
// Why not absl::Mutex: Debian's Abseil is built without ThreadSanitizer, so
// TSan cannot see its synchronization and reports races that are not there.
// TSan intercepts pthreads, on which these are built, so the core's tests
// run clean under it, while ABSL_GUARDED_BY still checks locking at compile
// time (clang -Wthread-safety).
//
// Thread-safe, as the std types they wrap.
#ifndef JOBGROUP_SERVER_CORE_MUTEX_H_
#define JOBGROUP_SERVER_CORE_MUTEX_H_

#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace jobgroup {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

class CondVar {
 public:
  // CondVar::Wait()
  //
  // Atomically releases `mu` (held by the caller) and waits for a signal;
  // holds `mu` again on return. Spurious wake-ups happen: re-check.
  void Wait(Mutex* mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }

  // CondVar::WaitWithDeadline()
  //
  // As Wait(), until `deadline` at the latest. Returns true on timeout.
  bool WaitWithDeadline(Mutex* mu, absl::Time deadline) {
    if (deadline == absl::InfiniteFuture()) {
      Wait(mu);
      return false;
    }
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    bool timeout = cv_.wait_until(lock, absl::ToChronoTime(deadline)) ==
                   std::cv_status::timeout;
    lock.release();
    return timeout;
  }

  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_MUTEX_H_

// Notification: a one-shot event that threads can wait for, built on the
// core's Mutex so that ThreadSanitizer sees the happens-before it gives:
// everything before Notify() is visible to a waiter that returns true.
//
// Thread-safe. Notify() must be called at most once.
#ifndef JOBGROUP_SERVER_CORE_NOTIFICATION_H_
#define JOBGROUP_SERVER_CORE_NOTIFICATION_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/core/mutex.h"

namespace jobgroup {

class Notification {
 public:
  Notification() = default;
  Notification(const Notification&) = delete;
  Notification& operator=(const Notification&) = delete;

  void Notify() {
    MutexLock lock(&mu_);
    notified_ = true;
    cv_.SignalAll();
  }
  bool HasBeenNotified() {
    MutexLock lock(&mu_);
    return notified_;
  }
  void WaitForNotification() {
    MutexLock lock(&mu_);
    while (!notified_) cv_.Wait(&mu_);
  }
  // Returns true when notified within `timeout`.
  bool WaitForNotificationWithTimeout(absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    MutexLock lock(&mu_);
    while (!notified_) {
      if (cv_.WaitWithDeadline(&mu_, deadline) && !notified_) return false;
    }
    return true;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_NOTIFICATION_H_

// Implementation of CancellationSignal.
#include "server/core/cancellation.h"

#include <utility>

namespace jobgroup {

bool CancellationSignal::Cancel(absl::Status reason) {
  if (reason.ok()) reason = absl::CancelledError("cancelled");
  Entries to_run;
  {
    MutexLock lock(&mu_);
    if (cancelled_.load(std::memory_order_relaxed)) return false;
    reason_ = reason;
    cancelled_.store(true, std::memory_order_release);
    to_run.swap(callbacks_);
  }
  for (Entry& e : to_run) e.fn(reason);
  return true;
}

absl::Status CancellationSignal::reason() const {
  MutexLock lock(&mu_);
  return reason_;
}

CancellationSignal::CallbackId CancellationSignal::OnCancel(Callback fn) {
  absl::Status reason;
  {
    MutexLock lock(&mu_);
    if (!cancelled_.load(std::memory_order_relaxed)) {
      CallbackId id = next_id_++;
      callbacks_.push_back(Entry{id, std::move(fn)});
      return id;
    }
    reason = reason_;
  }
  fn(reason);
  return 0;
}

void CancellationSignal::Clear() {
  Entries dropped;  // Destroyed outside the lock.
  MutexLock lock(&mu_);
  dropped.swap(callbacks_);
}

bool CancellationSignal::Remove(CallbackId id) {
  MutexLock lock(&mu_);
  for (auto it = callbacks_.begin(); it != callbacks_.end(); ++it) {
    if (it->id == id) {
      callbacks_.erase(it);
      return true;
    }
  }
  return false;
}

}  // namespace jobgroup

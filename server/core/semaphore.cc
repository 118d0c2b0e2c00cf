// Implementation of Semaphore.
#include "server/core/semaphore.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/time/clock.h"

namespace jobgroup {

Semaphore::Semaphore(std::string name, int64_t capacity)
    : name_(std::move(name)), capacity_(std::max<int64_t>(capacity, 1)) {}

Semaphore::WaiterId Semaphore::AcquireOrWait(Callback on_acquired) {
  MutexLock lock(&mu_);
  if (waiters_.empty() && in_use_ < capacity_) {
    ++in_use_;
    peak_in_use_ = std::max(peak_in_use_, in_use_);
    return 0;
  }
  WaiterId id = next_id_++;
  waiters_.emplace(id, Waiter{std::move(on_acquired), absl::Now()});
  return id;
}

bool Semaphore::TryAcquire() {
  MutexLock lock(&mu_);
  if (!waiters_.empty() || in_use_ >= capacity_) return false;
  ++in_use_;
  peak_in_use_ = std::max(peak_in_use_, in_use_);
  return true;
}

bool Semaphore::CancelWait(WaiterId id) {
  MutexLock lock(&mu_);
  return waiters_.erase(id) > 0;
}

void Semaphore::Release() {
  // A waiter's callback may release a permit itself (a job cancelled while
  // its permit was on the way gives it back), which would hand it to the
  // next waiter inside this call, and so on: with many waiters cancelled at
  // once that recursion overflows the stack. Releases made inside a
  // callback are queued here and run by the outermost Release() instead.
  thread_local std::vector<Semaphore*>* pending = nullptr;
  if (pending != nullptr) {
    pending->push_back(this);
    return;
  }
  std::vector<Semaphore*> queue = {this};
  pending = &queue;
  while (!queue.empty()) {
    Semaphore* s = queue.back();
    queue.pop_back();
    s->ReleaseOne();
  }
  pending = nullptr;
}

void Semaphore::ReleaseOne() {
  Waiter next;
  {
    MutexLock lock(&mu_);
    if (waiters_.empty()) {
      --in_use_;
      return;
    }
    // The permit passes to the oldest waiter; in_use_ stays the same.
    auto it = waiters_.begin();
    next = std::move(it->second);
    waiters_.erase(it);
  }
  next.fn(absl::Now() - next.since);
}

int64_t Semaphore::in_use() const {
  MutexLock lock(&mu_);
  return in_use_;
}

int64_t Semaphore::waiting() const {
  MutexLock lock(&mu_);
  return static_cast<int64_t>(waiters_.size());
}

int64_t Semaphore::peak_in_use() const {
  MutexLock lock(&mu_);
  return peak_in_use_;
}

absl::Duration Semaphore::oldest_wait(absl::Time now) const {
  MutexLock lock(&mu_);
  if (waiters_.empty()) return absl::ZeroDuration();
  return std::max(absl::ZeroDuration(), now - waiters_.begin()->second.since);
}

}  // namespace jobgroup

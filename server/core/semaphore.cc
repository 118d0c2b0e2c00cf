// Implementation of Semaphore.
#include "server/core/semaphore.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/time/clock.h"

namespace jobgroup {

Semaphore::Semaphore(std::string name, int64_t capacity)
    : name_(std::move(name)), capacity_(std::max<int64_t>(capacity, 1)) {}

Semaphore::WaiterId Semaphore::AcquireOrWait(Callback on_acquired,
                                             const void* owner) {
  MutexLock lock(&mu_);
  if (waiters_.empty() && in_use_ < capacity_) {
    ++in_use_;
    peak_in_use_ = std::max(peak_in_use_, in_use_);
    return 0;
  }
  WaiterId id = next_id_++;
  waiters_.emplace(id, Waiter{std::move(on_acquired), absl::Now(), owner});
  if (owner != nullptr) ++waiting_by_owner_[owner];
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
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return false;
  Uncount(it->second);
  waiters_.erase(it);
  return true;
}

void Semaphore::Uncount(const Waiter& w) {
  if (w.owner == nullptr) return;
  auto it = waiting_by_owner_.find(w.owner);
  if (--it->second == 0) waiting_by_owner_.erase(it);
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
    Uncount(it->second);
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

absl::flat_hash_map<const void*, int64_t> Semaphore::WaitingByOwner() const {
  MutexLock lock(&mu_);
  return waiting_by_owner_;
}

}  // namespace jobgroup

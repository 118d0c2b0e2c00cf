// BoundedQueue<T>: a multi-producer, multi-consumer FIFO with a fixed
// capacity and Close(), feeding the worker consumers.
//
// Producers never block: Push() fails when the queue is full, and
// PushOrPark() parks the item in an overflow line instead, holding no thread;
// each Pop() that frees a slot moves the oldest parked item in, so parked
// items enter in arrival order before any later push. Consumers block in
// Pop() while the queue is empty and open.
//
// Close(): later pushes fail; consumers still get every item already
// accepted (queued or parked), then Pop() returns std::nullopt. That is how
// consumers stop — no sentinel values.
//
// Thread-safe.
#ifndef JOBGROUP_SERVER_CORE_BOUNDED_QUEUE_H_
#define JOBGROUP_SERVER_CORE_BOUNDED_QUEUE_H_

#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "server/core/mutex.h"

namespace jobgroup {

template <typename T>
class BoundedQueue {
 public:
  enum class PushResult { kOk, kParked, kFull, kClosed };

  explicit BoundedQueue(size_t capacity) : capacity_(capacity ? capacity : 1) {}
  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  // BoundedQueue::Push()
  //
  // Adds `item` when there is room and nothing is parked: kOk. Otherwise
  // kFull or kClosed, and `item` is left untouched.
  PushResult Push(T& item) {
    MutexLock lock(&mu_);
    if (closed_) return PushResult::kClosed;
    if (items_.size() >= capacity_ || !parked_.empty())
      return PushResult::kFull;
    items_.push_back(std::move(item));
    NotifyLocked();
    return PushResult::kOk;
  }

  // BoundedQueue::PushOrPark()
  //
  // Adds `item` (kOk), or parks it behind earlier parked items until a slot
  // frees (kParked). kClosed leaves `item` untouched.
  PushResult PushOrPark(T& item) {
    MutexLock lock(&mu_);
    if (closed_) return PushResult::kClosed;
    if (items_.size() < capacity_ && parked_.empty()) {
      items_.push_back(std::move(item));
      NotifyLocked();
      return PushResult::kOk;
    }
    parked_.push_back(std::move(item));
    return PushResult::kParked;
  }

  // BoundedQueue::Pop()
  //
  // Blocks while the queue is empty and open. Returns std::nullopt once it
  // is closed and drained.
  std::optional<T> Pop() { return PopUntil(absl::InfiniteFuture()); }

  // BoundedQueue::PopUntil()
  //
  // As Pop(), waiting until `deadline` at the latest: std::nullopt also
  // when it passes with the queue still empty (closed() tells the two
  // apart).
  std::optional<T> PopUntil(absl::Time deadline) {
    MutexLock lock(&mu_);
    while (items_.empty() && !closed_) {
      ++idle_consumers_;
      bool timed_out = not_empty_.WaitWithDeadline(&mu_, deadline);
      --idle_consumers_;
      if (timed_out) break;
    }
    return PopLocked();
  }

  // BoundedQueue::TryPop()
  //
  // Never blocks; std::nullopt when empty.
  std::optional<T> TryPop() {
    MutexLock lock(&mu_);
    return PopLocked();
  }

  // BoundedQueue::Close()
  //
  // Refuses further pushes and wakes every consumer. Idempotent.
  void Close() {
    MutexLock lock(&mu_);
    closed_ = true;
    not_empty_.SignalAll();
  }

  size_t capacity() const { return capacity_; }
  size_t size() const {
    MutexLock lock(&mu_);
    return items_.size();
  }
  size_t parked() const {
    MutexLock lock(&mu_);
    return parked_.size();
  }
  bool closed() const {
    MutexLock lock(&mu_);
    return closed_;
  }

 private:
  void NotifyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (idle_consumers_ > 0) not_empty_.Signal();
  }

  std::optional<T> PopLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (items_.empty()) {
      // Closed: parked items are still owed to consumers.
      if (parked_.empty()) return std::nullopt;
      T item = std::move(parked_.front());
      parked_.pop_front();
      return item;
    }
    T item = std::move(items_.front());
    items_.pop_front();
    if (!parked_.empty()) {
      items_.push_back(std::move(parked_.front()));
      parked_.pop_front();
    }
    return item;
  }

  const size_t capacity_;
  mutable Mutex mu_;
  CondVar not_empty_;
  std::deque<T> items_ ABSL_GUARDED_BY(mu_);
  std::deque<T> parked_ ABSL_GUARDED_BY(mu_);
  int idle_consumers_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_BOUNDED_QUEUE_H_

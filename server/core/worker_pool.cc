#include "server/core/worker_pool.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/time/clock.h"

namespace jobgroup {
namespace {

int64_t MonotonicNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

WorkerPool::WorkerPool(size_t workers, size_t queue_capacity,
                       SpareThreads spares)
    : workers_(std::max<size_t>(workers, 1)),
      spares_(spares),
      max_spares_(spares.long_after == absl::InfiniteDuration() ? 0
                  : spares.max_spares == 0                      ? workers_
                                           : spares.max_spares),
      queue_(queue_capacity),
      slots_(new Slot[workers_ + max_spares_]) {
  MutexLock lock(&mu_);
  threads_.resize(workers_ + max_spares_);
  alive_.store(workers_);
  for (size_t i = 0; i < workers_; ++i) {
    threads_[i] = std::thread([this, i] { Run(i, /*spare=*/false); });
  }
  if (max_spares_ > 0) watcher_ = std::thread([this] { Watch(); });
}

WorkerPool::~WorkerPool() { Shutdown(); }

bool WorkerPool::Submit(Task task) {
  return queue_.PushOrPark(task) != BoundedQueue<Task>::PushResult::kClosed;
}

void WorkerPool::Shutdown() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    watcher_wake_.SignalAll();
  }
  // The watcher first: once it is gone no spare starts.
  if (watcher_.joinable()) watcher_.join();
  queue_.Close();
  std::vector<std::thread> threads;
  {
    MutexLock lock(&mu_);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) {
    if (t.joinable()) t.join();
  }
}

size_t WorkerPool::long_tasks() const { return LongTasksAt(MonotonicNs()); }

size_t WorkerPool::LongTasksAt(int64_t now_ns) const {
  if (max_spares_ == 0) return 0;
  const int64_t limit = absl::ToInt64Nanoseconds(spares_.long_after);
  size_t n = 0;
  for (size_t i = 0; i < workers_ + max_spares_; ++i) {
    int64_t started = slots_[i].task_started_ns.load(std::memory_order_relaxed);
    if (started != 0 && now_ns - started > limit) ++n;
  }
  return n;
}

void WorkerPool::Run(size_t slot, bool spare) {
  Slot& mine = slots_[slot];
  // A spare waits this long for work before it retires anyway.
  const absl::Duration idle_limit =
      spare ? spares_.long_after * 100 : absl::InfiniteDuration();
  while (true) {
    std::optional<Task> task =
        spare ? queue_.PopUntil(absl::Now() + idle_limit) : queue_.Pop();
    if (!task.has_value()) {
      if (queue_.closed()) break;
      if (RetireSpare()) break;  // Idle: not needed.
      continue;
    }
    busy_.fetch_add(1, std::memory_order_relaxed);
    mine.task_started_ns.store(MonotonicNs(), std::memory_order_relaxed);
    (*task)();
    mine.task_started_ns.store(0, std::memory_order_relaxed);
    busy_.fetch_sub(1, std::memory_order_relaxed);
    if (spare && RetireSpare()) break;
  }
  if (!spare) return;
  MutexLock lock(&mu_);
  retired_.push_back(slot);
  watcher_wake_.Signal();
}

bool WorkerPool::RetireSpare() {
  size_t alive = alive_.load();
  // Retire while the threads free of long tasks would still be workers_.
  while (alive - LongTasksAt(MonotonicNs()) > workers_) {
    if (alive_.compare_exchange_weak(alive, alive - 1)) return true;
  }
  return false;
}

void WorkerPool::Watch() {
  const absl::Duration tick = spares_.long_after / 2;
  MutexLock lock(&mu_);
  while (!stopping_) {
    watcher_wake_.WaitWithDeadline(&mu_, absl::Now() + tick);
    if (stopping_) break;
    for (size_t slot : retired_) {
      if (threads_[slot].joinable()) threads_[slot].join();
    }
    retired_.clear();
    // Threads free of long tasks, short of workers_: start spares in free
    // slots, as many as are missing and allowed.
    size_t alive = alive_.load();
    size_t held = LongTasksAt(MonotonicNs());
    for (size_t slot = workers_; slot < workers_ + max_spares_ &&
                                 alive - std::min(held, alive) < workers_;
         ++slot) {
      if (threads_[slot].joinable()) continue;  // A spare runs there.
      alive_.fetch_add(1);
      ++alive;
      slots_[slot].task_started_ns.store(0, std::memory_order_relaxed);
      threads_[slot] = std::thread([this, slot] { Run(slot, /*spare=*/true); });
    }
  }
}

}  // namespace jobgroup

// Implementation of TimerService: a min-heap with lazy deletion.
#include "server/core/timer_service.h"

#include <utility>

#include "absl/time/clock.h"

namespace jobgroup {

TimerService::TimerService() : thread_([this] { Loop(); }) {}

TimerService::~TimerService() { Shutdown(); }

TimerService::TimerId TimerService::Schedule(absl::Time when, Callback fn) {
  MutexLock lock(&mu_);
  if (stopping_) return 0;
  TimerId id = next_id_++;
  heap_.push(HeapEntry{when, id});
  callbacks_.emplace(id, Pending{when, std::move(fn)});
  if (when < sleeping_until_) wake_.Signal();
  return id;
}

bool TimerService::Cancel(TimerId id) {
  MutexLock lock(&mu_);
  // The heap entry stays; Loop() skips ids that have no callback.
  bool removed = callbacks_.erase(id) > 0;
  if (removed && heap_.size() > 1024 && heap_.size() > 2 * callbacks_.size()) {
    CompactLocked();
  }
  return removed;
}

void TimerService::CompactLocked() {
  std::vector<HeapEntry> live;
  live.reserve(callbacks_.size());
  for (const auto& [id, p] : callbacks_) live.push_back(HeapEntry{p.when, id});
  heap_ = decltype(heap_)(std::greater<HeapEntry>(), std::move(live));
}

size_t TimerService::pending() const {
  MutexLock lock(&mu_);
  return callbacks_.size();
}

void TimerService::Shutdown() {
  {
    MutexLock lock(&mu_);
    if (stopping_) {
      if (!thread_.joinable()) return;
    }
    stopping_ = true;
    wake_.Signal();
  }
  if (thread_.joinable()) thread_.join();
  MutexLock lock(&mu_);
  callbacks_.clear();
  heap_ = {};
}

void TimerService::Loop() {
  std::vector<Callback> due;
  MutexLock lock(&mu_);
  while (!stopping_) {
    absl::Time now = absl::Now();
    while (!heap_.empty() && heap_.top().when <= now) {
      auto it = callbacks_.find(heap_.top().id);
      heap_.pop();
      if (it == callbacks_.end()) continue;  // cancelled
      due.push_back(std::move(it->second.fn));
      callbacks_.erase(it);
      if (due.size() >= 256) break;  // keep Schedule() latency bounded
    }
    if (!due.empty()) {
      mu_.Unlock();
      for (Callback& fn : due) fn();
      due.clear();
      mu_.Lock();
      continue;
    }
    // Drop cancelled entries at the top so we do not wake for them.
    while (!heap_.empty() && !callbacks_.contains(heap_.top().id)) heap_.pop();
    if (!heap_.empty() && heap_.top().when <= absl::Now()) continue;
    sleeping_until_ = heap_.empty() ? absl::InfiniteFuture() : heap_.top().when;
    wake_.WaitWithDeadline(&mu_, sleeping_until_);
    sleeping_until_ = absl::InfinitePast();
  }
}

}  // namespace jobgroup

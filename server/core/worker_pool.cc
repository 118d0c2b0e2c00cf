// Implementation of WorkerPool.
#include "server/core/worker_pool.h"

#include <utility>

namespace jobgroup {

WorkerPool::WorkerPool(size_t workers, size_t queue_capacity)
    : queue_(queue_capacity) {
  if (workers == 0) workers = 1;
  threads_.reserve(workers);
  for (size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { Run(); });
}

WorkerPool::~WorkerPool() { Shutdown(); }

bool WorkerPool::Submit(Task task) {
  return queue_.PushOrPark(task) != BoundedQueue<Task>::PushResult::kClosed;
}

void WorkerPool::Shutdown() {
  queue_.Close();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void WorkerPool::Run() {
  while (std::optional<Task> task = queue_.Pop()) {
    busy_.fetch_add(1, std::memory_order_relaxed);
    (*task)();
    busy_.fetch_sub(1, std::memory_order_relaxed);
  }
}

}  // namespace jobgroup

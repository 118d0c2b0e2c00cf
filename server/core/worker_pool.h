// WorkerPool: a fixed set of threads consuming a BoundedQueue of tasks.
//
// Workers are the only threads that run handler code. Their number is fixed
// at construction and never grows with the number of jobs or calls. Tasks
// are submitted with Submit(), which never blocks: when the queue is full the
// task is parked (no thread waits) and enters the queue as slots free.
//
// Thread-safe. Shutdown() closes the queue; workers finish every task already
// accepted, then exit, and Shutdown() joins them.
#ifndef JOBGROUP_SERVER_CORE_WORKER_POOL_H_
#define JOBGROUP_SERVER_CORE_WORKER_POOL_H_

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "server/core/bounded_queue.h"

namespace jobgroup {

class WorkerPool {
 public:
  using Task = absl::AnyInvocable<void()>;

  WorkerPool(size_t workers, size_t queue_capacity);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // WorkerPool::Submit()
  //
  // Queues `task` (parking it when the queue is full). Returns false, with
  // `task` not run, once the pool is shut down.
  bool Submit(Task task);

  // WorkerPool::Shutdown()
  //
  // Closes the queue, lets workers drain it and joins them. Idempotent; must
  // not be called from a worker.
  void Shutdown();

  size_t workers() const { return threads_.size(); }
  size_t busy() const { return busy_.load(std::memory_order_relaxed); }
  // Tasks in the queue now, and tasks parked behind it (submitted while it
  // was full), apart: a full queue with thousands parked is not the same
  // load as a full queue.
  size_t queue_depth() const { return queue_.size(); }
  size_t queue_parked() const { return queue_.parked(); }
  size_t queue_capacity() const { return queue_.capacity(); }

 private:
  void Run();

  BoundedQueue<Task> queue_;
  std::atomic<size_t> busy_{0};
  std::vector<std::thread> threads_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_WORKER_POOL_H_

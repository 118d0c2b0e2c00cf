// WorkerPool: a set of threads consuming a BoundedQueue of tasks.
//
// Workers are the only threads that run handler code. Their number is set
// at construction and never grows with the number of jobs or calls. Tasks
// are submitted with Submit(), which never blocks: when the queue is full the
// task is parked (no thread waits) and enters the queue as slots free.
//
// Long tasks (SpareThreads): a handler that runs long (a compute job of 1e8
// rounds, a kind that blocks) would hold its worker for as long as it runs,
// and a few of them would leave every other call's jobs queued behind
// them. With spare threads enabled, a worker whose task has run longer than
// `long_after` stops counting as a worker: the pool starts a spare thread
// in its place, so that `workers` threads are always free of long tasks,
// up to `max_spares` spares at once. A spare retires once it is not needed
// (the long task ended and a task of its own ended, or it waited idle for
// 100 x long_after). The OS shares the cores between the long tasks and the
// others, so a short job waits microseconds behind a long one, not its
// whole run. Off by default (tests of the queue's order want a fixed set).
//
// Thread-safe. Shutdown() closes the queue; workers finish every task already
// accepted, then exit, and Shutdown() joins them.
#ifndef JOBGROUP_SERVER_CORE_WORKER_POOL_H_
#define JOBGROUP_SERVER_CORE_WORKER_POOL_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "server/core/bounded_queue.h"
#include "server/core/mutex.h"

namespace jobgroup {

// When and how far a WorkerPool replaces workers held by long tasks.
struct SpareThreads {
  // A task running longer than this is long. Infinite: never (no spares).
  absl::Duration long_after = absl::InfiniteDuration();
  // Spare threads at most at once (0: as many as there are workers).
  size_t max_spares = 0;
};

class WorkerPool {
 public:
  using Task = absl::AnyInvocable<void()>;

  WorkerPool(size_t workers, size_t queue_capacity, SpareThreads spares = {});
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

  // The workers asked for (spares not counted).
  size_t workers() const { return workers_; }
  size_t busy() const { return busy_.load(std::memory_order_relaxed); }
  // Threads running now, spares included (workers() when there are none).
  size_t threads() const { return alive_.load(std::memory_order_relaxed); }
  // Tasks running longer than SpareThreads::long_after now.
  size_t long_tasks() const;
  // Tasks in the queue now, and tasks parked behind it (submitted while it
  // was full), apart: a full queue with thousands parked is not the same
  // load as a full queue.
  size_t queue_depth() const { return queue_.size(); }
  size_t queue_parked() const { return queue_.parked(); }
  size_t queue_capacity() const { return queue_.capacity(); }

 private:
  // What one thread is doing: the monotonic time its task started, in
  // nanoseconds (0 while it waits for one).
  struct Slot {
    std::atomic<int64_t> task_started_ns{0};
  };

  // The loop of thread `slot`; a spare returns when it retires.
  void Run(size_t slot, bool spare);
  // A spare thread's check after a task or an idle wait: true (and the
  // thread counted out) when the others suffice.
  bool RetireSpare();
  // The watcher: starts spares while long tasks hold workers.
  void Watch();
  size_t LongTasksAt(int64_t now_ns) const;

  const size_t workers_;
  const SpareThreads spares_;
  const size_t max_spares_;
  BoundedQueue<Task> queue_;
  std::atomic<size_t> busy_{0};
  std::atomic<size_t> alive_{0};
  // workers_ + max_spares_ slots: the first workers_ are the workers'.
  std::unique_ptr<Slot[]> slots_;

  Mutex mu_;
  CondVar watcher_wake_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Threads by slot; a spare's slot is free when its thread is empty.
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  // Spares that retired, to be joined by the watcher.
  std::vector<size_t> retired_ ABSL_GUARDED_BY(mu_);
  std::thread watcher_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_WORKER_POOL_H_

// TimerService: runs callbacks at given times on one dedicated thread, so that
// waiting for time never holds a thread per waiter (a sleeping job, a
// deadline, a retry backoff all park here as an entry in a heap).
//
// Thread-safe: any thread may Schedule() and Cancel(). Callbacks run on the
// timer thread, in due-time order, without the service's lock held; they must
// be short and must not block (they hand work elsewhere). A callback may
// Schedule() or Cancel() other timers.
//
// Shutdown(): stops the thread; timers not yet due are dropped without
// running. The destructor calls Shutdown().
#ifndef JOBGROUP_SERVER_CORE_TIMER_SERVICE_H_
#define JOBGROUP_SERVER_CORE_TIMER_SERVICE_H_

#include <cstdint>
#include <queue>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/core/mutex.h"

namespace jobgroup {

class TimerService {
 public:
  using TimerId = uint64_t;  // Never 0.
  using Callback = absl::AnyInvocable<void()>;

  TimerService();
  ~TimerService();
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;

  // TimerService::Schedule()
  //
  // Runs `fn` on the timer thread at `when` (at once if `when` is past).
  // Returns an id for Cancel(). After Shutdown(), `fn` is dropped and 0 is
  // returned.
  TimerId Schedule(absl::Time when, Callback fn);
  TimerId ScheduleAfter(absl::Duration delay, Callback fn) {
    return Schedule(absl::Now() + delay, std::move(fn));
  }

  // TimerService::Cancel()
  //
  // Returns true when the timer was removed before it ran (its callback will
  // never run); false when it already ran, is running or is unknown.
  bool Cancel(TimerId id);

  // TimerService::Shutdown()
  //
  // Stops the timer thread and drops pending timers. Idempotent. Must not be
  // called from a timer callback.
  void Shutdown();

  // Timers scheduled and not yet run or cancelled.
  size_t pending() const;

 private:
  struct HeapEntry {
    absl::Time when;
    TimerId id;
    bool operator>(const HeapEntry& o) const {
      return when != o.when ? when > o.when : id > o.id;
    }
  };
  void Loop();

  mutable Mutex mu_;
  std::priority_queue<HeapEntry, std::vector<HeapEntry>,
                      std::greater<HeapEntry>>
      heap_ ABSL_GUARDED_BY(mu_);
  struct Pending {
    absl::Time when;
    Callback fn;
  };
  // Cancelled timers leave their heap entry behind; when stale entries
  // outnumber live ones the heap is rebuilt, so memory follows live timers.
  void CompactLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::flat_hash_map<TimerId, Pending> callbacks_ ABSL_GUARDED_BY(mu_);
  TimerId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The due time the timer thread sleeps until; lets Schedule() wake it only
  // when a new timer is earlier.
  absl::Time sleeping_until_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  CondVar wake_;
  std::thread thread_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_TIMER_SERVICE_H_

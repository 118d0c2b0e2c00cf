// Semaphore: a counting semaphore for a backend resource whose waiters hold
// no thread and are served first come, first served.
//
// A caller asks for a permit with AcquireOrWait(). When a permit is free and
// nobody is waiting, the caller gets it at once. Otherwise its callback is
// queued and runs later, with the permit already held, on the thread whose
// Release() freed it: a released permit passes straight to the oldest waiter,
// so a newcomer can never take it ahead of the queue (no barging).
//
// A waiter may name its owner (an opaque pointer, e.g. the call's scope), so
// that an operator can see which call waits on which backend
// (WaitingByOwner()).
//
// Thread-safe. Callbacks run without the semaphore's lock held and must not
// block. At no instant are more than capacity() permits held.
#ifndef JOBGROUP_SERVER_CORE_SEMAPHORE_H_
#define JOBGROUP_SERVER_CORE_SEMAPHORE_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "server/core/mutex.h"

namespace jobgroup {

class Semaphore {
 public:
  using WaiterId = uint64_t;  // Never 0.
  // Runs once the permit is held; `waited` is how long the waiter queued.
  using Callback = absl::AnyInvocable<void(absl::Duration waited)>;

  // `capacity` must be > 0.
  Semaphore(std::string name, int64_t capacity);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  // Semaphore::AcquireOrWait()
  //
  // Returns 0 when the permit was taken at once (`on_acquired` is dropped
  // unrun). Otherwise queues `on_acquired` and returns its waiter id;
  // `on_acquired` runs later on a releasing thread with the permit held,
  // unless CancelWait() removes it first. A queued waiter counts for
  // `owner` (may be null: counted for nobody) until it leaves the queue.
  WaiterId AcquireOrWait(Callback on_acquired, const void* owner = nullptr);

  // Semaphore::TryAcquire()
  //
  // Takes a permit when one is free and nobody waits; never queues.
  bool TryAcquire();

  // Semaphore::CancelWait()
  //
  // Removes a queued waiter. Returns true when it was removed before it got
  // the permit (its callback never runs); false when it already got it (its
  // callback has run or is about to, and the caller owns a permit).
  bool CancelWait(WaiterId id);

  // Semaphore::Release()
  //
  // Returns one permit: hands it to the oldest waiter (running its callback
  // on this thread) or makes it free. A Release() made from inside a
  // waiter's callback is carried out when that callback returns, so chains
  // of hand-offs never nest on the stack.
  void Release();

  const std::string& name() const { return name_; }
  int64_t capacity() const { return capacity_; }
  int64_t in_use() const;
  int64_t waiting() const;
  // Most permits ever held at once; tests use it to prove the cap.
  int64_t peak_in_use() const;
  // How long the oldest waiter has waited by `now`; zero with none.
  absl::Duration oldest_wait(absl::Time now) const;
  // Queued waiters by owner, for the owners that have any (null owners are
  // left out). A copy: costs one entry per owner waiting, not per waiter.
  absl::flat_hash_map<const void*, int64_t> WaitingByOwner() const;

 private:
  struct Waiter {
    Callback fn;
    absl::Time since;
    const void* owner = nullptr;
  };
  void ReleaseOne();
  // Takes `w` out of waiting_by_owner_.
  void Uncount(const Waiter& w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const std::string name_;
  const int64_t capacity_;
  mutable Mutex mu_;
  int64_t in_use_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t peak_in_use_ ABSL_GUARDED_BY(mu_) = 0;
  WaiterId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  // Ordered by id, which grows with arrival: begin() is the oldest waiter.
  std::map<WaiterId, Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<const void*, int64_t> waiting_by_owner_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_SEMAPHORE_H_

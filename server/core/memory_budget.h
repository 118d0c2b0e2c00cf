// MemoryBudget: the bytes jobgroupd lets calls hold (3/4 of
// --memory_budget_bytes): parsed requests, the jobs a stream has read, and
// the outputs of jobs whose results have not been sent.
//
// Requests come in through TryReserve(): one is refused before it is parsed
// when its estimated parsed size (RequestShape::ParsedBytesAtMost()) does
// not fit what is left, so a request of any shape within the per-call
// limits cannot take the server past the budget, however its bytes amplify
// once parsed. What jobs make (outputs) is already held when it is counted:
// Hold() never refuses, and may take the budget past its limit; requests are
// then refused and streams stop reading (WhenReleased()) until enough is
// given back.
//
// Thread-safe: every method may be called from any thread at once. Release()
// costs one atomic operation unless a stream is waiting.
#ifndef JOBGROUP_SERVER_CORE_MEMORY_BUDGET_H_
#define JOBGROUP_SERVER_CORE_MEMORY_BUDGET_H_

#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "server/core/admission.h"

namespace jobgroup {

class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit) : bytes_(limit) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // MemoryBudget::TryReserve()
  //
  // Reserves `bytes` if they fit under the limit with what is held now;
  // false (and nothing reserved) otherwise. Never blocks.
  bool TryReserve(uint64_t bytes) { return bytes_.TryAcquire(bytes); }

  // MemoryBudget::Hold()
  //
  // Counts `bytes` the server holds already (a job's output). Never
  // refused: used() may be over limit() afterwards.
  void Hold(uint64_t bytes) { bytes_.Add(bytes); }

  // MemoryBudget::Release()
  //
  // Gives back `bytes` of an earlier TryReserve() or Hold(), and runs the
  // callbacks waiting for bytes (WhenReleased()).
  void Release(uint64_t bytes) {
    bytes_.Release(bytes);
    if (waiting_.load(std::memory_order_acquire) > 0) RunWaiters();
  }

  // MemoryBudget::WhenReleased()
  //
  // Runs `wake` once, on the thread of the next Release(), unless
  // CancelWait() takes it back first; a budget is destroyed with no
  // callback waiting. Returns the id
  // CancelWait() takes. `wake` must not block; it runs with no lock held.
  // A caller that found no room must look again after WhenReleased()
  // (a Release() in between runs no callback of its) and CancelWait() if
  // there is room now.
  uint64_t WhenReleased(absl::AnyInvocable<void() &&> wake);

  // MemoryBudget::CancelWait()
  //
  // Takes back the WhenReleased() callback `id` if it has not run: true
  // when it was taken back (it will never run), false when it has run or is
  // running.
  bool CancelWait(uint64_t id);

  uint64_t limit() const { return bytes_.limit(); }
  uint64_t used() const { return bytes_.used(); }

 private:
  void RunWaiters();

  AdmissionLimit bytes_;         // The server's one kind of non-blocking cap.
  std::atomic<int> waiting_{0};  // waiters_.size(), read without the lock.
  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<std::pair<uint64_t, absl::AnyInvocable<void() &&>>> waiters_
      ABSL_GUARDED_BY(mu_);
};

// DefaultMemoryBudgetBytes()
//
// --memory_budget_bytes when it is not given: three quarters of the memory
// the process may use, which is the smallest of the cgroup's memory limit
// (cgroup v2 memory.max, v1 memory.limit_in_bytes), the address-space limit
// (RLIMIT_AS) and half the physical memory.
uint64_t DefaultMemoryBudgetBytes();

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_MEMORY_BUDGET_H_

// MemoryBudget: the bytes jobgroupd lets requests hold (--memory_budget_bytes)
// and the reservations calls take from it before they parse a request.
//
// A request is refused before it is parsed when its estimated parsed size
// (RequestShape::ParsedBytesAtMost()) does not fit what is left: a request of
// any shape within the per-call limits then cannot take the server past the
// budget, however its bytes amplify once parsed. TryReserve() never blocks;
// a reservation is given back by Release() when the call is done with the
// request.
//
// Thread-safe: every method may be called from any thread at once.
#ifndef JOBGROUP_SERVER_SERVICE_MEMORY_BUDGET_H_
#define JOBGROUP_SERVER_SERVICE_MEMORY_BUDGET_H_

#include <cstdint>

#include "server/core/admission.h"

namespace jobgroup {

class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit) : bytes_(limit) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // MemoryBudget::TryReserve()
  //
  // Reserves `bytes` if they fit under the limit with what is reserved now;
  // false (and nothing reserved) otherwise. Never blocks.
  bool TryReserve(uint64_t bytes) { return bytes_.TryAcquire(bytes); }

  // MemoryBudget::Release()
  //
  // Gives back `bytes` of an earlier successful TryReserve().
  void Release(uint64_t bytes) { bytes_.Release(bytes); }

  uint64_t limit() const { return bytes_.limit(); }
  uint64_t used() const { return bytes_.used(); }

 private:
  AdmissionLimit bytes_;  // The server's one kind of non-blocking cap.
};

// DefaultMemoryBudgetBytes()
//
// --memory_budget_bytes when it is not given: three quarters of the memory
// the process may use, which is the smallest of the cgroup's memory limit
// (cgroup v2 memory.max, v1 memory.limit_in_bytes), the address-space limit
// (RLIMIT_AS) and half the physical memory.
uint64_t DefaultMemoryBudgetBytes();

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_MEMORY_BUDGET_H_

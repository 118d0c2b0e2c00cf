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

#include <atomic>
#include <cstdint>

namespace jobgroup {

class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit) : limit_(limit) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // MemoryBudget::TryReserve()
  //
  // Reserves `bytes` if they fit under the limit with what is reserved now;
  // false (and nothing reserved) otherwise. Never blocks.
  bool TryReserve(uint64_t bytes);

  // MemoryBudget::Release()
  //
  // Gives back `bytes` of an earlier successful TryReserve().
  void Release(uint64_t bytes) {
    used_.fetch_sub(bytes, std::memory_order_relaxed);
  }

  uint64_t limit() const { return limit_; }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
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

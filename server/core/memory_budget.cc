// MemoryBudget's waiters, and DefaultMemoryBudgetBytes(): the default budget,
// from the limits the process runs under.
#include "server/core/memory_budget.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace jobgroup {
namespace {

// The number in the one-line file at `path` ("max" and errors: none).
uint64_t LimitInFile(const char* path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return 0;
  uint64_t v = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &v)) return 0;
  return v;
}

}  // namespace

uint64_t MemoryBudget::WhenReleased(absl::AnyInvocable<void() &&> wake) {
  absl::MutexLock lock(&mu_);
  uint64_t id = next_id_++;
  waiters_.emplace_back(id, std::move(wake));
  waiting_.store(static_cast<int>(waiters_.size()), std::memory_order_release);
  return id;
}

bool MemoryBudget::CancelWait(uint64_t id) {
  absl::MutexLock lock(&mu_);
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    if (it->first != id) continue;
    waiters_.erase(it);
    waiting_.store(static_cast<int>(waiters_.size()),
                   std::memory_order_release);
    return true;
  }
  return false;
}

void MemoryBudget::RunWaiters() {
  std::vector<std::pair<uint64_t, absl::AnyInvocable<void() &&>>> run;
  {
    absl::MutexLock lock(&mu_);
    run.swap(waiters_);
    waiting_.store(0, std::memory_order_release);
  }
  // Each callback may wait again (WhenReleased()): the lock is not held.
  for (auto& [id, wake] : run) std::move(wake)();
}

uint64_t DefaultMemoryBudgetBytes() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page_size = sysconf(_SC_PAGESIZE);
  uint64_t physical =
      pages > 0 && page_size > 0
          ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size)
          : uint64_t{4} << 30;
  uint64_t usable = physical / 2;
  // cgroup v1 says "no limit" with a huge number: anything over the
  // physical memory is no limit.
  for (const char* path : {"/sys/fs/cgroup/memory.max",
                           "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    uint64_t limit = LimitInFile(path);
    if (limit > 0 && limit < physical) usable = std::min(usable, limit);
  }
  struct rlimit as;
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    // Address space is spent on more than the heap (thread stacks, one
    // malloc arena per core reserved whole, the code): count half of it.
    usable = std::min<uint64_t>(usable, as.rlim_cur / 2);
  }
  return usable / 4 * 3;
}

}  // namespace jobgroup

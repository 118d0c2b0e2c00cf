#include "server/core/outcome_ledger.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace jobgroup {
namespace {

std::atomic<uint64_t> duplicate_outcomes{0};
std::atomic<uint64_t> lost_outcomes{0};
std::atomic<bool> errors_fatal{false};

void LifecycleError(std::atomic<uint64_t>& counter, const char* what,
                    uint64_t index) {
  counter.fetch_add(1, std::memory_order_relaxed);
  if (errors_fatal.load(std::memory_order_relaxed)) {
    fprintf(stderr, "lifecycle error: job %llu %s\n",
            static_cast<unsigned long long>(index), what);
    abort();
  }
}

}  // namespace

LifecycleErrors GetLifecycleErrors() {
  return {duplicate_outcomes.load(std::memory_order_relaxed),
          lost_outcomes.load(std::memory_order_relaxed)};
}

void SetLifecycleErrorsFatal(bool fatal) { errors_fatal.store(fatal); }

void OutcomeLedger::Extend(uint64_t n) {
  if (n <= size_) return;
  size_ = n;
  settled_.resize((n + 63) / 64, 0);
}

bool OutcomeLedger::Settle(uint64_t index, JobOutcome outcome) {
  if (index >= size_) {
    LifecycleError(duplicate_outcomes, "has an outcome but was never taken",
                   index);
    return false;
  }
  uint64_t& word = settled_[index / 64];
  const uint64_t bit = uint64_t{1} << (index % 64);
  if ((word & bit) != 0) {
    LifecycleError(duplicate_outcomes, "has a second outcome", index);
    return false;
  }
  word |= bit;
  summary_.Add(outcome);
  return true;
}

std::vector<uint64_t> OutcomeLedger::TakeLost() {
  std::vector<uint64_t> lost;
  if (full()) return lost;
  for (uint64_t i = 0; i < size_; ++i) {
    if ((settled_[i / 64] & (uint64_t{1} << (i % 64))) == 0) {
      LifecycleError(lost_outcomes, "has no outcome at the end of its call", i);
      lost.push_back(i);
    }
  }
  return lost;
}

}  // namespace jobgroup

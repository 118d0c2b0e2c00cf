// Implementation of ThreadShards, and the per-thread shard index that
// every instance shares.
#include "server/service/thread_shards.h"

#include <bit>

#include "absl/base/thread_annotations.h"
#include "server/core/mutex.h"

namespace jobgroup {
namespace {

constexpr size_t kCacheLine = 64;
constexpr size_t kCellsPerLine = kCacheLine / sizeof(std::atomic<uint64_t>);
using thread_shards_internal::kUnassigned;
using thread_shards_internal::t_shard;
constexpr int kOverflow = ThreadShards::kShards;

// Which shard indexes live threads hold.
class ShardIndexes {
 public:
  // The lowest free index, or kOverflow when all are held.
  int Take() {
    MutexLock lock(&mu_);
    if (held_ == ~uint64_t{0}) return kOverflow;
    int index = std::countr_one(held_);
    held_ |= uint64_t{1} << index;
    return index;
  }
  void Give(int index) {
    MutexLock lock(&mu_);
    held_ &= ~(uint64_t{1} << index);
  }

 private:
  Mutex mu_;
  uint64_t held_ ABSL_GUARDED_BY(mu_) = 0;  // Bit i: index i is held.
};
static_assert(ThreadShards::kShards == 64, "ShardIndexes holds 64 bits");

// Never destroyed: threads may exit (and give their index back) during
// static destruction.
ShardIndexes& Indexes() {
  static ShardIndexes* const indexes = new ShardIndexes;
  return *indexes;
}

// Gives the thread's index back when the thread exits. The mutex in Give()
// and Take() orders this thread's last writes to the shard before the
// first reads of the next thread to take the index.
struct ShardReturner {
  ~ShardReturner() {
    if (t_shard >= 0 && t_shard < kOverflow) Indexes().Give(t_shard);
    // Adds made later during this thread's exit go to the overflow shard.
    t_shard = kOverflow;
  }
};

}  // namespace

namespace thread_shards_internal {

// Constant-initialized and trivially destructible: reading it costs one TLS
// load, and it stays valid while the thread's other thread_locals are
// destroyed.
constinit thread_local int t_shard = kUnassigned;

int TakeShard() {
  thread_local ShardReturner returner;  // Its destructor runs at exit.
  t_shard = Indexes().Take();
  return t_shard;
}

}  // namespace thread_shards_internal

ThreadShards::ThreadShards(size_t cells)
    : cells_(cells),
      stride_(cells == 0 ? kCellsPerLine
                         : (cells + kCellsPerLine - 1) / kCellsPerLine *
                               kCellsPerLine),
      // One line more than needed, so that the shards can start on a line.
      storage_(new std::atomic<uint64_t>[stride_ * (kShards + 1) +
                                         kCellsPerLine]()) {
  uintptr_t at = reinterpret_cast<uintptr_t>(storage_.get());
  size_t skip = (kCacheLine - at % kCacheLine) % kCacheLine;
  base_ = storage_.get() + skip / sizeof(std::atomic<uint64_t>);
}

void ThreadShards::AddDoubleShared(std::atomic<uint64_t>& cell, double v) {
  uint64_t old = cell.load(std::memory_order_relaxed);
  while (!cell.compare_exchange_weak(
      old, std::bit_cast<uint64_t>(std::bit_cast<double>(old) + v),
      std::memory_order_relaxed)) {
  }
}

uint64_t ThreadShards::Sum(size_t cell) const {
  uint64_t sum = 0;
  for (int s = 0; s <= kShards; ++s) {
    sum += Cell(s, cell).load(std::memory_order_relaxed);
  }
  return sum;
}

double ThreadShards::SumDouble(size_t cell) const {
  double sum = 0;
  for (int s = 0; s <= kShards; ++s) {
    sum += std::bit_cast<double>(Cell(s, cell).load(std::memory_order_relaxed));
  }
  return sum;
}

bool ThreadShards::ThisThreadHasOwnShard() {
  return ThisThreadShard() != kOverflow;
}

}  // namespace jobgroup

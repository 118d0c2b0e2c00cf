// ThreadShards: 64-bit cells that many threads add to without sharing a
// cache line. Each thread adds to its own shard; readers sum the shards.
// The storage under ShardedCounter and ShardedHistogram.
//
// A thread takes a shard index the first time it adds to any ThreadShards
// (the index is per thread and shared by every instance), and gives it back
// when it exits. Its counts stay in the shard: the next thread to take that
// index adds on top of them, so nothing is lost and nothing grows when
// threads come and go. At most kShards threads hold an index of their own at
// once; any further thread adds to one overflow shard that they all share.
//
// Cost: on its own shard, an Add() is a relaxed load and store on a cache
// line that only this thread writes (no lock, no read-modify-write); on the
// overflow shard it is an atomic read-modify-write. Memory: (kShards + 1)
// shards of `cells` cells each, each shard rounded up to whole cache lines.
//
// Thread-safe. A Sum() sees every Add() that happened-before it; Add()s
// running at the same time may show in it or not, and a Sum() of several
// cells is not a snapshot of them all at one instant. Each cell's sum only
// grows (when only non-negative values are added).
#ifndef JOBGROUP_SERVER_SERVICE_THREAD_SHARDS_H_
#define JOBGROUP_SERVER_SERVICE_THREAD_SHARDS_H_

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/base/optimization.h"

namespace jobgroup {
namespace thread_shards_internal {
inline constexpr int kUnassigned = -1;
// The calling thread's shard index: kUnassigned until its first Add(),
// ThreadShards::kShards for the overflow shard.
extern constinit thread_local int t_shard;
// Gives the calling thread an index (the slow path of its first Add()).
int TakeShard();
}  // namespace thread_shards_internal

class ThreadShards {
 public:
  // Shards held by one thread each; the overflow shard is one more.
  static constexpr int kShards = 64;

  // `cells` cells per shard, all zero.
  explicit ThreadShards(size_t cells);
  ThreadShards(const ThreadShards&) = delete;
  ThreadShards& operator=(const ThreadShards&) = delete;

  // ThreadShards::Add()
  //
  // Adds `n` to cell `cell` (< cells()) of the calling thread's shard.
  void Add(size_t cell, uint64_t n) {
    int shard = ThisThreadShard();
    std::atomic<uint64_t>& c = Cell(shard, cell);
    if (ABSL_PREDICT_TRUE(shard != kShards)) {
      // Only this thread writes this shard: no read-modify-write needed.
      c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    } else {
      c.fetch_add(n, std::memory_order_relaxed);
    }
  }

  // ThreadShards::AddDouble()
  //
  // As Add(), for a cell that holds a double (its bits); such a cell must
  // only be used through AddDouble() and SumDouble().
  void AddDouble(size_t cell, double v) {
    int shard = ThisThreadShard();
    std::atomic<uint64_t>& c = Cell(shard, cell);
    if (ABSL_PREDICT_TRUE(shard != kShards)) {
      c.store(std::bit_cast<uint64_t>(
                  std::bit_cast<double>(c.load(std::memory_order_relaxed)) + v),
              std::memory_order_relaxed);
    } else {
      AddDoubleShared(c, v);
    }
  }

  // ThreadShards::Sum()
  //
  // Cell `cell` summed over every shard (wrapping modulo 2^64).
  uint64_t Sum(size_t cell) const;
  // ThreadShards::SumDouble()
  //
  // As Sum(), for a cell of doubles.
  double SumDouble(size_t cell) const;

  size_t cells() const { return cells_; }

  // ThreadShards::ThisThreadHasOwnShard()
  //
  // Whether the calling thread writes a shard of its own (false when it
  // writes the overflow shard). Takes an index if it has none yet. For
  // tests.
  static bool ThisThreadHasOwnShard();

 private:
  static int ThisThreadShard() {
    int shard = thread_shards_internal::t_shard;
    if (ABSL_PREDICT_FALSE(shard == thread_shards_internal::kUnassigned)) {
      shard = thread_shards_internal::TakeShard();
    }
    return shard;
  }
  static void AddDoubleShared(std::atomic<uint64_t>& cell, double v);
  std::atomic<uint64_t>& Cell(int shard, size_t cell) const {
    return base_[static_cast<size_t>(shard) * stride_ + cell];
  }

  const size_t cells_;
  const size_t stride_;  // Cells from one shard to the next: whole lines.
  std::unique_ptr<std::atomic<uint64_t>[]> storage_;
  std::atomic<uint64_t>* base_;  // In storage_, on a cache line boundary.
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_THREAD_SHARDS_H_

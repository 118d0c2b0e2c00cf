// KindStats: what the executor learns about a kind by running it, kept
// apart from the kind itself (job_kind.h is the API users implement; this
// is the scheduler's own bookkeeping). One figure today: how long one
// handler call of the kind typically takes, which decides whether a lease
// of it fits in one time slice (Lease::Cheap()), so whether a call's jobs
// are split over the workers and whether a trip may run on the caller's
// thread (CallerRuns).
//
// KindStatsTable holds one KindStats per kind, made the first time the
// kind is asked for; a KindStats lives as long as its table.
//
// Thread-safe. A KindStats is a relaxed atomic: a hint, read and written
// by many leases at once, never a lock.
#ifndef JOBGROUP_SERVER_CORE_KIND_STATS_H_
#define JOBGROUP_SERVER_CORE_KIND_STATS_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "server/core/job_kind.h"
#include "server/core/mutex.h"

namespace jobgroup {

class KindStats {
 public:
  KindStats() = default;
  KindStats(const KindStats&) = delete;
  KindStats& operator=(const KindStats&) = delete;

  // A running average of one handler call's time, in nanoseconds; 0 until
  // a run of the kind was measured.
  int64_t typical_run_ns() const {
    return typical_run_ns_.load(std::memory_order_relaxed);
  }
  // For tests: sets what runs would have measured.
  void set_typical_run_ns(int64_t ns) {
    typical_run_ns_.store(ns, std::memory_order_relaxed);
  }
  // KindStats::RecordRuns()
  //
  // After `jobs` (> 0) handler calls, one after another, took `elapsed`.
  void RecordRuns(absl::Duration elapsed, size_t jobs) {
    set_typical_run_ns(NextTypicalRunNs(typical_run_ns(), elapsed, jobs));
  }

  // The average after `jobs` (> 0) calls in `elapsed`: their mean, weighed
  // 1/4 against `old_ns` (0 when nothing is known yet: then the mean
  // alone). A pure function, for tests to feed samples.
  static int64_t NextTypicalRunNs(int64_t old_ns, absl::Duration elapsed,
                                  size_t jobs) {
    int64_t mean =
        absl::ToInt64Nanoseconds(elapsed) / static_cast<int64_t>(jobs);
    return old_ns == 0 ? mean : (3 * old_ns + mean) / 4;
  }

 private:
  std::atomic<int64_t> typical_run_ns_{0};
};

class KindStatsTable {
 public:
  KindStatsTable() = default;
  KindStatsTable(const KindStatsTable&) = delete;
  KindStatsTable& operator=(const KindStatsTable&) = delete;

  // KindStatsTable::For()
  //
  // The statistics of `kind`, made empty the first time it is asked for.
  // Takes a lock: callers ask once per lease or per block of jobs, not per
  // job.
  KindStats& For(const JobKind& kind) {
    MutexLock lock(&mu_);
    std::unique_ptr<KindStats>& stats = stats_[&kind];
    if (stats == nullptr) stats = std::make_unique<KindStats>();
    return *stats;
  }

 private:
  Mutex mu_;
  absl::flat_hash_map<const JobKind*, std::unique_ptr<KindStats>> stats_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_KIND_STATS_H_

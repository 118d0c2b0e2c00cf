// OutcomeLedger: one slot per job of a call, each settled exactly once, and
// the call's tally of outcomes.
//
// The owner of a call (its TaskGroup) records every outcome here before the
// result goes anywhere. A second outcome for one job, or an outcome for a
// job the call never took, is a bug of the lifecycle: Settle() refuses it,
// so no client ever sees two, and it is counted process-wide
// (LifecycleErrors(), exported on /metrics). A job left without an outcome
// when everything else says the call is over is the other bug: TakeLost()
// finds it, so the owner can still give it one. Tests make either bug
// fatal (SetLifecycleErrorsFatal).
//
// Thread-compatible: the owner holds its lock around every call. The
// process-wide counters are atomic.
#ifndef JOBGROUP_SERVER_CORE_OUTCOME_LEDGER_H_
#define JOBGROUP_SERVER_CORE_OUTCOME_LEDGER_H_

#include <cstdint>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "server/core/job.h"

namespace jobgroup {

// Bugs of the lifecycle seen by every ledger of the process.
struct LifecycleErrors {
  uint64_t duplicate_outcomes = 0;  // Refused second outcomes.
  uint64_t lost_outcomes = 0;       // Jobs found without one at the end.
};
LifecycleErrors GetLifecycleErrors();
// When true, a lifecycle error aborts the process (tests set it).
void SetLifecycleErrorsFatal(bool fatal);

class OutcomeLedger {
 public:
  OutcomeLedger() = default;
  OutcomeLedger(const OutcomeLedger&) = delete;
  OutcomeLedger& operator=(const OutcomeLedger&) = delete;

  // OutcomeLedger::Extend()
  //
  // The call now has `n` jobs (n >= size()): jobs [size(), n) get empty
  // slots.
  void Extend(uint64_t n);

  // OutcomeLedger::Settle()
  //
  // Records job `index`'s outcome and tallies it: true the first time.
  // False for a job that has one already or that the call never took:
  // the outcome is dropped and counted as a lifecycle error.
  bool Settle(uint64_t index, JobOutcome outcome);

  // OutcomeLedger::TakeLost()
  //
  // The jobs without an outcome, in index order, for the end of a call,
  // where there should be none: each one found is counted as lost. The
  // owner then settles each.
  std::vector<uint64_t> TakeLost();

  uint64_t size() const { return size_; }
  // Every job has its outcome.
  bool full() const { return summary_.total == size_; }
  // The tally so far (total and counts by outcome).
  const BatchSummary& summary() const { return summary_; }

 private:
  // Bit i of word i / 64: job i has its outcome. Inline for calls of up
  // to 128 jobs: no allocation for small calls.
  absl::InlinedVector<uint64_t, 2> settled_;
  uint64_t size_ = 0;
  BatchSummary summary_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_OUTCOME_LEDGER_H_

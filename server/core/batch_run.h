// BatchRun: runs the jobs of one call — in rounds of batch_size, each round
// one TaskGroup, with at most max_concurrency jobs of the call in flight (a
// sliding window) — and hands every job's one result to a ResultSink.
//
// Jobs come from a JobSource: all known up front (RunBatch, StreamBatch) or
// appended as they arrive (Process) until CloseInput(). A job is made into
// its JobSpec only when it is about to start, so a call holds no more than
// its window in memory beyond the request itself.
//
// The window counts jobs running plus results the sink has not consumed
// yet, so a slow reader stops the call from starting more jobs. When the
// call is cancelled (deadline, fail-fast, client, drain) jobs not yet
// started never start: each gets the cancellation's outcome at once, and so
// does every job added after the cancellation.
//
// The run ends (OnDone()) exactly when its input is closed and every job it
// took has its one result: never before CloseInput(), however early it is
// cancelled (a deadline already past at Create() included). Every outcome
// is recorded in the run's OutcomeLedger before it is delivered: a second
// outcome for a job never reaches the sink, and a job found without one
// at the end gets one (both bugs, counted by the ledger).
//
// Thread-safe. The sink is called from any thread, concurrently for
// OnResult(), never under BatchRun's lock; OnDone() comes once, after every
// other call to the sink has returned.
#ifndef JOBGROUP_SERVER_CORE_BATCH_RUN_H_
#define JOBGROUP_SERVER_CORE_BATCH_RUN_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/core/executor.h"
#include "server/core/job.h"
#include "server/core/job_task.h"
#include "server/core/mutex.h"
#include "server/core/outcome_ledger.h"
#include "server/core/task_group.h"

namespace jobgroup {

class ResultSink {
 public:
  virtual ~ResultSink() = default;
  // ResultSink::OnResult()
  //
  // One job's result. Returns true when consumed at once; false when the
  // sink keeps it (e.g. until a stream writes it) and will call
  // BatchRun::Ack() for it later. Must not block.
  virtual bool OnResult(JobResult result) = 0;
  // ResultSink::OnCancelled()
  //
  // The run was cancelled (`why` is the first cancellation): once, from
  // any thread, after the results the cancellation settled at once and
  // before OnDone(). The run still takes every job added until
  // CloseInput(), each with the cancellation's outcome at once; a caller
  // that reads its input as it comes and ends the call at a cancellation
  // calls CloseInput() here (it may, from inside). Must not block. By
  // default nothing.
  virtual void OnCancelled(const Cancellation& why) {}
  // ResultSink::OnDone()
  //
  // Every job has its result; the last call the sink gets.
  virtual void OnDone(const BatchSummary& summary) = 0;
};

// Makes the JobSpec of the job at `index` (0-based, in arrival order).
using JobFactory =
    std::function<std::shared_ptr<const JobSpec>(uint64_t index)>;

class BatchRun : public std::enable_shared_from_this<BatchRun> {
 public:
  struct Options {
    uint32_t batch_size = 0;       // 0: one round.
    uint32_t max_concurrency = 0;  // 0: no window beyond batch_size.
    FailurePolicy policy = FailurePolicy::kFailFast;
    FallbackMode fallback_mode = FallbackMode::kSequential;
    RetryPolicy retry;
    absl::Time deadline = absl::InfiniteFuture();
    JobTaskObserver* task_observer = nullptr;
  };

  // `executor` and `sink` must outlive the run (until OnDone returns).
  static std::shared_ptr<BatchRun> Create(Executor* executor, Options options,
                                          ResultSink* sink);

  // BatchRun::AddJobs()
  //
  // Takes `count` more jobs; each gets exactly one result. The first call's
  // `factory` (not null) builds every job of the run when it starts, those
  // of later calls too (a later call's `factory` is not used and may be
  // null). After a cancellation the jobs are still taken, each settled at
  // once with the cancellation's outcome. Returns true; false only when
  // called after CloseInput() (a caller's bug), taking none.
  bool AddJobs(uint64_t count, JobFactory factory);

  // BatchRun::CloseInput()
  //
  // No more jobs will be added; the run ends when the last result is in
  // (at once when every job already has one). Idempotent.
  void CloseInput();

  // BatchRun::Cancel()
  //
  // Cancels the call for `cause` (not kNone): unfinished jobs end with the
  // cause's outcome (DEADLINE_EXCEEDED for kDeadline, CANCELLED otherwise)
  // and `why` as their error (OK: the cause's standard status). Only the
  // first cancellation (from here, the deadline or fail-fast) counts; the
  // summary reports its cause.
  void Cancel(CancelCause cause, absl::Status why = absl::OkStatus());
  // As above, with the cause that `why` stands for
  // (Cancellation::FromStatus: kDeadline for DEADLINE_EXCEEDED, else
  // kClient). Prefer the typed form.
  void Cancel(absl::Status why);

  // BatchRun::Ack()
  //
  // The sink consumed `n` results it had kept; frees their window slots.
  void Ack(uint64_t n);

  // Jobs added but not yet started.
  uint64_t pending() const;
  // What a live view shows of the run: the jobs added, those not yet
  // started, the outcomes so far (the ledger's tally) and why the run was
  // cancelled (kNone: it was not). Costs the jobs nothing: it reads what
  // the run keeps anyway, under its lock.
  struct Progress {
    uint64_t added = 0;
    uint64_t pending = 0;
    BatchSummary done;
    CancelCause cancel_cause = CancelCause::kNone;
    // The owner its jobs' permit requests name now (Semaphore's
    // WaitingByOwner()): the current round's scope; null between rounds.
    const void* wait_owner = nullptr;
  };
  Progress progress() const;
  // Jobs running plus results not yet consumed.
  uint64_t in_window() const;
  // The window size: jobs running plus unconsumed results at most.
  uint64_t window() const { return window_; }

  BatchRun(Executor* executor, Options options, ResultSink* sink);
  BatchRun(const BatchRun&) = delete;
  BatchRun& operator=(const BatchRun&) = delete;

 private:
  // Starts what the window and round allow; closes finished rounds.
  void Pump();
  void OnOutcomes(absl::Span<JobResult> results);
  // How many jobs of a costly synchronous kind go in one run when `left`
  // are ready: enough runs for every worker to get two.
  uint64_t RunSizeFor(uint64_t left) const;
  // Spawns jobs [first, first + count) into `group`: runs of consecutive
  // plain jobs as one Executor lease each (of at most `split` synchronous
  // jobs unless the kind is quick), the others as a JobTask each.
  void SpawnBlock(TaskGroup& group, const JobFactory& factory, uint64_t first,
                  uint64_t count, uint64_t split);
  void CancelWith(Cancellation why);
  // Calls the sink's OnCancelled(), then ends the delivery counted for it.
  void TellCancelled(const Cancellation& why);
  void OnGroupCancelled(const Cancellation& why);
  void OnRoundDone();
  // Settles every job not started yet with `why`'s outcome.
  void SettlePending(const Cancellation& why);
  // Emits results decided outside any group, then checks for the end.
  void Emit(std::vector<JobResult> results);
  void MaybeFinish();
  // Closes the current round once nothing more will be spawned into it.
  void CloseRoundIfDue();

  Executor* const executor_;
  const Options options_;
  ResultSink* const sink_;
  const uint64_t window_;
  const absl::Time started_;

  mutable Mutex mu_;
  // The first AddJobs()'s factory; set once, then shared with the spawns
  // (taken under mu_, called outside it).
  std::shared_ptr<const JobFactory> factory_ ABSL_GUARDED_BY(mu_);
  uint64_t added_ ABSL_GUARDED_BY(mu_) = 0;  // Jobs made available.
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 0;   // Next index to start.
  bool input_closed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t running_ ABSL_GUARDED_BY(mu_) = 0;     // Spawned, no outcome.
  uint64_t unacked_ ABSL_GUARDED_BY(mu_) = 0;     // Results not consumed.
  uint64_t spawning_ ABSL_GUARDED_BY(mu_) = 0;    // Spawn() calls under way.
  uint64_t delivering_ ABSL_GUARDED_BY(mu_) = 0;  // Sink calls under way.
  std::shared_ptr<TaskGroup> group_ ABSL_GUARDED_BY(mu_);
  uint64_t round_end_ ABSL_GUARDED_BY(mu_) = 0;  // First index after round.
  bool round_closed_ ABSL_GUARDED_BY(mu_) = false;
  Cancellation cancelled_ ABSL_GUARDED_BY(mu_);
  // Every job's one outcome, and their tally.
  OutcomeLedger ledger_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  TimerService::TimerId deadline_timer_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_BATCH_RUN_H_

// TaskGroup: the jobs of one call, from the first AddJobs() to OnDone(): a
// structured-concurrency scope in the manner of Python's asyncio.TaskGroup,
// that runs them in rounds of batch_size (rounds are phases of the group:
// a round starts once every job of the one before has its result), with at
// most max_concurrency jobs in flight (a sliding window), and hands every
// job's one result to a ResultSink.
//
// Jobs come from a JobFactory: all known up front (RunBatch, StreamBatch)
// or appended as they arrive (Process) until CloseInput(). A job is made
// into its JobSpec only when it is about to start, so a call holds no more
// than its window in memory beyond the request itself.
//
// The group hands its jobs to the Executor as Leases, the only code that
// runs them: consecutive plain jobs of one kind and backend share one (up
// to Lease::kMaxJobs); a job with a timeout, fallbacks or retries goes one
// attempt at a time (a lease of one, Executor::Start()) and has attempt
// state in the group; plain jobs carry none. After an attempt, the group
// does what attempt_plan.h's decisions say:
//
//  - Retries: failed attempts are retried, up to RetryPolicy's
//    max_attempts per candidate (the primary or one fallback), after a
//    backoff that parks on the timer (no thread) and never runs past the
//    deadline. An attempt that runs out of the job's own timeout is a
//    failed attempt (unless RetryPolicy::timeout_ends_job).
//  - Fallbacks: tried only when the primary fails for good (not when it is
//    cancelled or the call runs out of time). SEQUENTIAL tries them in
//    order; RACE starts them all at once, the first success wins and the
//    others are cancelled.
//  - A job that fails for good is FAILED, or DEADLINE_EXCEEDED when its
//    last attempt timed out; its error lists each candidate's last error.
//    The result says which candidate served (served_by) and counts every
//    attempt.
//
//  - The window counts jobs running plus results the sink has not consumed
//    yet, so a slow reader stops the call from starting more jobs.
//  - The deadline: one timer for the call, armed by Create(); it covers
//    time between rounds and idle input too. Nothing starts at or past it.
//  - FAIL_FAST: the first FAILED job cancels the call. COLLECT_ALL:
//    failures are reported one by one and the rest go on.
//  - A cancellation (deadline, fail-fast, client, drain) settles every job
//    without a result in one pass, those running and those not started
//    yet, with its outcome (DEADLINE_EXCEEDED for the deadline, CANCELLED
//    otherwise), then tells the live leases to stop. Jobs added after it are
//    settled the same way at once.
//
// The group ends (OnDone()) exactly when its input is closed and every job
// it took has its one result: never before CloseInput(), however early it
// is cancelled (a deadline already past at Create() included). Every
// outcome is recorded in the group's OutcomeLedger before it is delivered:
// a second outcome for a job never reaches the sink, and a job found
// without one at the end gets one (both bugs, counted by the ledger).
//
// Thread-safe. The sink is called from any thread, concurrently for
// OnResult(), never under the group's lock; OnDone() comes once, after
// every other call to the sink has returned.
#ifndef JOBGROUP_SERVER_CORE_TASK_GROUP_H_
#define JOBGROUP_SERVER_CORE_TASK_GROUP_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/core/attempt_plan.h"
#include "server/core/cancellation.h"
#include "server/core/executor.h"
#include "server/core/job.h"
#include "server/core/mutex.h"
#include "server/core/outcome_ledger.h"

namespace jobgroup {

// Receives per-job attempt events, e.g. for metrics. Thread-safe; must not
// block (it is called under the group's lock).
class AttemptObserver {
 public:
  virtual ~AttemptObserver() = default;
  virtual void OnRetry(const JobSpec& job) {}
  virtual void OnFallbackServed(const JobSpec& primary, uint32_t served_by) {}
};

class ResultSink {
 public:
  virtual ~ResultSink() = default;
  // ResultSink::OnResult()
  //
  // One job's result. Returns true when consumed at once; false when the
  // sink keeps it (e.g. until a stream writes it) and will call
  // TaskGroup::Ack() for it later. Must not block.
  virtual bool OnResult(JobResult result) = 0;
  // ResultSink::OnResults()
  //
  // Results that arrived together, in place (each may be moved from), as
  // OnResult() for each (the default); returns how many were consumed at
  // once. A sink overrides it to do once per batch what it would
  // otherwise do per result.
  virtual uint64_t OnResults(absl::Span<JobResult> results) {
    uint64_t consumed = 0;
    for (JobResult& r : results) {
      if (OnResult(std::move(r))) ++consumed;
    }
    return consumed;
  }
  // ResultSink::OnCancelled()
  //
  // The call was cancelled (`why` is the first cancellation): once, from
  // any thread, after the results the cancellation settled at once and
  // before OnDone(). The group still takes every job added until
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

class TaskGroup : public std::enable_shared_from_this<TaskGroup> {
 public:
  struct Options {
    uint32_t batch_size = 0;       // 0: one round.
    uint32_t max_concurrency = 0;  // 0: no window beyond batch_size.
    FailurePolicy policy = FailurePolicy::kFailFast;
    FallbackMode fallback_mode = FallbackMode::kSequential;
    RetryPolicy retry;
    absl::Time deadline = absl::InfiniteFuture();
    AttemptObserver* attempt_observer = nullptr;
  };

  // `executor` and `sink` must outlive the group (until OnDone returns).
  static std::shared_ptr<TaskGroup> Create(Executor* executor, Options options,
                                           ResultSink* sink);

  // TaskGroup::AddJobs()
  //
  // Takes `count` more jobs; each gets exactly one result. The first call's
  // `factory` (not null) builds every job of the call when it starts, those
  // of later calls too (a later call's `factory` is not used and may be
  // null). After a cancellation the jobs are still taken, each settled at
  // once with the cancellation's outcome. Returns true; false only when
  // called after CloseInput() (a caller's bug), taking none.
  bool AddJobs(uint64_t count, JobFactory factory);

  // TaskGroup::CloseInput()
  //
  // No more jobs will be added; the group ends when the last result is in
  // (at once when every job already has one). Idempotent.
  void CloseInput();

  // TaskGroup::Cancel()
  //
  // Cancels the call for `cause` (not kNone): unfinished jobs end with the
  // cause's outcome (DEADLINE_EXCEEDED for kDeadline, CANCELLED otherwise)
  // and `why` as their error (OK: the cause's standard status). Only the
  // first cancellation (from here, the deadline or fail-fast) counts, and
  // none once the group is done; the summary reports its cause. Returns
  // once the results it settled are delivered.
  void Cancel(CancelCause cause, absl::Status why = absl::OkStatus());
  // As above, with the cause that `why` stands for
  // (Cancellation::FromStatus: kDeadline for DEADLINE_EXCEEDED, else
  // kClient). Prefer the typed form.
  void Cancel(absl::Status why);

  // TaskGroup::Ack()
  //
  // The sink consumed `n` results it had kept; frees their window slots.
  void Ack(uint64_t n);

  // Jobs added but not yet started.
  uint64_t pending() const;
  // What a live view shows of the call: the jobs added, those not yet
  // started, the outcomes so far (the ledger's tally) and why the call was
  // cancelled (kNone: it was not). Costs the jobs nothing: it reads what
  // the group keeps anyway, under its lock.
  struct Progress {
    uint64_t added = 0;
    uint64_t pending = 0;
    BatchSummary done;
    CancelCause cancel_cause = CancelCause::kNone;
    // The owner its jobs' permit requests name (Semaphore's
    // WaitingByOwner()): the group's scope while a round runs; null
    // between rounds.
    const void* wait_owner = nullptr;
  };
  Progress progress() const;
  // Jobs running plus results not yet consumed.
  uint64_t in_window() const;
  // The window size: jobs running plus unconsumed results at most.
  uint64_t window() const { return window_; }

  // Use Create().
  TaskGroup(Executor* executor, Options options, ResultSink* sink);
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

 private:
  // What the group keeps of a job that goes one attempt at a time.
  // Candidate 0 is the primary, k the k-th fallback; inline room for the
  // common job with no fallback.
  struct AttemptState {
    std::shared_ptr<const JobSpec> job;
    // The live attempt of each candidate, and which try it is (0: none;
    // set while a retry waits for its timer too).
    absl::InlinedVector<std::shared_ptr<Lease>, 1> live;
    absl::InlinedVector<uint32_t, 1> live_try;
    TimerService::TimerId retry_timer = 0;
    uint32_t attempts = 0;
    uint32_t race_given_up = 0;
    // The last error of each candidate, for the final error message.
    absl::InlinedVector<std::string, 1> errors;
    absl::StatusCode last_code = absl::StatusCode::kUnknown;
    absl::Duration queue_time = absl::ZeroDuration();
    absl::Duration run_time = absl::ZeroDuration();
  };
  // Jobs [first, first + count) in flight: a lease of plain jobs, or one
  // job with its attempt state. Bit i of `reported` is set once job
  // first + i has its outcome.
  struct Live {
    std::shared_ptr<Lease> lease;
    std::unique_ptr<AttemptState> state;
    const JobKind* kind = nullptr;
    uint32_t count = 1;
    uint64_t reported = 0;
    bool all_reported() const {
      return reported ==
             (count == 64 ? ~uint64_t{0} : (uint64_t{1} << count) - 1);
    }
  };
  // What a change of state decided under the lock, to be done outside it:
  // results for the sink, the sink's OnCancelled(), work to stop, attempts
  // to start.
  struct Outbox {
    std::vector<JobResult> results;
    Cancellation cancelled;  // Set when this change cancelled the call.
    std::vector<Live> to_stop;
    // Attempts no longer wanted (a race lost), and why.
    std::vector<std::shared_ptr<Lease>> losers;
    // Candidates of the job at `index` to start (try 1).
    struct Start {
      uint64_t index;
      uint32_t candidate;
    };
    std::vector<Start> to_start;
  };

  // Starts what the window and the round allow; opens the next round when
  // the current one is over.
  void Pump();
  // How many jobs of a costly synchronous kind go in one lease when `left`
  // are ready: enough leases for every worker to get two.
  uint64_t RunSizeFor(uint64_t left) const;
  // Starts jobs [first, first + count): runs of consecutive plain jobs as
  // one lease each (of at most `split` synchronous jobs unless the kind is
  // quick), the others one attempt at a time each.
  void SpawnBlock(const JobFactory& factory, uint64_t first, uint64_t count,
                  uint64_t split);
  // Registers `live` as jobs [first, first + count) and starts it; when the
  // call was cancelled meanwhile, settles them instead.
  void Spawn(uint64_t first, Live live);
  // Starts try `try_number` of `candidate` of the job at `index`, unless
  // the job has its result.
  void StartAttempt(uint64_t index, uint32_t candidate, uint32_t try_number);
  void OnAttemptDone(uint64_t index, uint32_t candidate, uint32_t try_number,
                     AttemptResult result);
  // The backoff of the job at `index` is over: its retry starts.
  void OnRetryDue(uint64_t index, uint32_t candidate, uint32_t try_number);
  // The job at `index` (with its attempt state `state`) gives `candidate`
  // up, its last attempt having ended `last`: starts the next candidates,
  // or settles the job FAILED or DEADLINE_EXCEEDED.
  void AfterCandidateFailed(uint64_t index, AttemptState& state,
                            uint32_t candidate, AttemptEnd last,
                            Cancellation* fail_fast, Outbox* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Settles the job at `index`, which has attempt state, with `r`: its
  // other live attempts and its retry timer go.
  void SettleAttemptsLocked(uint64_t index, JobResult r,
                            Cancellation* fail_fast, Outbox* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records the first outcome of a live job (its index set) for delivery,
  // and starts fail-fast when it FAILED; `fail_fast` collects the first.
  void SettleLiveLocked(JobResult&& r, Cancellation* fail_fast, Outbox* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Results of the work at `first` (their index: the place in it).
  void OnReport(uint64_t first, JobResult* results, size_t n);
  void CancelWith(Cancellation why);
  // Records the cancellation and settles every job without an outcome
  // (running or not started) into `out`.
  void CancelLocked(const Cancellation& why, Outbox* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Settles every job not started yet with `why`'s outcome into `out`.
  void SettlePendingLocked(const Cancellation& why, Outbox* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records `r` in the ledger and, when it is the job's first outcome,
  // for delivery; returns whether it was.
  bool DeliverLocked(JobResult&& r, Outbox* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Delivers what `out` holds (its deliveries were counted under the
  // lock), stops its work, then starts more or ends the call.
  void Deliver(Outbox out);
  void MaybeFinish();

  Executor* const executor_;
  const Options options_;
  ResultSink* const sink_;
  const uint64_t window_;
  const absl::Time started_;
  // Set (lock-free to read) the moment the call is cancelled, before any
  // lease is told; a handler about to start checks it so that nothing
  // starts after the cancellation. Never has callbacks.
  const std::shared_ptr<CancellationSignal> scope_ =
      std::make_shared<CancellationSignal>();

  mutable Mutex mu_;
  // The first AddJobs()'s factory; set once, then shared with the spawns
  // (taken under mu_, called outside it).
  std::shared_ptr<const JobFactory> factory_ ABSL_GUARDED_BY(mu_);
  uint64_t added_ ABSL_GUARDED_BY(mu_) = 0;  // Jobs made available.
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 0;   // Next index to start.
  bool input_closed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t running_ ABSL_GUARDED_BY(mu_) = 0;     // Taken, no outcome.
  uint64_t unacked_ ABSL_GUARDED_BY(mu_) = 0;     // Results not consumed.
  uint64_t spawning_ ABSL_GUARDED_BY(mu_) = 0;    // SpawnBlock()s under way.
  uint64_t delivering_ ABSL_GUARDED_BY(mu_) = 0;  // Sink calls under way.
  // A round runs (jobs up to round_end_); false between rounds.
  bool in_round_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t round_end_ ABSL_GUARDED_BY(mu_) = 0;
  // The work in flight, by its first job's index.
  absl::flat_hash_map<uint64_t, Live> live_ ABSL_GUARDED_BY(mu_);
  Cancellation cancelled_ ABSL_GUARDED_BY(mu_);
  // Every job's one outcome, and their tally.
  OutcomeLedger ledger_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  TimerService::TimerId deadline_timer_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_TASK_GROUP_H_

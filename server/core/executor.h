// Executor and Lease: the one path from a job to its handler,
//   backend permit (FIFO) -> worker -> handler -> permit back.
//
// A Lease is 1 to Lease::kMaxJobs jobs of one kind and backend. The
// Executor is the only code that takes backend permits, submits to the
// workers and calls handlers, and a Lease handles each of these once, for
// every way a job runs: a handler's exception (it costs that job only), the
// server shutting down (the workers refuse: the jobs end CANCELLED), a
// permit granted after a cancel (given back), the running and abandoned
// handler counts, the ExecutorObserver's calls, and the check of the call's
// scope and deadline before a handler starts.
//
// How a lease runs depends on its jobs:
//  - Plain jobs (no timeout, no fallback, no retry: Lease::Plain()) of a
//    synchronous kind, the fast path for
//    many short jobs: one permit and one worker trip per time slice
//    (kSlice), the jobs one after another in order. A lease touches its
//    backend exactly as one job does, so the backend's capacity still
//    bounds the handlers inside it; what it saves is a permit hand-off and a
//    trip through the worker queue per job. After a slice the lease gives
//    its permit back and queues again (for the permit and a worker), so
//    other calls wait no longer than a slice behind it. Results go up in
//    batches of at most kMaxBatch, or sooner when kFlushAfter has passed
//    since the last batch or a job failed (so fail-fast stops the lease at
//    once); the permit goes back before the last report.
//  - Plain jobs of an asynchronous kind: each job takes its own permit, in
//  order (FIFO with
//    everyone else), and the jobs whose permit is in hand start together on
//    one worker trip; each handler finishes from any thread, giving its
//    permit back. Results go up as they come, batched while another batch
//    is being reported.
//  - Any other job, one attempt at a time (a job with a timeout or
//    fallbacks, or in a call that retries): a lease of one, started by
//    Executor::Start(), with a timer for the job's timeout, reporting one
//    AttemptResult. Its Cancel() reports at once: the attempt is over as
//    far as its caller knows, even while the handler still runs.
//
// Cancel() (the group's deadline, fail-fast, the client, drain) stops the
// jobs waiting for a permit or a worker at once and asks running handlers to
// stop; a permit comes back only when its handler returns, so a backend never
// holds more handlers than its capacity, even when a handler ignores
// cancellation (it then counts in abandoned_handlers()).
//
// Every permit request names the lease's scope (its call's TaskGroup) as its
// owner, so that Semaphore::WaitingByOwner() shows which call waits where.
//
// Thread-safe. A lease lives as long as its handlers: each holds its
// JobContext through a shared_ptr that aliases the lease. Callbacks (the
// group's report, an attempt's done) run without the lease's lock held.
#ifndef JOBGROUP_SERVER_CORE_EXECUTOR_H_
#define JOBGROUP_SERVER_CORE_EXECUTOR_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/cancellation.h"
#include "server/core/job.h"
#include "server/core/job_kind.h"
#include "server/core/kind_stats.h"
#include "server/core/mutex.h"
#include "server/core/semaphore.h"
#include "server/core/timer_service.h"
#include "server/core/worker_pool.h"

namespace jobgroup {

// What one attempt came to.
struct AttemptResult {
  // The output, the handler's error, or the reason it was cancelled.
  absl::StatusOr<std::string> output;
  bool cancelled = false;  // Ended by Cancel(); `output` holds the reason.
  // Ended by the job's own timeout, which came before the call's deadline
  // (`cancelled` is then set too): for retries and fallbacks, a failed
  // attempt rather than the call running out of time.
  bool timed_out = false;
  bool ran = false;  // The handler started.
  absl::Duration queue_time = absl::ZeroDuration();
  absl::Duration run_time = absl::ZeroDuration();
};

// Receives timings, e.g. for metrics. Called from any thread; must be
// thread-safe and must not block.
class ExecutorObserver {
 public:
  virtual ~ExecutorObserver() = default;
  virtual void OnPermitWait(const Semaphore& backend, absl::Duration waited) {}
  virtual void OnHandlerStart(const JobSpec& job, absl::Duration queued) {}
  virtual void OnHandlerEnd(const JobSpec& job, absl::Duration ran) {}
};

class Executor;

class Lease : public std::enable_shared_from_this<Lease> {
 public:
  // Jobs in one lease at most.
  static constexpr uint32_t kMaxJobs = 64;
  // Work before a lease of synchronous jobs yields its permit and worker.
  static constexpr absl::Duration kSlice = absl::Microseconds(500);
  // Results per batch, and the longest a result waits to be reported.
  static constexpr size_t kMaxBatch = kMaxJobs;
  static constexpr absl::Duration kFlushAfter = absl::Microseconds(200);

  // True when `job` needs nothing per job beyond its permit: a validated,
  // not rejected job with no timeout and no fallback, in a call that does
  // not retry (`retry`).
  static bool Plain(const JobSpec& job, const RetryPolicy& retry);
  // True when `a` and `b` may share a lease (same kind and backend).
  static bool SameLease(const JobSpec& a, const JobSpec& b);
  // True when a whole lease of a synchronous kind with `stats` typically
  // fits in one slice, so that splitting a call's jobs over the workers
  // would cost more hand-offs than it gains, and a trip may run on the
  // thread that asks for it (CallerRuns).
  static bool Cheap(const KindStats& stats);

  // Results of some of the lease's jobs, each with `index` set to the
  // job's place in the lease (0 to size - 1).
  using ReportFn = absl::AnyInvocable<void(std::vector<JobResult>)>;
  // Lease::Start()
  //
  // Starts a lease of Executor::Run(); must not block. Reports every job's
  // result exactly once, in any order, in one or more calls, never two at
  // once; the call with the last result is its last action. After Cancel()
  // it may stop reporting: its owner has settled the rest.
  void Start(ReportFn report);
  // Lease::Cancel()
  //
  // Stops the jobs waiting for a permit or a worker and asks running
  // handlers to stop; idempotent; must not block. An attempt
  // (Executor::Start()) ends at once with `why`.
  void Cancel(const absl::Status& why);
  // Fills what is known so far (attempts, queue and run time) of the job
  // at place `result->index` in the lease, when its handler runs now.
  void FillProgress(JobResult* result);
  // The kind of the lease's jobs.
  const JobKind* kind() const { return kind_; }

  // Lease::Progress()
  //
  // For an attempt (Executor::Start()): true when the handler has started;
  // then sets how long the attempt queued and how long the handler has run
  // so far.
  bool Progress(absl::Duration* queued, absl::Duration* ran);

  using DoneFn = absl::AnyInvocable<void(AttemptResult)>;
  enum class Mode : uint8_t {
    kSlices,    // Plain jobs of a synchronous kind.
    kTogether,  // Plain jobs of an asynchronous kind.
    kAttempt,   // One attempt of any job, reported to `done`.
  };
  // Use Executor::Run() or Executor::Start(). `timeout_binds`: for
  // kAttempt, the job's timeout set `deadline`, before the call's.
  Lease(Executor* executor, Mode mode,
        std::vector<std::shared_ptr<const JobSpec>> jobs, absl::Time deadline,
        std::shared_ptr<const CancellationSignal> scope, DoneFn done = nullptr,
        bool timeout_binds = false);
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

 private:
  // Where a permit of the lease stands.
  enum class Step : uint8_t {
    kIdle,           // Not asked for yet.
    kWaitingPermit,  // Queued at the backend.
    kQueued,         // Held; waits for a worker.
    kRunning,        // Its handler has started.
    kDone,           // Given back, or dropped by Cancel().
  };
  friend class Executor;

  // A permit and the job it is for: one per job in kTogether and kAttempt;
  // in kSlices one for the whole lease, for the job running now.
  struct Slot {
    Step step = Step::kIdle;
    bool abandoned = false;  // Told to stop while its handler ran.
    Semaphore::WaiterId waiter = 0;
    uint32_t job = 0;    // The job whose handler runs.
    absl::Time started;  // When the handler started.
    // The running handler's context, null while none runs. In kTogether
    // and kAttempt it
    // is `context`, made when the handler starts, which lives as long as the
    // lease; in kSlices it is on the worker's stack.
    JobContext* running = nullptr;
    std::optional<JobContext> context;
  };

  // Arms the timeout timer (kAttempt) and asks for the permits.
  void Begin();
  // kAttempt: ends the attempt with `why` unless it has ended already;
  // `timed_out` says whether the job's own timeout ended it.
  void End(absl::Status why, bool timed_out);
  // Asks for slot `i`'s permit (or takes it at once: then the slot is
  // queued for a worker).
  void AcquireLocked(uint32_t i, bool* submit, int* granted_at_once)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnPermit(uint32_t i, absl::Duration waited);
  // Marks slot `i` queued; asks for a worker trip unless one is asked for.
  void QueueLocked(uint32_t i, bool* submit) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Submits a worker trip; when the server is shutting down, ends the
  // queued slots' jobs CANCELLED instead.
  void SubmitTrip();
  // On a worker: what the lease does there, by mode.
  void OnWorker();
  // kTogether and kAttempt: starts the handlers of every queued slot.
  void StartQueued();
  // kSlices: runs jobs until the lease ends, is stopped, or its slice is
  // used up; then queues for the permit again.
  void RunSlice();
  // kSlices: queues for the permit for the next slice, unless cancelled.
  void AcquireNextSlice();
  // kSlices: reports `batch` (possibly empty) to the group.
  void Report(std::vector<JobResult>* batch);
  // True when nothing may start: the scope was cancelled or (but for
  // kAttempt, whose deadline its timer or the group's enforces) the
  // deadline passed.
  bool ShouldStop(absl::Time now) const;
  bool ScopeCancelled() const;
  // The error of a job that did not start because the call's deadline had
  // passed.
  static absl::Status PastDeadline();
  // Handlers are user code: an exception costs their job only, as its
  // error. CallSync() returns a synchronous handler's output; StartHandler()
  // runs the handler of `ctx`'s job to its Finish() (synchronous), or hands
  // `held` to an asynchronous one, which finishes it. Both turn what they
  // catch into the error with ThrownError().
  absl::StatusOr<std::string> CallSync(JobContext& ctx);
  void StartHandler(JobContext& ctx, std::shared_ptr<JobContext> held);
  // Inside a catch block only: the error the exception in flight stands for.
  static absl::Status ThrownError();
  // The counters and the observer around one handler.
  void HandlerStarted(const JobSpec& job, absl::Duration queued);
  void HandlerEnded(const JobSpec& job, absl::Duration ran, bool abandoned);
  void OnFinished(uint32_t i, absl::StatusOr<std::string> output);
  // A job that ends without running, for `why`: the server is shutting
  // down, or the call's deadline passed (PastDeadline()).
  static JobResult NotStartedResult(size_t i, const absl::Status& why);
  // kSlices: appends to `batch` the results of the jobs from next_ on,
  // ended for `why` without running, and moves next_ past them.
  void EndTheRest(const absl::Status& why, std::vector<JobResult>* batch);
  // Queues `r` for the group and reports, unless another thread is
  // reporting (it then takes `r` along).
  void AddResult(JobResult r);

  Executor* const executor_;
  const Mode mode_;
  const std::vector<std::shared_ptr<const JobSpec>> jobs_;
  const JobKind* const kind_;
  // kSlices: the kind's statistics, which each slice feeds; else null.
  KindStats* const stats_;
  Semaphore* const backend_;
  const absl::Time deadline_;
  const std::shared_ptr<const CancellationSignal> scope_;
  const bool timeout_binds_;  // kAttempt: deadline_ is the job's timeout.

  absl::Time admitted_;  // Set by Start(), before any other step.
  ReportFn report_;      // Called by one reporter at a time.
  // kSlices: the next job to run. Used only by the step that owns the
  // lease (Start, then the waiting and running steps in turn; each hands
  // over to the next through the semaphore or the worker queue, which order
  // the accesses).
  size_t next_ = 0;

  mutable Mutex mu_;
  // Inline room for one: a lease of synchronous jobs, or an attempt, has
  // a single slot.
  absl::InlinedVector<Slot, 1> slots_ ABSL_GUARDED_BY(mu_);
  // Slots holding a permit, for the next worker trip.
  absl::InlinedVector<uint32_t, 4> queued_ ABSL_GUARDED_BY(mu_);
  bool trip_submitted_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<JobResult> unreported_ ABSL_GUARDED_BY(mu_);
  bool reporting_ ABSL_GUARDED_BY(mu_) = false;
  // kAttempt: the caller's callback, taken by the first to end the attempt.
  DoneFn done_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;  // done_ was taken.
  TimerService::TimerId timeout_timer_ ABSL_GUARDED_BY(mu_) = 0;
};

class Executor {
 public:
  using DoneFn = Lease::DoneFn;

  // Every pointer must outlive the executor; `observer` may be null.
  Executor(WorkerPool* workers, TimerService* timers,
           ExecutorObserver* observer = nullptr)
      : workers_(workers), timers_(timers), observer_(observer) {}
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Executor::Run()
  //
  // A lease for `jobs` (1 to Lease::kMaxJobs, all Lease::Plain() and of
  // one lease, Lease::SameLease()), for a TaskGroup, which starts it.
  // `deadline` is the call's; once `scope` (may be null) is cancelled no
  // further job starts.
  std::shared_ptr<Lease> Run(std::vector<std::shared_ptr<const JobSpec>> jobs,
                             absl::Time deadline,
                             std::shared_ptr<const CancellationSignal> scope);

  // Executor::Start()
  //
  // Starts an attempt of `job` (validated: kind and backend resolved; the
  // attempt keeps it alive, also for a handler that outlives its result).
  // `deadline` bounds it, together with the job's own timeout. `done` runs
  // exactly once. When `scope` (may be null) is cancelled, the attempt never
  // starts its handler: it ends with the scope's reason instead.
  std::shared_ptr<Lease> Start(
      std::shared_ptr<const JobSpec> job, absl::Time deadline, DoneFn done,
      std::shared_ptr<const CancellationSignal> scope = nullptr);

  // Handlers running now, including abandoned ones.
  int64_t running_handlers() const { return running_.load(); }
  // Handlers still running after their job was reported cancelled.
  int64_t abandoned_handlers() const { return abandoned_.load(); }

  TimerService* timers() const { return timers_; }
  WorkerPool* workers() const { return workers_; }
  // What the executor has learnt of `kind` by running it.
  KindStats& kind_stats(const JobKind& kind) { return kind_stats_.For(kind); }

 private:
  friend class Lease;
  WorkerPool* const workers_;
  TimerService* const timers_;
  ExecutorObserver* const observer_;
  KindStatsTable kind_stats_;
  std::atomic<int64_t> running_{0};
  std::atomic<int64_t> abandoned_{0};
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_EXECUTOR_H_

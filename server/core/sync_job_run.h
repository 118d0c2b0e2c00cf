// SyncJobRun: consecutive jobs of one synchronous kind, run one after
// another on a worker under a single backend permit — the fast path for
// many short jobs.
//
// One job at a time, one permit: a run touches its backend exactly as one
// job does, so the backend's capacity still bounds the handlers inside it.
// What it saves is the per-job cost of the general path (a permit hand-off,
// a trip through the ready queue, a task object and several locks per job):
// a run pays those once per time slice and reports results in batches.
//
//  - Time slices: after kSlice of work a run gives its permit back and
//    queues for it again (and for a worker), so other calls sharing the
//    backend or the workers wait no longer than a slice behind it.
//  - Results go to the group in batches of at most kMaxBatch, or sooner when
//    kFlushAfter has passed since the last batch or a job failed (so
//    fail-fast stops the run at once).
//  - Cancel() (the group's deadline, fail-fast, the client, drain) stops the
//    run before its next job and asks the running handler to stop; the
//    group has already settled every job the run had not reported. The
//    permit comes back when the handler returns.
//  - The call's deadline is checked before each job; a run whose jobs have
//    no timeout, no fallback and no retry qualifies (CanRun()).
//
// Thread-safe. Runs on whichever thread granted its permit (the waiting
// step) and on a worker (the running step); never on two at once.
#ifndef JOBGROUP_SERVER_CORE_SYNC_JOB_RUN_H_
#define JOBGROUP_SERVER_CORE_SYNC_JOB_RUN_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "server/core/cancellation.h"
#include "server/core/executor.h"
#include "server/core/job.h"
#include "server/core/job_kind.h"
#include "server/core/job_run.h"
#include "server/core/mutex.h"
#include "server/core/semaphore.h"
#include "server/core/task_group.h"

namespace jobgroup {

class SyncJobRun : public JobRun,
                   public std::enable_shared_from_this<SyncJobRun> {
 public:
  // Work before a run yields its permit and worker.
  static constexpr absl::Duration kSlice = absl::Microseconds(500);
  // Results per batch, and the longest a result waits to be reported.
  static constexpr size_t kMaxBatch = RunTask::kMaxJobs;
  static constexpr absl::Duration kFlushAfter = absl::Microseconds(200);

  // True when `job` may run in a run: Plain() and of a synchronous kind.
  static bool CanRun(const JobSpec& job, const RetryPolicy& retry);
  // True when a whole run of `kind` typically fits in one slice, so that
  // splitting a call's jobs over the workers would cost more hand-offs
  // than it gains (from JobKind::typical_run_ns, which runs keep).
  static bool Cheap(const JobKind& kind);
  // The next JobKind::typical_run_ns after a slice that ran `jobs` (> 0)
  // jobs in `elapsed`: the slice's average per job, weighed 1/4 against
  // `old_ns` (0 when nothing is known yet, then the average alone). A pure
  // function: runs feed it their measured slices, tests feed it samples.
  static int64_t NextTypicalRunNs(int64_t old_ns, absl::Duration elapsed,
                                  size_t jobs);

  // `jobs` (1 to RunTask::kMaxJobs) all pass CanRun() and SameRun();
  // `deadline` is the call's; once `scope` (may be null) is cancelled no
  // further job starts.
  SyncJobRun(Executor* executor,
             std::vector<std::shared_ptr<const JobSpec>> jobs,
             absl::Time deadline,
             std::shared_ptr<const CancellationSignal> scope);
  SyncJobRun(const SyncJobRun&) = delete;
  SyncJobRun& operator=(const SyncJobRun&) = delete;

  // RunTask.
  void Start(ReportFn report) override;
  void Cancel(const absl::Status& why) override;
  void FillProgress(JobResult* result) override;

 private:
  enum class State { kIdle, kWaitingPermit, kQueued, kRunning, kDone };

  // Queues for the backend permit (or takes it at once).
  void Acquire();
  void OnPermit(absl::Duration waited);
  // On a worker: runs jobs until the run ends, is stopped, or its slice is
  // used up.
  void RunSlice();
  // Reports `batch` (possibly empty) to the group.
  void Report(std::vector<JobResult>* batch);
  // True when the scope was cancelled or the deadline passed.
  bool ShouldStop(absl::Time now) const;

  // Used only by the step that owns the run (Start, then the waiting and
  // running steps in turn; each hands over to the next through the
  // semaphore or the worker queue, which order the accesses).
  ReportFn report_;
  size_t next_ = 0;  // The next job to run.
  absl::Time admitted_;

  mutable Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kIdle;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  Semaphore::WaiterId waiter_ ABSL_GUARDED_BY(mu_) = 0;
  // The running handler's context (on the worker's stack) and start.
  JobContext* current_ ABSL_GUARDED_BY(mu_) = nullptr;
  size_t current_index_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time current_started_ ABSL_GUARDED_BY(mu_);
  // The running handler was told to stop: it counts as abandoned.
  bool current_abandoned_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_SYNC_JOB_RUN_H_

// AsyncJobRun: consecutive jobs of one asynchronous kind, started together
// and finishing in any order — the light path for many waiting jobs
// (timers, I/O), where a JobTask and an Attempt per job would cost more
// than the job itself.
//
//  - Each job takes its own backend permit, in order (FIFO with everyone
//    else), so the backend's capacity bounds the handlers inside it.
//  - Jobs whose permit is in hand are started together by one trip to a
//    worker; each handler finishes from any thread, giving its permit back.
//  - Results go to the group as they come, batched while another batch is
//    being reported (so a burst of completions takes the group's lock once
//    per batch, and a lone completion is never held back).
//  - Cancel() (the group's deadline, fail-fast, the client, drain) stops
//    jobs waiting for a permit or a worker and asks running handlers to
//    stop; the group has already settled every job without a result. A
//    permit comes back when its handler finishes.
//  - Qualifies: CanRun() (no timeout, no fallback, no retry).
//
// Thread-safe. Each job's context lives in the run; handlers hold it (and
// so the run) through the shared_ptr they are given.
#ifndef JOBGROUP_SERVER_CORE_ASYNC_JOB_RUN_H_
#define JOBGROUP_SERVER_CORE_ASYNC_JOB_RUN_H_

#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "server/core/cancellation.h"
#include "server/core/dispatcher.h"
#include "server/core/job.h"
#include "server/core/job_kind.h"
#include "server/core/job_run.h"
#include "server/core/mutex.h"
#include "server/core/semaphore.h"
#include "server/core/task_group.h"

namespace jobgroup {

class AsyncJobRun : public JobRun,
                    public std::enable_shared_from_this<AsyncJobRun> {
 public:
  // True when `job` may run in a run: Plain() and of an asynchronous kind.
  static bool CanRun(const JobSpec& job, const RetryPolicy& retry);

  // `jobs` (1 to RunTask::kMaxJobs) all pass CanRun() and SameRun();
  // `deadline` is the call's; once `scope` (may be null) is cancelled no
  // further job starts.
  AsyncJobRun(Dispatcher* dispatcher,
              std::vector<std::shared_ptr<const JobSpec>> jobs,
              absl::Time deadline,
              std::shared_ptr<const CancellationSignal> scope);
  AsyncJobRun(const AsyncJobRun&) = delete;
  AsyncJobRun& operator=(const AsyncJobRun&) = delete;

  // RunTask.
  void Start(ReportFn report) override;
  void Cancel(const absl::Status& why) override;
  void FillProgress(JobResult* result) override;

 private:
  enum class State : uint8_t {
    kWaitingPermit,  // Queued at the backend.
    kReady,          // Holds its permit; waits for a worker.
    kRunning,        // Its handler has started.
    kDone,           // Finished, or dropped by Cancel().
  };
  struct Slot {
    State state = State::kWaitingPermit;
    bool abandoned = false;  // Told to stop while its handler ran.
    Semaphore::WaiterId waiter = 0;
    absl::Time started;
    std::optional<JobContext> context;  // Made when the handler starts.
  };

  void OnPermit(uint32_t i, absl::Duration waited);
  // Marks job `i` ready; queues a start on a worker unless one is queued.
  void MakeReadyLocked(uint32_t i, bool* submit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SubmitStart();
  // On a worker: starts the handlers of every ready job.
  void StartReady();
  void OnFinished(uint32_t i, absl::StatusOr<std::string> output);
  // Queues `r` for the group and reports, unless another thread is
  // reporting (it then takes `r` along).
  void AddResult(JobResult r);

  absl::Time admitted_;  // Set by Start(), before any other step.
  ReportFn report_;      // Called by one reporter at a time.

  mutable Mutex mu_;
  std::vector<Slot> slots_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> ready_ ABSL_GUARDED_BY(mu_);
  bool start_queued_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<JobResult> unreported_ ABSL_GUARDED_BY(mu_);
  bool reporting_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_ASYNC_JOB_RUN_H_

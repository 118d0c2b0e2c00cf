// Dispatcher and Attempt: one try of one job through the flow
//   backend permit (async, FIFO) -> ready queue -> worker -> handler,
// ending in exactly one AttemptResult.
//
// An Attempt ends when its handler finishes, or earlier when Cancel() is
// called (the job's timeout, a failed sibling, the call's deadline, a
// client cancel). Cancelling a waiting or queued attempt gives its permit
// back at once. Cancelling a running one reports the result at once and asks
// the handler to stop; the permit comes back when the handler returns, so a
// backend never holds more handlers than its capacity, even when a handler
// ignores cancellation (it then counts in abandoned_handlers()).
//
// Thread-safe. The done callback runs exactly once, on whichever thread ended
// the attempt, without locks held; it must not block.
#ifndef JOBGROUP_SERVER_CORE_DISPATCHER_H_
#define JOBGROUP_SERVER_CORE_DISPATCHER_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/job.h"
#include "server/core/job_kind.h"
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
class DispatchObserver {
 public:
  virtual ~DispatchObserver() = default;
  virtual void OnPermitWait(const Semaphore& backend, absl::Duration waited) {}
  virtual void OnHandlerStart(const JobSpec& job, absl::Duration queued) {}
  virtual void OnHandlerEnd(const JobSpec& job, absl::Duration ran) {}
};

class Dispatcher;

class Attempt : public std::enable_shared_from_this<Attempt> {
 public:
  using DoneFn = absl::AnyInvocable<void(AttemptResult)>;

  // Attempt::Cancel()
  //
  // Ends the attempt with `why` unless it has ended already. Idempotent.
  void Cancel(absl::Status why);

  // Attempt::Progress()
  //
  // True when the handler has started; then sets how long the attempt
  // queued and how long the handler has run so far.
  bool Progress(absl::Duration* queued, absl::Duration* ran);

  // Use Dispatcher::Start().
  Attempt(Dispatcher* dispatcher, std::shared_ptr<const JobSpec> job,
          absl::Time deadline, DoneFn done,
          std::shared_ptr<const CancellationSignal> scope);
  Attempt(const Attempt&) = delete;
  Attempt& operator=(const Attempt&) = delete;

 private:
  friend class Dispatcher;
  enum class State { kWaitingPermit, kQueued, kRunning, kFinished };

  void Begin();
  // Cancel(), saying whether the job's own timeout ended it.
  void End(absl::Status why, bool timed_out);
  void OnPermit(absl::Duration waited);
  void RunOnWorker();
  void OnHandlerFinished(absl::StatusOr<std::string> output);

  Dispatcher* const dispatcher_;
  const std::shared_ptr<const JobSpec> job_;
  Semaphore* const backend_;
  const absl::Time deadline_;
  // The job's timeout comes before the call's deadline: reaching deadline_
  // is the attempt timing out, not the call.
  const bool timeout_binds_;
  const absl::Time admitted_;
  const std::shared_ptr<const CancellationSignal> scope_;

  Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kWaitingPermit;
  Semaphore::WaiterId waiter_ ABSL_GUARDED_BY(mu_) = 0;
  TimerService::TimerId timeout_timer_ ABSL_GUARDED_BY(mu_) = 0;
  bool done_called_ ABSL_GUARDED_BY(mu_) = false;
  DoneFn done_ ABSL_GUARDED_BY(mu_);
  absl::Time started_ ABSL_GUARDED_BY(mu_);
  std::optional<JobContext> context_;  // Set once, before the handler runs.
};

class Dispatcher {
 public:
  // Every pointer must outlive the dispatcher; `observer` may be null.
  Dispatcher(WorkerPool* workers, TimerService* timers,
             DispatchObserver* observer = nullptr)
      : workers_(workers), timers_(timers), observer_(observer) {}
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Dispatcher::Start()
  //
  // Starts an attempt of `job` (validated: kind and backend resolved; the
  // attempt keeps it alive, also for a handler that outlives its result).
  // `deadline` bounds it, together with the job's own timeout. `done` runs
  // exactly once. When `scope` (may be null) is cancelled, the attempt never
  // starts its handler: it ends with the scope's reason instead.
  std::shared_ptr<Attempt> Start(
      std::shared_ptr<const JobSpec> job, absl::Time deadline,
      Attempt::DoneFn done,
      std::shared_ptr<const CancellationSignal> scope = nullptr);

  // Handlers running now, including abandoned ones.
  int64_t running_handlers() const { return running_.load(); }
  // Handlers still running after their attempt was reported cancelled.
  int64_t abandoned_handlers() const { return abandoned_.load(); }

  TimerService* timers() const { return timers_; }
  WorkerPool* workers() const { return workers_; }

 private:
  friend class Attempt;
  friend class SyncJobRun;
  friend class AsyncJobRun;
  WorkerPool* const workers_;
  TimerService* const timers_;
  DispatchObserver* const observer_;
  std::atomic<int64_t> running_{0};
  std::atomic<int64_t> abandoned_{0};
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_DISPATCHER_H_

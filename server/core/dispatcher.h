// Attempt: one try of one job through the flow
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
#include "server/core/executor.h"
#include "server/core/job.h"
#include "server/core/job_kind.h"
#include "server/core/mutex.h"
#include "server/core/semaphore.h"
#include "server/core/timer_service.h"
#include "server/core/worker_pool.h"

namespace jobgroup {

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

  // Use Executor::Start().
  Attempt(Executor* executor, std::shared_ptr<const JobSpec> job,
          absl::Time deadline, DoneFn done,
          std::shared_ptr<const CancellationSignal> scope);
  Attempt(const Attempt&) = delete;
  Attempt& operator=(const Attempt&) = delete;

 private:
  friend class Executor;
  enum class State { kWaitingPermit, kQueued, kRunning, kFinished };

  void Begin();
  // Cancel(), saying whether the job's own timeout ended it.
  void End(absl::Status why, bool timed_out);
  void OnPermit(absl::Duration waited);
  void RunOnWorker();
  void OnHandlerFinished(absl::StatusOr<std::string> output);

  Executor* const executor_;
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

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_DISPATCHER_H_

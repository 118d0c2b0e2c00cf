// JobTask: the attempt state of one job of a call that needs one (a
// timeout, fallbacks or retries; plain jobs have none): the primary
// attempt, retries of failed attempts, and fallbacks. Its TaskGroup starts
// and cancels it, and gets its one result.
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
//    last attempt timed out.
// The decisions are the plain functions of attempt_plan.h; JobTask holds
// the state and applies them.
//  - The result says which candidate served (served_by) and counts every
//    attempt; when all fail, the error lists each candidate's last error.
//
// Thread-safe: attempts end on any thread. Held by shared_ptr (its attempts
// call back into it).
#ifndef JOBGROUP_SERVER_CORE_JOB_TASK_H_
#define JOBGROUP_SERVER_CORE_JOB_TASK_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "server/core/attempt_plan.h"
#include "server/core/executor.h"
#include "server/core/job.h"
#include "server/core/mutex.h"

namespace jobgroup {

// Receives per-job attempt events, e.g. for metrics. Thread-safe; must not
// block.
class AttemptObserver {
 public:
  virtual ~AttemptObserver() = default;
  virtual void OnRetry(const JobSpec& job) {}
  virtual void OnFallbackServed(const JobSpec& primary, uint32_t served_by) {}
};

class JobTask : public std::enable_shared_from_this<JobTask> {
 public:
  using DoneFn = absl::AnyInvocable<void(JobResult)>;
  struct Options {
    absl::Time deadline = absl::InfiniteFuture();
    FallbackMode fallback_mode = FallbackMode::kSequential;
    RetryPolicy retry;
    AttemptObserver* observer = nullptr;
    // The group's scope: once cancelled, no attempt starts its handler.
    std::shared_ptr<const CancellationSignal> scope;
  };

  // `options` may be shared by every task of a group.
  JobTask(Executor* executor, std::shared_ptr<const JobSpec> job,
          std::shared_ptr<const Options> options);
  JobTask(Executor* executor, std::shared_ptr<const JobSpec> job,
          Options options)
      : JobTask(executor, std::move(job),
                std::make_shared<const Options>(std::move(options))) {}

  // JobTask::Start()
  //
  // Starts the primary attempt; must not block. Calls `done` exactly once,
  // with the job's one result, as its last action. Cancel() may come
  // before Start().
  void Start(DoneFn done);
  // JobTask::Cancel()
  //
  // Asks the job to stop (its live attempts, a retry waiting); idempotent;
  // must not block. The job then ends with `why`, unless it has ended.
  void Cancel(const absl::Status& why);
  // Fills what is known so far of the job (attempts, queue and run time)
  // into `result`, for the result its group settles when it cancels it.
  void FillProgress(JobResult* result);

 private:
  // Candidate 0 is the primary, k the k-th fallback.
  std::shared_ptr<const JobSpec> Candidate(uint32_t k) const;
  void StartAttempt(uint32_t candidate, uint32_t try_number);
  void OnAttemptDone(uint32_t candidate, uint32_t try_number,
                     AttemptResult result);
  // What to do after `candidate` failed for good, its last attempt having
  // ended `last`. Appends the candidates to start next to `to_start`, or
  // settles the job (FAILED or DEADLINE_EXCEEDED) into `settled`.
  void AfterCandidateFailed(uint32_t candidate, AttemptEnd last,
                            std::vector<uint32_t>* to_start, JobResult* settled)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Settles the job with `result` (completed into `settled`, for the
  // caller to report once the lock is released), and takes the attempts
  // still live into `to_cancel`.
  void SettleLocked(JobResult result,
                    std::vector<std::shared_ptr<Lease>>* to_cancel,
                    JobResult* settled) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Settles a job with no live attempt as cancelled_ says; returns done_
  // for the caller to run once the lock is released.
  DoneFn SettleCancelledLocked(JobResult* result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Executor* const executor_;
  const std::shared_ptr<const JobSpec> job_;
  const std::shared_ptr<const Options> options_;

  Mutex mu_;
  DoneFn done_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status cancelled_ ABSL_GUARDED_BY(mu_);
  // Live attempt of each candidate, and which try it is (0: none live).
  // Inline for the common job with no fallback: no allocation per job.
  absl::InlinedVector<std::shared_ptr<Lease>, 1> live_ ABSL_GUARDED_BY(mu_);
  absl::InlinedVector<uint32_t, 1> live_try_ ABSL_GUARDED_BY(mu_);
  bool settled_ ABSL_GUARDED_BY(mu_) = false;  // The job has its result.
  TimerService::TimerId retry_timer_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t attempts_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t race_failed_ ABSL_GUARDED_BY(mu_) = 0;
  // The last error of each candidate, for the final error message.
  absl::InlinedVector<std::string, 1> errors_ ABSL_GUARDED_BY(mu_);
  absl::StatusCode last_code_ ABSL_GUARDED_BY(mu_) = absl::StatusCode::kUnknown;
  absl::Duration queue_time_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  absl::Duration run_time_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_JOB_TASK_H_

// TaskGroup: a structured-concurrency scope for the jobs of one call (or one
// round of it), in the manner of Python's asyncio.TaskGroup.
//
//  - Every job spawned into the group gets exactly one outcome, reported
//    once through the outcome callback. A job is spawned as a Task of its
//    own, or as one of the consecutive jobs of a RunTask (a worker running
//    many short jobs one after another, reporting their results in
//    batches).
//  - The group's deadline wraps every task: nothing is spawned at or past
//    it (the group cancels itself first), and Cancel(kDeadline) from the
//    owner's timer (the call has one timer for its deadline, BatchRun's)
//    ends every unfinished task DEADLINE_EXCEEDED at once.
//  - FAIL_FAST: the first FAILED task cancels the others (CANCELLED).
//    COLLECT_ALL: failures are reported one by one and the rest go on.
//  - Cancel() (client gone, server draining) ends every unfinished task
//    with the reason's outcome.
//  - Once Close() was called and every task has its outcome, the done
//    callback runs, once, after every outcome callback has returned.
// A task spawned after the group was cancelled is not started; it gets the
// cancellation's outcome at once.
//
// Thread-safe. Callbacks run on whichever thread settled the outcome
// (a worker, the timer thread, a gRPC thread), without the group's lock held;
// they must not block, and may call Spawn(), Close() and Cancel().
#ifndef JOBGROUP_SERVER_CORE_TASK_GROUP_H_
#define JOBGROUP_SERVER_CORE_TASK_GROUP_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/core/cancellation.h"
#include "server/core/job.h"
#include "server/core/mutex.h"

namespace jobgroup {

// What the group needs of any task to stop it and settle its jobs.
class TaskBase {
 public:
  virtual ~TaskBase() = default;
  // Asks the work to stop; idempotent; must not block. The group has
  // already settled every job of the task it had no result for.
  virtual void Cancel(const absl::Status& why) = 0;
  // The kind of job this task runs, copied into its results; may be null.
  virtual const JobKind* kind() const { return nullptr; }
  // Fills what is known so far (attempts, queue and run time) of one of
  // the task's jobs into the result the group settles for it when it
  // cancels the task; `result->index` is the job's place in the task (0 for
  // a Task). Called under the group's lock; must not block.
  virtual void FillProgress(JobResult* result) {}
};

// A unit of work for one job.
class Task : public TaskBase {
 public:
  using DoneFn = absl::AnyInvocable<void(JobResult)>;
  // Starts the work; must not block. Calls `done` exactly once, as its last
  // action (the group may destroy the task inside `done`). Cancel() may
  // come before Start().
  virtual void Start(DoneFn done) = 0;
};

// A unit of work for `count` consecutive jobs (at most kMaxJobs).
class RunTask : public TaskBase {
 public:
  static constexpr uint32_t kMaxJobs = 64;
  // Results of some of the jobs, each with `index` set to the job's place
  // in the task (0 to count - 1); the group makes it the job's index.
  using ReportFn = absl::AnyInvocable<void(std::vector<JobResult>)>;
  // Starts the work; must not block. Reports every job's result exactly
  // once, in any order, in one or more calls, never two at once; the call
  // with the last result is its last action. After Cancel() it may stop
  // reporting: the group has settled the rest.
  virtual void Start(ReportFn report) = 0;
};

class TaskGroup : public std::enable_shared_from_this<TaskGroup> {
 public:
  struct Options {
    absl::Time deadline = absl::InfiniteFuture();
    FailurePolicy policy = FailurePolicy::kFailFast;
  };
  // Outcomes, exactly one per spawned job, in batches (in no particular
  // order across batches). The callee may move the results out.
  using OutcomeFn = absl::AnyInvocable<void(absl::Span<JobResult>)>;
  // Once, when the group is cancelled (with its cause and status).
  using CancelFn = absl::AnyInvocable<void(const Cancellation&)>;
  // Once, when closed and every outcome is reported. The status is the
  // cancellation reason, OK when the group was never cancelled.
  using DoneFn = absl::AnyInvocable<void(const absl::Status&)>;

  static std::shared_ptr<TaskGroup> Create(Options options,
                                           OutcomeFn on_outcome,
                                           CancelFn on_cancel, DoneFn on_done);

  // TaskGroup::Spawn()
  //
  // Starts `task` as the job at `index` (unique within the group). Must not
  // be called after Close(). A spawn at or past the deadline cancels the
  // group first, so the task never starts.
  void Spawn(uint64_t index, std::shared_ptr<Task> task);

  // TaskGroup::SpawnRun()
  //
  // Starts `run` as the `count` jobs (at most RunTask::kMaxJobs) from index
  // `first` on (none of them spawned before); otherwise as Spawn().
  void SpawnRun(uint64_t first, uint32_t count, std::shared_ptr<RunTask> run);

  // TaskGroup::Cancel()
  //
  // Cancels every unfinished task for `cause` (not kNone): each ends with
  // the cause's outcome and `why` (OK: the cause's standard status). Only
  // the first cancellation (from here, the deadline or fail-fast) counts,
  // and none once the group is done. Returns at once.
  void Cancel(CancelCause cause, absl::Status why = absl::OkStatus());
  // As above, with the cause that `why` stands for
  // (Cancellation::FromStatus: kDeadline for DEADLINE_EXCEEDED, else
  // kClient).
  void Cancel(absl::Status why);

  // TaskGroup::Close()
  //
  // No more spawns; the done callback runs when the last outcome is in.
  void Close();

  bool cancelled() const;
  // Why the group was cancelled (cause kNone when it was not).
  Cancellation cancellation() const;
  // cancellation().status.
  absl::Status cancel_reason() const;
  // Set (lock-free to read) the moment the group is cancelled, before any
  // task is told; work about to start checks it so that nothing starts
  // after the group's cancellation. Never has callbacks.
  std::shared_ptr<const CancellationSignal> scope() const { return scope_; }
  // Jobs spawned that have no outcome yet.
  uint64_t running() const;

  // Use Create().
  TaskGroup(Options options, OutcomeFn on_outcome, CancelFn on_cancel,
            DoneFn on_done);
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

 private:
  // A task in flight: jobs [key, key + count); bit i of `reported` is set
  // once job key + i has its outcome.
  struct Entry {
    std::shared_ptr<TaskBase> task;
    uint32_t count = 1;
    uint64_t reported = 0;
    bool all_reported() const {
      return reported ==
             (count == 64 ? ~uint64_t{0} : (uint64_t{1} << count) - 1);
    }
  };
  using TaskList = std::vector<std::shared_ptr<TaskBase>>;

  // Records `results` of the task at `first` (their index: the place in
  // the task); starts fail-fast when one FAILED.
  void OnResults(uint64_t first, JobResult* results, size_t n);
  // Settles the jobs of `count` from `first` on, spawned after the group
  // was cancelled.
  void SettleSpawnedLate(uint64_t first, uint32_t count,
                         const Cancellation& reason);
  // Tells whether the group is open for spawns, cancelling it first when
  // its deadline has passed; fills `reason` when it is not.
  bool Admit(uint64_t first, std::shared_ptr<TaskBase> task, uint32_t count,
             Cancellation* reason);
  // Cancels the group with `why` unless it was cancelled already.
  void CancelWith(Cancellation why);
  // Decides the outcome of every running job; returns the tasks to cancel.
  TaskList CancelLocked(const Cancellation& why,
                        std::vector<JobResult>* outcomes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reports outcomes and the cancellation (if `cancelled_now` is one)
  // decided under the lock, then the done callback when it is due.
  void Deliver(std::vector<JobResult> outcomes, TaskList to_cancel,
               const Cancellation& cancelled_now);

  const Options options_;
  OutcomeFn on_outcome_;
  CancelFn on_cancel_;
  const std::shared_ptr<CancellationSignal> scope_ =
      std::make_shared<CancellationSignal>();

  mutable Mutex mu_;
  absl::flat_hash_map<uint64_t, Entry> running_ ABSL_GUARDED_BY(mu_);
  uint64_t unsettled_ ABSL_GUARDED_BY(mu_) = 0;  // Jobs in running_.
  Cancellation cancel_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Outcomes decided but whose callback has not returned yet; done waits
  // for them.
  int64_t delivering_ ABSL_GUARDED_BY(mu_) = 0;
  DoneFn on_done_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;  // The done callback was taken.
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_TASK_GROUP_H_

// JobRun: the base of SyncJobRun:
// consecutive jobs of one call, of one kind and backend, that need nothing
// per job beyond a backend permit, carried by one task of the group.
//
// Immutable after construction; the subclasses say how they are
// thread-safe.
#ifndef JOBGROUP_SERVER_CORE_JOB_RUN_H_
#define JOBGROUP_SERVER_CORE_JOB_RUN_H_

#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "server/core/cancellation.h"
#include "server/core/executor.h"
#include "server/core/job.h"
#include "server/core/job_kind.h"
#include "server/core/semaphore.h"
#include "server/core/task_group.h"

namespace jobgroup {

class JobRun : public RunTask {
 public:
  // True when `job` needs nothing per job beyond its permit: a validated,
  // not rejected job with no timeout and no fallback, in a call that does
  // not retry (`retry`).
  static bool Plain(const JobSpec& job, const RetryPolicy& retry);
  // True when `a` and `b` may share a run (same kind and backend).
  static bool SameRun(const JobSpec& a, const JobSpec& b);

  const JobKind* kind() const override { return kind_; }

 protected:
  // `jobs` (1 to RunTask::kMaxJobs) are Plain() and share kind and
  // backend; `deadline` is the call's; once `scope` (may be null) is
  // cancelled no further job starts.
  JobRun(Executor* executor, std::vector<std::shared_ptr<const JobSpec>> jobs,
         absl::Time deadline, std::shared_ptr<const CancellationSignal> scope);

  Executor* const executor_;
  const std::vector<std::shared_ptr<const JobSpec>> jobs_;
  const JobKind* const kind_;
  Semaphore* const backend_;
  const absl::Time deadline_;
  const std::shared_ptr<const CancellationSignal> scope_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_JOB_RUN_H_

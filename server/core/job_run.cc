// Implementation of JobRun.
#include "server/core/job_run.h"

#include <utility>

namespace jobgroup {

bool JobRun::Plain(const JobSpec& job, const RetryPolicy& retry) {
  return job.rejected.ok() && job.resolved_kind != nullptr &&
         job.resolved_backend != nullptr && job.fallbacks.empty() &&
         job.timeout == absl::ZeroDuration() && retry.max_attempts <= 1;
}

bool JobRun::SameRun(const JobSpec& a, const JobSpec& b) {
  return a.resolved_kind == b.resolved_kind &&
         a.resolved_backend == b.resolved_backend;
}

JobRun::JobRun(Executor* executor,
               std::vector<std::shared_ptr<const JobSpec>> jobs,
               absl::Time deadline,
               std::shared_ptr<const CancellationSignal> scope)
    : executor_(executor),
      jobs_(std::move(jobs)),
      kind_(jobs_.front()->resolved_kind),
      backend_(jobs_.front()->resolved_backend),
      deadline_(deadline),
      scope_(std::move(scope)) {}

}  // namespace jobgroup

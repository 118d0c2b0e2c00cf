// Job sources that need no I/O; see job_source.h.
#include "client/job_source.h"

#include <utility>

namespace jobgroup::client {

RepeatedJobSource::RepeatedJobSource(jobgroup::v1::Job job, uint64_t count)
    : template_(std::move(job)), count_(count) {}

absl::StatusOr<bool> RepeatedJobSource::Next(jobgroup::v1::Job& job) {
  if (produced_ >= count_) return false;
  ++produced_;
  job = template_;
  return true;
}

absl::StatusOr<std::vector<jobgroup::v1::Job>> ReadAllJobs(JobSource& source) {
  std::vector<jobgroup::v1::Job> jobs;
  jobgroup::v1::Job job;
  while (true) {
    absl::StatusOr<bool> more = source.Next(job);
    if (!more.ok()) return more.status();
    if (!*more) return jobs;
    jobs.push_back(std::move(job));
    job.Clear();
  }
}

}  // namespace jobgroup::client

// JobSource: a lazy, pull-based sequence of jobs. Process() pulls jobs one at
// a time and writes them as flow control allows, so an input of any length
// is never held in memory at once; RunBatch and StreamBatch collect a source
// into one request with ReadAllJobs().
//
// Thread-safety: a JobSource is used by one thread at a time (Process() uses
// it from its writer thread); implementations need no locking.
#ifndef JOBGROUP_CLIENT_JOB_SOURCE_H_
#define JOBGROUP_CLIENT_JOB_SOURCE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "jobgroup/v1/jobgroup.pb.h"

namespace jobgroup::client {

class JobSource {
 public:
  virtual ~JobSource() = default;

  // JobSource::Next() overwrites `job` with the next job and returns true,
  // returns false at the end of the input, or returns an error (bad input,
  // failed read) after which the source must not be used again. It may block
  // waiting for input.
  virtual absl::StatusOr<bool> Next(jobgroup::v1::Job& job) = 0;

  // JobSource::ReadyNow() says whether Next() is likely to return without
  // waiting for input. Process() sends the jobs it has gathered before a
  // Next() that could block, so a slow producer's jobs are not held back.
  virtual bool ReadyNow() { return true; }
};

// RepeatedJobSource yields `count` copies of one template job, with empty ids
// (the server then names each job by its index).
class RepeatedJobSource : public JobSource {
 public:
  RepeatedJobSource(jobgroup::v1::Job job, uint64_t count);

  absl::StatusOr<bool> Next(jobgroup::v1::Job& job) override;

 private:
  const jobgroup::v1::Job template_;
  const uint64_t count_;
  uint64_t produced_ = 0;
};

// ReadAllJobs() drains `source` into a vector, for the calls that send all
// jobs in one request. Stops at the first error and returns it.
absl::StatusOr<std::vector<jobgroup::v1::Job>> ReadAllJobs(JobSource& source);

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_JOB_SOURCE_H_

// CallRegistry: the calls running jobs now, so that a drain can wait for
// them and cancel what is left. Thread-safe.
#ifndef JOBGROUP_SERVER_SERVICE_CALL_REGISTRY_H_
#define JOBGROUP_SERVER_SERVICE_CALL_REGISTRY_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/core/batch_run.h"

namespace jobgroup {

class CallRegistry {
 public:
  // Registers a call's run; returns the id to Remove() it with.
  uint64_t Add(std::shared_ptr<BatchRun> run) {
    absl::MutexLock lock(&mu_);
    uint64_t id = next_id_++;
    runs_.emplace(id, std::move(run));
    return id;
  }
  void Remove(uint64_t id) {
    absl::MutexLock lock(&mu_);
    runs_.erase(id);
  }
  // Cancels every registered call for `cause` with `why` (their results
  // still flow).
  void CancelAll(CancelCause cause, const absl::Status& why) {
    std::vector<std::shared_ptr<BatchRun>> runs;
    {
      absl::MutexLock lock(&mu_);
      for (auto& [id, run] : runs_) runs.push_back(run);
    }
    for (auto& run : runs) run->Cancel(cause, why);
  }
  size_t size() const {
    absl::MutexLock lock(&mu_);
    return runs_.size();
  }

 private:
  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, std::shared_ptr<BatchRun>> runs_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_CALL_REGISTRY_H_

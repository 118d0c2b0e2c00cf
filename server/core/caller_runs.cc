#include "server/core/caller_runs.h"

#include <utility>

namespace jobgroup {
namespace {
// The outermost CallerRuns open on this thread, or null (also while its
// kept trips run).
thread_local CallerRuns* open_caller_runs = nullptr;
}  // namespace

CallerRuns::CallerRuns() : outer_(open_caller_runs) {
  if (outer_ == nullptr) open_caller_runs = this;
}

CallerRuns::~CallerRuns() {
  if (outer_ != nullptr) return;
  // Trips asked for while the kept ones run go to the workers.
  open_caller_runs = nullptr;
  for (Trip& trip : trips_) trip();
}

bool CallerRuns::Keep(uint32_t jobs, Trip& trip) {
  CallerRuns* open = open_caller_runs;
  if (open == nullptr || open->jobs_ + jobs > kMaxJobs) return false;
  open->jobs_ += jobs;
  open->trips_.push_back(std::move(trip));
  return true;
}

}  // namespace jobgroup

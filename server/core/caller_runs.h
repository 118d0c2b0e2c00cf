// CallerRuns: lets the thread that received a small call run its jobs
// itself, with no hand-off to a worker and back.
//
// A server thread opens a CallerRuns around what it does for a call (read
// the request, add the jobs, close the group). While it is open, the
// executor keeps the worker trips that leases of a quick synchronous kind
// (Lease::Cheap()) ask for on this thread, up to kMaxJobs jobs in all,
// instead of submitting them to the worker pool; they run, in the order
// asked, on this thread when the CallerRuns closes, after the caller's own
// locks are released. A 10-job call then goes from request to reply on one
// thread, as a plain gRPC service would answer it, where a trip to a worker
// costs two thread wake-ups.
//
// What stays as it was: a kept trip holds its backend permit from the
// moment it was granted, as a queued one does, so a backend's capacity
// still bounds its handlers; cancellation and the deadline are checked
// before each job as on a worker; a lease's slice ends after
// Lease::kSlice, and what is left of it goes to the workers. What changes:
// up to four slices of quick handlers per server thread can run beside the
// `--workers` worker threads.
//
// Trips asked for on a thread with no CallerRuns open (a worker, a timer,
// a permit granted by another thread's release), or once the budget is
// spent, or while the kept trips run, go to the worker pool.
//
// Not thread-safe, by design: a CallerRuns belongs to the thread that
// opened it; open and close it on that thread, and hold no lock that a
// job's outcome takes when it closes. An inner CallerRuns on a thread that
// has one open does nothing: the outer one keeps and runs.
#ifndef JOBGROUP_SERVER_CORE_CALLER_RUNS_H_
#define JOBGROUP_SERVER_CORE_CALLER_RUNS_H_

#include <cstdint>

#include "absl/container/inlined_vector.h"
#include "absl/functional/any_invocable.h"

namespace jobgroup {

class CallerRuns {
 public:
  // The same type as a WorkerPool task: a trip not kept goes there as it
  // is.
  using Trip = absl::AnyInvocable<void()>;
  // Jobs kept at most per CallerRuns: four leases' worth (Lease::kMaxJobs)
  // of kinds whose lease fits in a slice, so at most four slices, and the
  // whole of a Process message as clients send them by default (256).
  static constexpr uint32_t kMaxJobs = 256;

  CallerRuns();
  // CallerRuns::~CallerRuns()
  //
  // Runs the kept trips, in the order they were kept, on this thread.
  ~CallerRuns();
  CallerRuns(const CallerRuns&) = delete;
  CallerRuns& operator=(const CallerRuns&) = delete;

  // CallerRuns::Keep()
  //
  // For the executor: when a CallerRuns is open on this thread and `jobs`
  // more fit its budget, takes `trip` (to run when it closes) and returns
  // true; otherwise leaves `trip` alone and returns false.
  static bool Keep(uint32_t jobs, Trip& trip);

 private:
  CallerRuns* const outer_;  // The one open before, or null.
  uint32_t jobs_ = 0;        // Jobs of the kept trips.
  absl::InlinedVector<Trip, 2> trips_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_CALLER_RUNS_H_

// ServerStatus: what the server is doing now, as the admin API
// (admin_service.h) and the status page (/statusz) show it: the calls in
// flight with their progress, the backends, the queue, the workers, the
// memory budget, and the rates of jobs ended by outcome over the last
// seconds.
//
// Everything is read from what the server keeps anyway (the call registry,
// the semaphores, the worker pool, the gauges) when a snapshot is asked
// for: serving the views costs the job path nothing.
//
// Thread-safe: snapshots may be taken from any thread at once.
#ifndef JOBGROUP_SERVER_SERVICE_SERVER_STATUS_H_
#define JOBGROUP_SERVER_SERVICE_SERVER_STATUS_H_

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "jobgroup/admin/v1/admin.pb.h"
#include "server/service/call_registry.h"
#include "server/service/service_context.h"

namespace jobgroup {

class ServerStatus {
 public:
  // The rates cover this much time when the server has been watched that
  // long (less just after the first snapshot).
  static constexpr absl::Duration kRateWindow = absl::Seconds(5);

  // What `ctx` points to (its registry, backends, workers, gauges and
  // budget) must outlive the status; `ctx` itself is copied.
  ServerStatus(const ServiceContext& ctx, absl::Time started)
      : ctx_(ctx), started_(started) {}
  ServerStatus(const ServerStatus&) = delete;
  ServerStatus& operator=(const ServerStatus&) = delete;

  // Every call in flight, oldest first.
  admin::v1::ListCallsResponse ListCalls(absl::Time now) const;

  // ServerStatus::Snapshot()
  //
  // The server now, with the top `max_calls` calls by jobs in flight.
  admin::v1::ServerSnapshot Snapshot(absl::Time now, size_t max_calls);

  // One call as the admin API shows it.
  void FillCall(const CallRegistry::Entry& e, absl::Time now,
                admin::v1::CallInfo* out) const;

 private:
  // Each backend's queued permit requests by owner, read once per view
  // (one lock per backend, not per call and backend).
  using BackendWaits = std::vector<
      std::pair<std::string, absl::flat_hash_map<const void*, int64_t>>>;
  BackendWaits ReadBackendWaits() const;
  void FillCall(const CallRegistry::Entry& e, absl::Time now,
                const BackendWaits& waits, admin::v1::CallInfo* out) const;

  struct Sample {
    absl::Time at;
    uint64_t done[kJobOutcomeCount];
    uint64_t calls;
  };
  void FillRates(absl::Time now, admin::v1::Rates* out);

  const ServiceContext ctx_;
  const absl::Time started_;
  absl::Mutex mu_;
  // Totals at past snapshots, oldest first, a minute at most.
  std::deque<Sample> samples_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_SERVER_STATUS_H_

// LiveCall: what the server knows of one job-running call (RunBatch,
// StreamBatch, Process) besides its run: who made it, when, and its
// deadline. The jobs, their outcomes so far and why the call was cancelled
// are the run's (TaskGroup::progress()).
// The admin API (admin_service.h) and the status page read it through the
// CallRegistry; the call's CallGate fills it.
//
// Thread-safe. The identity is set before the call is registered and never
// changes; the deadline is an atomic. Nothing here is touched per job.
#ifndef JOBGROUP_SERVER_SERVICE_LIVE_CALL_H_
#define JOBGROUP_SERVER_SERVICE_LIVE_CALL_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "server/core/job.h"
#include "server/service/metrics.h"

namespace jobgroup {

class LiveCall {
 public:
  struct Identity {
    std::string call_id;
    Method method = Method::kRunBatch;
    std::string peer;
    std::string token;  // Authenticator::Identify(); empty without tokens.
    absl::Time started;
  };

  explicit LiveCall(Identity id) : id_(std::move(id)) {}
  LiveCall(const LiveCall&) = delete;
  LiveCall& operator=(const LiveCall&) = delete;

  const Identity& id() const { return id_; }

  // Before the call is registered.
  void set_token(std::string token) { id_.token = std::move(token); }
  // The call's deadline, once known (Process learns it from its first
  // message); InfiniteFuture until then.
  void set_deadline(absl::Time t) {
    deadline_ns_.store(absl::ToUnixNanos(t), std::memory_order_relaxed);
  }
  absl::Time deadline() const {
    int64_t ns = deadline_ns_.load(std::memory_order_relaxed);
    return ns == kNoDeadline ? absl::InfiniteFuture() : absl::FromUnixNanos(ns);
  }

 private:
  static constexpr int64_t kNoDeadline = INT64_MAX;
  Identity id_;
  std::atomic<int64_t> deadline_ns_{kNoDeadline};
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_LIVE_CALL_H_

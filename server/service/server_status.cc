// Implementation of ServerStatus.
#include "server/service/server_status.h"

#include <algorithm>
#include <vector>

#include "google/protobuf/util/time_util.h"
#include "server/core/backends.h"
#include "server/core/memory_budget.h"
#include "server/core/worker_pool.h"
#include "server/service/proto_mapping.h"

namespace jobgroup {
namespace {

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  *out = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      absl::ToUnixNanos(t));
}

// Jobs of the call started or waiting to start: its weight in "top".
uint64_t InFlight(const admin::v1::CallInfo& c) {
  return c.jobs_running() + c.jobs_pending();
}

}  // namespace

ServerStatus::BackendWaits ServerStatus::ReadBackendWaits() const {
  BackendWaits waits;
  if (ctx_.backends == nullptr) return waits;
  for (const Semaphore* b : ctx_.backends->List()) {
    absl::flat_hash_map<const void*, int64_t> by_owner = b->WaitingByOwner();
    if (!by_owner.empty()) waits.emplace_back(b->name(), std::move(by_owner));
  }
  return waits;
}

void ServerStatus::FillCall(const CallRegistry::Entry& e, absl::Time now,
                            admin::v1::CallInfo* out) const {
  FillCall(e, now, ReadBackendWaits(), out);
}

void ServerStatus::FillCall(const CallRegistry::Entry& e, absl::Time now,
                            const BackendWaits& waits,
                            admin::v1::CallInfo* out) const {
  const LiveCall& c = *e.call;
  const TaskGroup::Progress p = e.run->progress();
  out->set_call_id(c.id().call_id);
  out->set_method(MethodName(c.id().method));
  out->set_peer(c.id().peer);
  out->set_identity(c.id().token);
  SetTime(c.id().started, out->mutable_start_time());
  absl::Time deadline = c.deadline();
  if (deadline != absl::InfiniteFuture()) {
    SetDuration(std::max(absl::ZeroDuration(), deadline - now),
                out->mutable_deadline_left());
  }
  // One consistent reading of the run: done + running + pending = added.
  out->set_succeeded(p.done.count(JobOutcome::kSucceeded));
  out->set_failed(p.done.count(JobOutcome::kFailed));
  out->set_cancelled(p.done.count(JobOutcome::kCancelled));
  out->set_deadline_exceeded(p.done.count(JobOutcome::kDeadlineExceeded));
  out->set_rejected(p.done.count(JobOutcome::kRejected));
  uint64_t done = p.done.total;
  uint64_t pending = std::min(p.pending, p.added - std::min(p.added, done));
  out->set_jobs_total(p.added);
  out->set_jobs_pending(pending);
  out->set_jobs_running(p.added - std::min(p.added, done) - pending);
  out->set_draining(ctx_.draining != nullptr && ctx_.draining->load());
  out->set_cancelled_by_operator(p.cancel_cause == CancelCause::kOperator);
  if (p.wait_owner != nullptr) {
    for (const auto& [backend, by_owner] : waits) {
      auto it = by_owner.find(p.wait_owner);
      if (it == by_owner.end()) continue;
      admin::v1::BackendWait* w = out->add_waiting_on();
      w->set_backend(backend);
      w->set_requests(static_cast<uint64_t>(it->second));
    }
  }
}

admin::v1::ListCallsResponse ServerStatus::ListCalls(absl::Time now) const {
  admin::v1::ListCallsResponse out;
  const BackendWaits waits = ReadBackendWaits();
  for (const CallRegistry::Entry& e : ctx_.calls->List()) {
    FillCall(e, now, waits, out.add_calls());
  }
  return out;
}

admin::v1::ServerSnapshot ServerStatus::Snapshot(absl::Time now,
                                                 size_t max_calls) {
  admin::v1::ServerSnapshot s;
  SetTime(now, s.mutable_time());
  s.set_version(ctx_.version);
  SetDuration(now - started_, s.mutable_uptime());
  s.set_draining(ctx_.draining != nullptr && ctx_.draining->load());

  std::vector<admin::v1::CallInfo> calls;
  const BackendWaits waits = ReadBackendWaits();
  for (const CallRegistry::Entry& e : ctx_.calls->List()) {
    FillCall(e, now, waits, &calls.emplace_back());
  }
  // The heaviest first; the oldest first among equals (List() is by age).
  std::stable_sort(
      calls.begin(), calls.end(),
      [](const admin::v1::CallInfo& a, const admin::v1::CallInfo& b) {
        return InFlight(a) > InFlight(b);
      });
  s.set_calls_in_flight(calls.size());
  size_t shown = std::min(calls.size(), max_calls);
  s.set_calls_omitted(calls.size() - shown);
  for (size_t i = 0; i < shown; ++i) *s.add_calls() = std::move(calls[i]);
  if (ctx_.jobs_in_flight != nullptr) {
    s.set_jobs_in_flight(static_cast<uint64_t>(
        std::max<int64_t>(0, ctx_.jobs_in_flight->load())));
  }

  if (ctx_.backends != nullptr) {
    for (const Semaphore* b : ctx_.backends->List()) {
      admin::v1::BackendInfo* out = s.add_backends();
      out->set_name(b->name());
      out->set_capacity(b->capacity());
      out->set_in_use(b->in_use());
      out->set_waiting(b->waiting());
      SetDuration(b->oldest_wait(now), out->mutable_oldest_wait());
    }
  }
  if (ctx_.workers != nullptr) {
    const WorkerPool& w = *ctx_.workers;
    s.mutable_queue()->set_capacity(w.queue_capacity());
    s.mutable_queue()->set_depth(w.queue_depth());
    s.mutable_queue()->set_parked(w.queue_parked());
    s.mutable_workers()->set_workers(w.workers());
    s.mutable_workers()->set_busy(w.busy());
  }
  if (ctx_.memory != nullptr) {
    s.set_memory_budget_bytes(ctx_.memory->limit());
    s.set_memory_in_use_bytes(ctx_.memory->used());
  }
  FillRates(now, s.mutable_rates());
  return s;
}

void ServerStatus::FillRates(absl::Time now, admin::v1::Rates* out) {
  Sample cur{now, {}, 0};
  ctx_.calls->Totals(cur.done, &cur.calls);
  absl::MutexLock lock(&mu_);
  while (!samples_.empty() && now - samples_.front().at > absl::Minutes(1)) {
    samples_.pop_front();
  }
  // The newest sample at least kRateWindow old, else the oldest there is.
  const Sample* base = nullptr;
  for (const Sample& s : samples_) {
    if (now - s.at >= kRateWindow || base == nullptr) base = &s;
    if (now - s.at < kRateWindow) break;
  }
  if (base != nullptr && now > base->at) {
    absl::Duration window = now - base->at;
    double secs = absl::ToDoubleSeconds(window);
    auto rate = [&](JobOutcome o) {
      int i = static_cast<int>(o);
      return static_cast<double>(cur.done[i] - base->done[i]) / secs;
    };
    SetDuration(window, out->mutable_window());
    out->set_succeeded(rate(JobOutcome::kSucceeded));
    out->set_failed(rate(JobOutcome::kFailed));
    out->set_cancelled(rate(JobOutcome::kCancelled));
    out->set_deadline_exceeded(rate(JobOutcome::kDeadlineExceeded));
    out->set_rejected(rate(JobOutcome::kRejected));
    out->set_calls(static_cast<double>(cur.calls - base->calls) / secs);
  }
  // One sample per 100 ms is plenty, however many watchers there are.
  if (samples_.empty() || now - samples_.back().at >= absl::Milliseconds(100)) {
    samples_.push_back(cur);
  }
}

}  // namespace jobgroup

// CallRegistry: the job-running calls in flight, each with its run, so that
// a drain can wait for them and cancel what is left, and an operator can
// see them (ListCalls, WatchServer, /statusz) and cancel one (CancelCall).
// Thread-safe.
#ifndef JOBGROUP_SERVER_SERVICE_CALL_REGISTRY_H_
#define JOBGROUP_SERVER_SERVICE_CALL_REGISTRY_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/core/task_group.h"
#include "server/service/live_call.h"

namespace jobgroup {

class CallRegistry {
 public:
  // A call in flight, as List() sees it.
  struct Entry {
    std::shared_ptr<LiveCall> call;
    std::shared_ptr<TaskGroup> run;
  };

  // Registers a call and its run; returns the id to Remove() it with.
  uint64_t Add(std::shared_ptr<LiveCall> call, std::shared_ptr<TaskGroup> run) {
    absl::MutexLock lock(&mu_);
    uint64_t id = next_id_++;
    entries_.emplace(id, Entry{std::move(call), std::move(run)});
    return id;
  }
  // Unregisters a call; its outcomes go to the totals of ended calls.
  void Remove(uint64_t id) {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    BatchSummary done = it->second.run->progress().done;
    for (int o = 0; o < kJobOutcomeCount; ++o) ended_done_[o] += done.counts[o];
    ++ended_calls_;
    entries_.erase(it);
  }

  // Outcomes of every job of every call registered since the start, by
  // JobOutcome, in `done`; and the calls that have ended.
  void Totals(uint64_t (&done)[kJobOutcomeCount], uint64_t* ended) const {
    absl::MutexLock lock(&mu_);
    for (int o = 0; o < kJobOutcomeCount; ++o) done[o] = ended_done_[o];
    for (const auto& [id, e] : entries_) {
      BatchSummary d = e.run->progress().done;
      for (int o = 0; o < kJobOutcomeCount; ++o) done[o] += d.counts[o];
    }
    *ended = ended_calls_;
  }

  // Cancels every registered call for `cause` with `why` (their results
  // still flow).
  void CancelAll(CancelCause cause, const absl::Status& why) {
    for (Entry& e : List()) e.run->Cancel(cause, why);
  }

  // CallRegistry::CancelCall()
  //
  // Cancels the calls whose id is `call_id` (a client may give two calls
  // one id) for kOperator with `why`, and returns them; none when no call
  // has that id.
  std::vector<Entry> CancelCall(absl::string_view call_id,
                                const absl::Status& why) {
    std::vector<Entry> hit;
    for (Entry& e : List()) {
      if (e.call->id().call_id == call_id) hit.push_back(std::move(e));
    }
    for (Entry& e : hit) e.run->Cancel(CancelCause::kOperator, why);
    return hit;
  }

  // Every call in flight, oldest first.
  std::vector<Entry> List() const {
    std::vector<Entry> out;
    {
      absl::MutexLock lock(&mu_);
      out.reserve(entries_.size());
      for (const auto& [id, e] : entries_) out.push_back(e);
    }
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
      return a.call->id().started < b.call->id().started;
    });
    return out;
  }

  size_t size() const {
    absl::MutexLock lock(&mu_);
    return entries_.size();
  }

 private:
  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t ended_done_[kJobOutcomeCount] ABSL_GUARDED_BY(mu_) = {};
  uint64_t ended_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_CALL_REGISTRY_H_

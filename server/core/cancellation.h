// CancellationSignal: a one-shot, thread-safe "please stop" flag with
// callbacks, carrying the reason (a status) the stop was requested for.
//
// Any thread may call Cancel(); the first call wins and fixes the reason.
// Callbacks registered with OnCancel() run exactly once: on the thread that
// calls Cancel(), or at once on the registering thread when the signal is
// already cancelled. Callbacks run without any lock held, so they may call
// back into the signal (IsCancelled(), reason()), but they must not block:
// they only hand work elsewhere.
#ifndef JOBGROUP_SERVER_CORE_CANCELLATION_H_
#define JOBGROUP_SERVER_CORE_CANCELLATION_H_

#include <atomic>
#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "server/core/mutex.h"

namespace jobgroup {

class CancellationSignal {
 public:
  using Callback = absl::AnyInvocable<void(const absl::Status& reason)>;
  using CallbackId = uint64_t;

  CancellationSignal() = default;
  CancellationSignal(const CancellationSignal&) = delete;
  CancellationSignal& operator=(const CancellationSignal&) = delete;

  // CancellationSignal::Cancel()
  //
  // Requests cancellation with `reason` (must not be OK). Returns true for
  // the call that cancelled, false when the signal was already cancelled (the
  // first reason is kept). Runs the registered callbacks before returning.
  bool Cancel(absl::Status reason);

  // CancellationSignal::IsCancelled()
  //
  // Lock-free. Once true, reason() is the cancelling status.
  bool IsCancelled() const {
    return cancelled_.load(std::memory_order_acquire);
  }

  // CancellationSignal::reason()
  //
  // OK until cancelled, then the reason given to the first Cancel().
  absl::Status reason() const;

  // CancellationSignal::OnCancel()
  //
  // Registers `fn` to run once when the signal is cancelled. When it is
  // already cancelled, runs `fn` at once and returns 0. Otherwise returns an
  // id for Remove().
  CallbackId OnCancel(Callback fn);

  // CancellationSignal::Remove()
  //
  // Unregisters a callback. Returns true when it was removed before it ran;
  // false when it has run, is running, or `id` is unknown.
  bool Remove(CallbackId id);

  // CancellationSignal::Clear()
  //
  // Drops every registered callback unrun. The owner calls it when the work
  // it guards is over: callbacks often hold a reference back to that work,
  // and this breaks the cycle.
  void Clear();

 private:
  struct Entry {
    CallbackId id;
    Callback fn;
  };
  mutable Mutex mu_;
  std::atomic<bool> cancelled_{false};
  absl::Status reason_ ABSL_GUARDED_BY(mu_);
  // Inline room for one: a job's context usually has a single callback.
  using Entries = absl::InlinedVector<Entry, 1>;
  Entries callbacks_ ABSL_GUARDED_BY(mu_);
  CallbackId next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_CANCELLATION_H_

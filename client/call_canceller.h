// CallCanceller: cancels, from any thread, the JobClient call in flight that
// it was handed in CallOptions (the CLI's Ctrl-C). A call registers its
// grpc::ClientContext for its duration; Cancel() calls TryCancel() on it,
// and on any call registered afterwards, at once: a cancelled canceller
// stays cancelled.
//
// Thread-safety: thread-safe. It must outlive the calls that use it.
#ifndef JOBGROUP_CLIENT_CALL_CANCELLER_H_
#define JOBGROUP_CLIENT_CALL_CANCELLER_H_

#include <atomic>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace grpc {
class ClientContext;
}  // namespace grpc

namespace jobgroup::client {

class CallCanceller {
 public:
  CallCanceller() = default;
  CallCanceller(const CallCanceller&) = delete;
  CallCanceller& operator=(const CallCanceller&) = delete;

  // CallCanceller::Cancel() cancels the registered call, if any, and every
  // call registered later, and returns whether a call was registered.
  // Idempotent; never blocks on the call.
  bool Cancel();

  // CallCanceller::cancelled() says whether Cancel() was called.
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

  // CallCanceller::Register() makes `context` the call in flight (cancelled
  // at once when Cancel() came first); Unregister() ends that, before the
  // context is destroyed. JobClient calls them.
  void Register(grpc::ClientContext* context);
  void Unregister(grpc::ClientContext* context);

 private:
  absl::Mutex mu_;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::atomic<bool> cancelled_{false};
};

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_CALL_CANCELLER_H_

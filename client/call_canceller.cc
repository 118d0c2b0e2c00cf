// Cancelling the call in flight from another thread; see call_canceller.h.
#include "client/call_canceller.h"

#include "grpcpp/client_context.h"

namespace jobgroup::client {

bool CallCanceller::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_.store(true, std::memory_order_release);
  if (context_ == nullptr) return false;
  context_->TryCancel();
  return true;
}

void CallCanceller::Register(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  context_ = context;
  if (cancelled_.load(std::memory_order_acquire)) context_->TryCancel();
}

void CallCanceller::Unregister(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  if (context_ == context) context_ = nullptr;
}

}  // namespace jobgroup::client

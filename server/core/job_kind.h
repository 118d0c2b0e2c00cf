// Job kinds: the handlers that do a job's work, how they see their job
// (JobContext), and the registry that names them.
//
// A kind is synchronous or asynchronous:
//  - A SyncHandler runs on a worker thread and returns the output. It should
//    check ctx.IsCancelled() between steps of long work.
//  - An AsyncHandler is started on a worker thread, must return quickly
//    without blocking, and calls ctx->Finish() later from any thread (a
//    timer, an I/O thread, ...). It should register ctx->OnCancel() to stop
//    its work, and then Finish() promptly.
// Either way the job's backend permit is held from just before the handler
// starts until it finishes, so a backend's capacity bounds the handlers
// inside it at once.
//
// KindRegistry is filled before the server starts and read-only afterwards;
// reads are then thread-safe.
#ifndef JOBGROUP_SERVER_CORE_JOB_KIND_H_
#define JOBGROUP_SERVER_CORE_JOB_KIND_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/cancellation.h"
#include "server/core/job.h"
#include "server/core/timer_service.h"

namespace jobgroup {

// What a handler sees of its running job. Created by the executor for each
// attempt; thread-safe.
class JobContext {
 public:
  using FinishFn = absl::AnyInvocable<void(absl::StatusOr<std::string>)>;

  JobContext(const JobSpec* job, TimerService* timers, absl::Time deadline,
             FinishFn on_finish)
      : job_(job),
        timers_(timers),
        deadline_(deadline),
        on_finish_(std::move(on_finish)) {}
  JobContext(const JobContext&) = delete;
  JobContext& operator=(const JobContext&) = delete;

  const JobSpec& job() const { return *job_; }
  absl::string_view Param(absl::string_view name,
                          absl::string_view fallback = {}) const {
    return job_->Param(name, fallback);
  }
  // When this attempt must be over (the job's timeout or the call's
  // deadline, whichever is sooner).
  absl::Time deadline() const { return deadline_; }
  TimerService& timers() const { return *timers_; }

  // True once the job was asked to stop (failed sibling, deadline, client
  // cancel, drain). Lock-free.
  bool IsCancelled() const { return cancellation_.IsCancelled(); }
  // Runs `fn` (any callable taking no arguments) once when the job is asked
  // to stop (at once if it already was). `fn` must not block. Kept as it
  // is, not wrapped twice, so a small lambda costs one allocation at most.
  // Once the job has finished, `fn` is dropped unrun: a handler may finish
  // (on another thread) before it registers its callback, and a callback
  // holding this context must not outlive it.
  template <class Fn>
  void OnCancel(Fn fn) {
    cancellation_.OnCancel(
        [fn = std::move(fn)](const absl::Status&) mutable { fn(); });
    // Finish() clears the callbacks after it marks the context finished: a
    // callback registered after that clear is seen here and dropped.
    if (finished()) cancellation_.Clear();
  }

  // JobContext::Finish()
  //
  // Ends the handler's work with its output or error. The first call counts;
  // later ones are ignored. Returns without blocking.
  void Finish(absl::StatusOr<std::string> output) {
    if (finished_.exchange(true, std::memory_order_acq_rel)) return;
    // OnCancel() callbacks usually hold this context: drop them, or they
    // would keep it (and its attempt) alive forever.
    cancellation_.Clear();
    FinishFn fn = std::move(on_finish_);
    fn(std::move(output));
  }
  bool finished() const { return finished_.load(std::memory_order_acquire); }

  // For the executor: asks the handler to stop.
  void RequestCancel(absl::Status why) { cancellation_.Cancel(std::move(why)); }

 private:
  const JobSpec* const job_;
  TimerService* const timers_;
  const absl::Time deadline_;
  FinishFn on_finish_;  // Moved out by the first Finish().
  std::atomic<bool> finished_{false};
  CancellationSignal cancellation_;
};

using SyncHandler = std::function<absl::StatusOr<std::string>(JobContext&)>;
using AsyncHandler = std::function<void(std::shared_ptr<JobContext>)>;
// Checks a job's params before anything runs; returns INVALID_ARGUMENT
// naming the param ("params.ms: ...") when they are bad.
using ParamValidator = std::function<absl::Status(const JobSpec&)>;

struct KindInfo {
  std::string name;
  std::string backend;  // The backend whose permits the kind takes.
  std::string description;
};

// A registered kind: exactly one of `sync` and `async` is set.
class JobKind {
 public:
  KindInfo info;
  SyncHandler sync;
  AsyncHandler async;
  ParamValidator validate;
};

class KindRegistry {
 public:
  KindRegistry();
  KindRegistry(const KindRegistry&) = delete;
  KindRegistry& operator=(const KindRegistry&) = delete;

  // KindRegistry::Register()
  //
  // Adds a synchronous kind. ALREADY_EXISTS when the name is taken,
  // INVALID_ARGUMENT when the name or handler is empty.
  absl::Status Register(KindInfo info, SyncHandler handler,
                        ParamValidator validate = nullptr);
  // KindRegistry::RegisterAsync()
  //
  // Adds an asynchronous kind; errors as Register().
  absl::Status RegisterAsync(KindInfo info, AsyncHandler handler,
                             ParamValidator validate = nullptr);

  // The kind named `name`, or nullptr.
  const JobKind* Find(absl::string_view name) const;
  // Every kind, sorted by name.
  std::vector<const JobKind*> List() const;

 private:
  absl::Status Add(std::unique_ptr<JobKind> kind);
  // The table's id for FindRememberingLastHit() (last_hit.h).
  const uint64_t id_;
  absl::flat_hash_map<std::string, std::unique_ptr<JobKind>> kinds_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_JOB_KIND_H_

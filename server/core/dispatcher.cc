// Implementation of Attempt.
#include "server/core/dispatcher.h"

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace jobgroup {

std::shared_ptr<Attempt> Executor::Start(
    std::shared_ptr<const JobSpec> job, absl::Time deadline, DoneFn done,
    std::shared_ptr<const CancellationSignal> scope) {
  auto attempt = std::make_shared<Attempt>(this, std::move(job), deadline,
                                           std::move(done), std::move(scope));
  attempt->Begin();
  return attempt;
}

Attempt::Attempt(Executor* executor, std::shared_ptr<const JobSpec> job,
                 absl::Time deadline, DoneFn done,
                 std::shared_ptr<const CancellationSignal> scope)
    : executor_(executor),
      job_(std::move(job)),
      backend_(job_->resolved_backend),
      deadline_(job_->timeout > absl::ZeroDuration()
                    ? std::min(deadline, absl::Now() + job_->timeout)
                    : deadline),
      timeout_binds_(job_->timeout > absl::ZeroDuration() &&
                     deadline_ < deadline),
      admitted_(absl::Now()),
      scope_(std::move(scope)),
      done_(std::move(done)) {}

void Attempt::Begin() {
  std::shared_ptr<Attempt> self = shared_from_this();
  bool granted;
  {
    MutexLock lock(&mu_);
    if (job_->timeout > absl::ZeroDuration()) {
      timeout_timer_ = executor_->timers_->Schedule(
          deadline_, [self, timeout = job_->timeout] {
            self->End(absl::DeadlineExceededError(absl::StrCat(
                          "job timeout of ", absl::FormatDuration(timeout),
                          " exceeded")),
                      self->timeout_binds_);
          });
    }
    // The grant callback may run on another thread before we store the id;
    // it then waits for mu_, and finds the state it needs.
    waiter_ = backend_->AcquireOrWait(
        [self](absl::Duration waited) { self->OnPermit(waited); },
        scope_.get());
    granted = waiter_ == 0;
  }
  if (granted) OnPermit(absl::ZeroDuration());
}

void Attempt::OnPermit(absl::Duration waited) {
  if (executor_->observer_) {
    executor_->observer_->OnPermitWait(*backend_, waited);
  }
  bool cancelled;
  {
    MutexLock lock(&mu_);
    cancelled = state_ != State::kWaitingPermit;
    if (!cancelled) state_ = State::kQueued;
  }
  if (cancelled) {
    // Cancelled while the permit was on its way: give it back.
    backend_->Release();
    return;
  }
  if (scope_ && scope_->IsCancelled()) {
    Cancel(scope_->reason());
    return;
  }
  std::shared_ptr<Attempt> self = shared_from_this();
  if (!executor_->workers_->Submit([self] { self->RunOnWorker(); })) {
    Cancel(absl::UnavailableError("server is shutting down"));
  }
}

void Attempt::Cancel(absl::Status why) { End(std::move(why), false); }

void Attempt::End(absl::Status why, bool timed_out) {
  bool release_permit = false;
  bool tell_handler = false;
  TimerService::TimerId timer = 0;
  DoneFn done;
  AttemptResult result;
  {
    MutexLock lock(&mu_);
    if (done_called_) return;
    absl::Time now = absl::Now();
    switch (state_) {
      case State::kWaitingPermit:
        // If the permit was granted meanwhile, OnPermit sees kFinished and
        // returns it.
        backend_->CancelWait(waiter_);
        state_ = State::kFinished;
        break;
      case State::kQueued:
        state_ = State::kFinished;  // The worker skips it.
        release_permit = true;
        break;
      case State::kRunning:
        tell_handler = true;
        executor_->abandoned_.fetch_add(1);
        break;
      case State::kFinished:
        return;
    }
    done_called_ = true;
    done = std::move(done_);
    std::swap(timer, timeout_timer_);
    result.ran = tell_handler;
    result.run_time = tell_handler ? now - started_ : absl::ZeroDuration();
    result.queue_time = (tell_handler ? started_ : now) - admitted_;
  }
  if (timer != 0) executor_->timers_->Cancel(timer);
  if (release_permit) backend_->Release();
  result.output = why;
  result.cancelled = true;
  result.timed_out = timed_out;
  done(std::move(result));
  if (tell_handler) context_->RequestCancel(std::move(why));
}

bool Attempt::Progress(absl::Duration* queued, absl::Duration* ran) {
  MutexLock lock(&mu_);
  if (started_ == absl::Time()) return false;
  *queued = started_ - admitted_;
  *ran = absl::Now() - started_;
  return true;
}

void Attempt::RunOnWorker() {
  absl::Duration queued;
  std::shared_ptr<Attempt> self = shared_from_this();
  if (scope_ && scope_->IsCancelled()) {
    Cancel(scope_->reason());  // Queued: gives the permit back.
    return;
  }
  {
    MutexLock lock(&mu_);
    if (state_ != State::kQueued) return;  // Cancelled in the queue.
    state_ = State::kRunning;
    started_ = absl::Now();
    queued = started_ - admitted_;
    executor_->running_.fetch_add(1);
    // Built under mu_ so that Cancel() never sees kRunning without it.
    context_.emplace(job_.get(), executor_->timers_, deadline_,
                     [self](absl::StatusOr<std::string> output) {
                       self->OnHandlerFinished(std::move(output));
                     });
  }
  const JobKind& kind = *job_->resolved_kind;
  if (executor_->observer_) {
    executor_->observer_->OnHandlerStart(*job_, queued);
  }
  // Handlers are user code: an exception costs this job only.
  try {
    if (kind.sync) {
      absl::StatusOr<std::string> out = kind.sync(*context_);
      context_->Finish(std::move(out));
    } else {
      kind.async(std::shared_ptr<JobContext>(self, &*context_));
    }
  } catch (const std::exception& e) {
    context_->Finish(
        absl::InternalError(absl::StrCat("handler threw: ", e.what())));
  } catch (...) {
    context_->Finish(absl::InternalError("handler threw a non-exception"));
  }
}

void Attempt::OnHandlerFinished(absl::StatusOr<std::string> output) {
  AttemptResult result;
  DoneFn done;
  TimerService::TimerId timer = 0;
  {
    MutexLock lock(&mu_);
    state_ = State::kFinished;
    result.ran = true;
    result.run_time = absl::Now() - started_;
    result.queue_time = started_ - admitted_;
    if (!done_called_) {
      done_called_ = true;
      done = std::move(done_);
    }
    std::swap(timer, timeout_timer_);
  }
  if (timer != 0) executor_->timers_->Cancel(timer);
  executor_->running_.fetch_sub(1);
  if (!done) executor_->abandoned_.fetch_sub(1);
  if (executor_->observer_) {
    executor_->observer_->OnHandlerEnd(*job_, result.run_time);
  }
  backend_->Release();
  if (done) {
    // A handler that watched its deadline and gave up when the job's
    // timeout passed timed out as surely as one the timer cancelled.
    result.timed_out = timeout_binds_ &&
                       absl::IsDeadlineExceeded(output.status()) &&
                       absl::Now() >= deadline_;
    result.output = std::move(output);
    done(std::move(result));
  }
}

}  // namespace jobgroup

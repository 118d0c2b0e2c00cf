// Implementation of AsyncJobRun.
#include "server/core/async_job_run.h"

#include <exception>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace jobgroup {

bool AsyncJobRun::CanRun(const JobSpec& job, const RetryPolicy& retry) {
  return Plain(job, retry) && job.resolved_kind->async != nullptr;
}

AsyncJobRun::AsyncJobRun(Dispatcher* dispatcher,
                         std::vector<std::shared_ptr<const JobSpec>> jobs,
                         absl::Time deadline,
                         std::shared_ptr<const CancellationSignal> scope)
    : JobRun(dispatcher, std::move(jobs), deadline, std::move(scope)),
      slots_(jobs_.size()) {}

void AsyncJobRun::Start(ReportFn report) {
  report_ = std::move(report);
  admitted_ = absl::Now();
  std::shared_ptr<AsyncJobRun> self = shared_from_this();
  bool submit = false;
  int granted_at_once = 0;
  {
    MutexLock lock(&mu_);
    for (uint32_t i = 0; i < slots_.size() && !cancelled_; ++i) {
      Slot& s = slots_[i];
      if (backend_->TryAcquire()) {
        ++granted_at_once;
        MakeReadyLocked(i, &submit);
        continue;
      }
      // A grant on another thread before the id is stored waits for mu_
      // in OnPermit and finds the state it needs.
      s.state = State::kWaitingPermit;
      s.waiter = backend_->AcquireOrWait(
          [self, i](absl::Duration waited) { self->OnPermit(i, waited); },
          scope_.get());
      if (s.waiter == 0) {
        ++granted_at_once;
        MakeReadyLocked(i, &submit);
      }
    }
  }
  if (DispatchObserver* observer = dispatcher_->observer_) {
    for (int k = 0; k < granted_at_once; ++k) {
      observer->OnPermitWait(*backend_, absl::ZeroDuration());
    }
  }
  if (submit) SubmitStart();
}

void AsyncJobRun::MakeReadyLocked(uint32_t i, bool* submit) {
  slots_[i].state = State::kReady;
  ready_.push_back(i);
  if (!start_queued_) {
    start_queued_ = true;
    *submit = true;
  }
}

void AsyncJobRun::OnPermit(uint32_t i, absl::Duration waited) {
  if (dispatcher_->observer_) {
    dispatcher_->observer_->OnPermitWait(*backend_, waited);
  }
  bool submit = false;
  bool give_back = false;
  {
    MutexLock lock(&mu_);
    if (slots_[i].state != State::kWaitingPermit) {
      give_back = true;  // Cancelled while the permit was on its way.
    } else {
      MakeReadyLocked(i, &submit);
    }
  }
  if (give_back) backend_->Release();
  if (submit) SubmitStart();
}

void AsyncJobRun::SubmitStart() {
  std::shared_ptr<AsyncJobRun> self = shared_from_this();
  if (dispatcher_->workers_->Submit([self] { self->StartReady(); })) return;
  // Shutting down: the jobs holding a permit end CANCELLED.
  std::vector<uint32_t> ready;
  {
    MutexLock lock(&mu_);
    ready.swap(ready_);
    start_queued_ = false;
    for (uint32_t i : ready) slots_[i].state = State::kDone;
  }
  absl::Status why = absl::UnavailableError("server is shutting down");
  for (uint32_t i : ready) {
    backend_->Release();
    JobResult r;
    r.index = i;
    r.outcome = OutcomeForCancellation(why);
    r.error = why;
    AddResult(std::move(r));
  }
}

void AsyncJobRun::StartReady() {
  std::shared_ptr<AsyncJobRun> self = shared_from_this();
  std::vector<uint32_t> ready;
  {
    MutexLock lock(&mu_);
    ready.swap(ready_);
    start_queued_ = false;
  }
  DispatchObserver* observer = dispatcher_->observer_;
  for (uint32_t i : ready) {
    absl::Time now = absl::Now();
    // After the group's cancellation or deadline nothing starts; the group
    // settles the job (at once, or when its deadline timer fires).
    bool stop = (scope_ && scope_->IsCancelled()) || now >= deadline_;
    JobContext* context = nullptr;
    {
      MutexLock lock(&mu_);
      Slot& s = slots_[i];
      if (s.state != State::kReady) continue;  // Cancelled meanwhile.
      if (stop) {
        s.state = State::kDone;
      } else {
        s.state = State::kRunning;
        s.started = now;
        // The context stays in the run; `this` outlives it.
        s.context.emplace(jobs_[i].get(), dispatcher_->timers_, deadline_,
                          [this, i](absl::StatusOr<std::string> out) {
                            OnFinished(i, std::move(out));
                          });
        context = &*s.context;
      }
    }
    if (stop) {
      backend_->Release();
      continue;
    }
    dispatcher_->running_.fetch_add(1, std::memory_order_relaxed);
    if (observer) observer->OnHandlerStart(*jobs_[i], now - admitted_);
    // The handler's hold on its context keeps the whole run alive.
    std::shared_ptr<JobContext> held(self, context);
    // Handlers are user code: an exception costs this job only.
    try {
      kind_->async(held);
    } catch (const std::exception& e) {
      context->Finish(
          absl::InternalError(absl::StrCat("handler threw: ", e.what())));
    } catch (...) {
      context->Finish(absl::InternalError("handler threw a non-exception"));
    }
  }
}

void AsyncJobRun::OnFinished(uint32_t i, absl::StatusOr<std::string> output) {
  const absl::Time now = absl::Now();
  JobResult r;
  r.index = i;
  r.attempts = 1;
  bool abandoned;
  {
    MutexLock lock(&mu_);
    Slot& s = slots_[i];
    s.state = State::kDone;
    abandoned = s.abandoned;
    r.queue_time = s.started - admitted_;
    r.run_time = now - s.started;
  }
  dispatcher_->running_.fetch_sub(1, std::memory_order_relaxed);
  if (abandoned) dispatcher_->abandoned_.fetch_sub(1);
  if (dispatcher_->observer_) {
    dispatcher_->observer_->OnHandlerEnd(*jobs_[i], r.run_time);
  }
  backend_->Release();
  if (output.ok()) {
    r.outcome = JobOutcome::kSucceeded;
    r.output = *std::move(output);
  } else {
    r.outcome = JobOutcome::kFailed;
    r.error = output.status();
  }
  AddResult(std::move(r));
}

void AsyncJobRun::AddResult(JobResult r) {
  std::vector<JobResult> batch;
  {
    MutexLock lock(&mu_);
    unreported_.push_back(std::move(r));
    if (reporting_) return;  // The reporting thread takes it along.
    reporting_ = true;
    batch.swap(unreported_);
  }
  for (;;) {
    report_(std::move(batch));
    MutexLock lock(&mu_);
    if (unreported_.empty()) {
      reporting_ = false;
      return;
    }
    batch = std::move(unreported_);
    unreported_ = {};
  }
}

void AsyncJobRun::Cancel(const absl::Status& why) {
  std::vector<JobContext*> running;
  int give_back = 0;
  {
    MutexLock lock(&mu_);
    if (cancelled_) return;
    cancelled_ = true;
    for (Slot& s : slots_) {
      switch (s.state) {
        case State::kWaitingPermit:
          // Not asked yet (waiter 0), removed, or granted meanwhile: then
          // OnPermit sees kDone and gives the permit back.
          if (s.waiter != 0) backend_->CancelWait(s.waiter);
          s.state = State::kDone;
          break;
        case State::kReady:
          s.state = State::kDone;  // StartReady skips it.
          ++give_back;
          break;
        case State::kRunning:
          s.abandoned = true;
          dispatcher_->abandoned_.fetch_add(1);
          running.push_back(&*s.context);
          break;
        case State::kDone:
          break;
      }
    }
  }
  for (int k = 0; k < give_back; ++k) backend_->Release();
  // Outside mu_: a handler may finish from inside its cancel callback. The
  // contexts live as long as the run.
  for (JobContext* context : running) context->RequestCancel(why);
}

void AsyncJobRun::FillProgress(JobResult* result) {
  MutexLock lock(&mu_);
  if (result->index >= slots_.size()) return;
  const Slot& s = slots_[result->index];
  if (s.state != State::kRunning) return;
  result->attempts = 1;
  result->queue_time = s.started - admitted_;
  result->run_time = absl::Now() - s.started;
}

}  // namespace jobgroup

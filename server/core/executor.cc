// Executor and Lease: permit -> worker -> handler -> permit back.
#include "server/core/executor.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/core/caller_runs.h"

namespace jobgroup {
namespace {

// A handler's output as its job's result: SUCCEEDED with the output, or
// FAILED with the handler's error.
void SetOutput(absl::StatusOr<std::string>&& output, JobResult& r) {
  if (output.ok()) {
    r.outcome = JobOutcome::kSucceeded;
    r.output = *std::move(output);
  } else {
    r.outcome = JobOutcome::kFailed;
    r.error = output.status();
  }
}

}  // namespace

bool Lease::Plain(const JobSpec& job, const RetryPolicy& retry) {
  return job.rejected.ok() && job.resolved_kind != nullptr &&
         job.resolved_backend != nullptr && job.fallbacks.empty() &&
         job.timeout == absl::ZeroDuration() && retry.max_attempts <= 1;
}

bool Lease::SameLease(const JobSpec& a, const JobSpec& b) {
  return a.resolved_kind == b.resolved_kind &&
         a.resolved_backend == b.resolved_backend;
}

bool Lease::Cheap(const KindStats& stats) {
  int64_t ns = stats.typical_run_ns();
  return ns > 0 && ns * static_cast<int64_t>(kMaxBatch) <=
                       absl::ToInt64Nanoseconds(kSlice);
}

std::shared_ptr<Lease> Executor::Start(
    std::shared_ptr<const JobSpec> job, absl::Time deadline, DoneFn done,
    std::shared_ptr<const CancellationSignal> scope) {
  absl::Time until = deadline;
  if (job->timeout > absl::ZeroDuration()) {
    until = std::min(deadline, absl::Now() + job->timeout);
  }
  const bool timeout_binds = until < deadline;
  std::vector<std::shared_ptr<const JobSpec>> jobs;
  jobs.push_back(std::move(job));
  auto lease = std::make_shared<Lease>(this, Lease::Mode::kAttempt,
                                       std::move(jobs), until, std::move(scope),
                                       std::move(done), timeout_binds);
  lease->Begin();
  return lease;
}

std::shared_ptr<Lease> Executor::Run(
    std::vector<std::shared_ptr<const JobSpec>> jobs, absl::Time deadline,
    std::shared_ptr<const CancellationSignal> scope) {
  Lease::Mode mode = jobs.front()->resolved_kind->sync != nullptr
                         ? Lease::Mode::kSlices
                         : Lease::Mode::kTogether;
  return std::make_shared<Lease>(this, mode, std::move(jobs), deadline,
                                 std::move(scope));
}

Lease::Lease(Executor* executor, Mode mode,
             std::vector<std::shared_ptr<const JobSpec>> jobs,
             absl::Time deadline,
             std::shared_ptr<const CancellationSignal> scope, DoneFn done,
             bool timeout_binds)
    : executor_(executor),
      mode_(mode),
      jobs_(std::move(jobs)),
      kind_(jobs_.front()->resolved_kind),
      stats_(mode == Mode::kSlices ? &executor->kind_stats(*kind_) : nullptr),
      backend_(jobs_.front()->resolved_backend),
      deadline_(deadline),
      scope_(std::move(scope)),
      timeout_binds_(timeout_binds),
      slots_(mode == Mode::kSlices ? 1 : jobs_.size()),
      done_(std::move(done)) {}

void Lease::Start(ReportFn report) {
  report_ = std::move(report);
  Begin();
}

void Lease::Begin() {
  admitted_ = absl::Now();
  bool submit = false;
  int granted_at_once = 0;
  {
    MutexLock lock(&mu_);
    const absl::Duration timeout = jobs_.front()->timeout;
    if (mode_ == Mode::kAttempt && timeout > absl::ZeroDuration()) {
      std::shared_ptr<Lease> self = shared_from_this();
      timeout_timer_ = executor_->timers_->Schedule(deadline_, [self, timeout] {
        self->End(
            absl::DeadlineExceededError(absl::StrCat(
                "job timeout of ", absl::FormatDuration(timeout), " exceeded")),
            self->timeout_binds_);
      });
    }
    for (uint32_t i = 0; i < slots_.size() && !cancelled_; ++i) {
      AcquireLocked(i, &submit, &granted_at_once);
    }
  }
  if (ExecutorObserver* observer = executor_->observer_) {
    for (int k = 0; k < granted_at_once; ++k) {
      observer->OnPermitWait(*backend_, absl::ZeroDuration());
    }
  }
  if (submit) SubmitTrip();
}

void Lease::AcquireLocked(uint32_t i, bool* submit, int* granted_at_once) {
  Slot& s = slots_[i];
  if (backend_->TryAcquire()) {
    ++*granted_at_once;
    QueueLocked(i, submit);
    return;
  }
  // A grant on another thread before the id is stored waits for mu_ in
  // OnPermit and finds the step it needs.
  s.step = Step::kWaitingPermit;
  std::shared_ptr<Lease> self = shared_from_this();
  // The owner is the scope: the call whose jobs wait.
  s.waiter = backend_->AcquireOrWait(
      [self, i](absl::Duration waited) { self->OnPermit(i, waited); },
      scope_.get());
  if (s.waiter == 0) {
    ++*granted_at_once;
    QueueLocked(i, submit);
  }
}

void Lease::QueueLocked(uint32_t i, bool* submit) {
  slots_[i].step = Step::kQueued;
  queued_.push_back(i);
  if (!trip_submitted_) {
    trip_submitted_ = true;
    *submit = true;
  }
}

void Lease::OnPermit(uint32_t i, absl::Duration waited) {
  if (executor_->observer_) {
    executor_->observer_->OnPermitWait(*backend_, waited);
  }
  bool submit = false;
  bool give_back = false;
  {
    MutexLock lock(&mu_);
    if (slots_[i].step != Step::kWaitingPermit) {
      give_back = true;  // Cancelled while the permit was on its way.
    } else {
      QueueLocked(i, &submit);
    }
  }
  if (give_back) backend_->Release();
  if (submit) SubmitTrip();
}

void Lease::SubmitTrip() {
  WorkerPool::Task trip = [self = shared_from_this()] { self->OnWorker(); };
  // Quick enough to run on the thread that asked, if it lets us.
  if (mode_ == Mode::kSlices && Cheap(*stats_) &&
      CallerRuns::Keep(static_cast<uint32_t>(jobs_.size() - next_), trip)) {
    return;
  }
  if (executor_->workers_->Submit(std::move(trip))) return;
  // Shutting down: the jobs holding a permit end CANCELLED (in kSlices,
  // every job not run yet), reported as the last action.
  const absl::Status why = absl::UnavailableError("server is shutting down");
  if (mode_ == Mode::kAttempt) {
    {
      MutexLock lock(&mu_);
      trip_submitted_ = false;
      queued_.clear();
    }
    End(why, false);  // Gives the permit back.
    return;
  }
  absl::InlinedVector<uint32_t, 4> queued;
  {
    MutexLock lock(&mu_);
    trip_submitted_ = false;
    for (uint32_t i : queued_) {
      // A slot Cancel() dropped from the queue has its permit back already.
      if (slots_[i].step != Step::kQueued) continue;
      slots_[i].step = Step::kDone;
      queued.push_back(i);
    }
    queued_.clear();
  }
  for (uint32_t i : queued) {
    backend_->Release();
    if (mode_ == Mode::kTogether) AddResult(NotStartedResult(i, why));
  }
  if (mode_ == Mode::kSlices && !queued.empty()) {
    std::vector<JobResult> rest;
    EndTheRest(why, &rest);
    Report(&rest);
  }
}

void Lease::OnWorker() {
  if (mode_ == Mode::kSlices) {
    RunSlice();
  } else {
    StartQueued();
  }
}

JobResult Lease::NotStartedResult(size_t i, const absl::Status& why) {
  JobResult r;
  r.index = i;
  r.outcome = OutcomeForCancellation(why);
  r.error = why;
  return r;
}

void Lease::EndTheRest(const absl::Status& why, std::vector<JobResult>* batch) {
  batch->reserve(batch->size() + (jobs_.size() - next_));
  for (; next_ < jobs_.size(); ++next_) {
    batch->push_back(NotStartedResult(next_, why));
  }
}

bool Lease::ShouldStop(absl::Time now) const {
  return ScopeCancelled() || (mode_ != Mode::kAttempt && now >= deadline_);
}

bool Lease::ScopeCancelled() const { return scope_ && scope_->IsCancelled(); }

absl::Status Lease::PastDeadline() {
  return absl::DeadlineExceededError(
      "the call's deadline passed before the job started");
}

absl::Status Lease::ThrownError() {
  try {
    throw;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("handler threw: ", e.what()));
  } catch (...) {
    return absl::InternalError("handler threw a non-exception");
  }
}

absl::StatusOr<std::string> Lease::CallSync(JobContext& ctx) {
  try {
    return kind_->sync(ctx);
  } catch (...) {
    return ThrownError();
  }
}

void Lease::StartHandler(JobContext& ctx, std::shared_ptr<JobContext> held) {
  if (kind_->sync) {
    ctx.Finish(CallSync(ctx));
    return;
  }
  try {
    kind_->async(std::move(held));
  } catch (...) {
    ctx.Finish(ThrownError());
  }
}

void Lease::HandlerStarted(const JobSpec& job, absl::Duration queued) {
  executor_->running_.fetch_add(1, std::memory_order_relaxed);
  if (executor_->observer_) executor_->observer_->OnHandlerStart(job, queued);
}

void Lease::HandlerEnded(const JobSpec& job, absl::Duration ran,
                         bool abandoned) {
  executor_->running_.fetch_sub(1, std::memory_order_relaxed);
  if (abandoned) executor_->abandoned_.fetch_sub(1);
  if (executor_->observer_) executor_->observer_->OnHandlerEnd(job, ran);
}

void Lease::StartQueued() {
  std::shared_ptr<Lease> self = shared_from_this();
  absl::InlinedVector<uint32_t, 4> queued;
  {
    MutexLock lock(&mu_);
    queued.swap(queued_);
    trip_submitted_ = false;
  }
  for (uint32_t i : queued) {
    absl::Time now = absl::Now();
    // After the group's cancellation or deadline nothing starts. The group
    // settles the job when it cancelled; past the deadline the job ends
    // here, which tells the group (TaskGroup::OnReport()): its deadline
    // timer may not have fired yet, and the lease may be all that holds it.
    bool stop = ShouldStop(now);
    if (stop && mode_ == Mode::kAttempt) {
      End(scope_->reason(), false);  // Queued: gives the permit back.
      continue;
    }
    JobContext* context = nullptr;
    {
      MutexLock lock(&mu_);
      Slot& s = slots_[i];
      if (s.step != Step::kQueued) continue;  // Cancelled meanwhile.
      if (stop) {
        s.step = Step::kDone;
      } else {
        s.step = Step::kRunning;
        s.job = i;
        s.started = now;
        // The context stays in the lease; `this` outlives it.
        s.context.emplace(jobs_[i].get(), executor_->timers_, deadline_,
                          [this, i](absl::StatusOr<std::string> out) {
                            OnFinished(i, std::move(out));
                          });
        context = s.running = &*s.context;
      }
    }
    if (stop) {
      backend_->Release();
      if (!ScopeCancelled()) AddResult(NotStartedResult(i, PastDeadline()));
      continue;
    }
    HandlerStarted(*jobs_[i], now - admitted_);
    // The handler's hold on its context keeps the whole lease alive.
    StartHandler(*context, std::shared_ptr<JobContext>(self, context));
  }
}

void Lease::OnFinished(uint32_t i, absl::StatusOr<std::string> output) {
  const absl::Time now = absl::Now();
  JobResult r;
  r.index = i;
  r.attempts = 1;
  bool abandoned;
  DoneFn done;
  TimerService::TimerId timer = 0;
  {
    MutexLock lock(&mu_);
    Slot& s = slots_[i];
    s.step = Step::kDone;
    s.running = nullptr;
    abandoned = s.abandoned;
    r.queue_time = s.started - admitted_;
    r.run_time = now - s.started;
    if (mode_ == Mode::kAttempt) {
      if (!ended_) {
        ended_ = true;
        done = std::move(done_);
      }
      std::swap(timer, timeout_timer_);
    }
  }
  if (timer != 0) executor_->timers_->Cancel(timer);
  HandlerEnded(*jobs_[i], r.run_time, abandoned);
  backend_->Release();
  if (mode_ == Mode::kAttempt) {
    if (!done) return;  // Reported when it was cancelled.
    AttemptResult result;
    result.ran = true;
    result.queue_time = r.queue_time;
    result.run_time = r.run_time;
    // A handler that watched its deadline and gave up when the job's
    // timeout passed timed out as surely as one the timer cancelled.
    result.timed_out = timeout_binds_ &&
                       absl::IsDeadlineExceeded(output.status()) &&
                       absl::Now() >= deadline_;
    result.output = std::move(output);
    done(std::move(result));
    return;
  }
  SetOutput(std::move(output), r);
  AddResult(std::move(r));
}

void Lease::RunSlice() {
  std::shared_ptr<Lease> self = shared_from_this();
  {
    MutexLock lock(&mu_);
    queued_.clear();
    trip_submitted_ = false;
    if (slots_[0].step != Step::kQueued) return;  // Cancelled in the queue.
    slots_[0].step = Step::kRunning;
  }
  // One count for the whole slice: it runs one handler at a time.
  executor_->running_.fetch_add(1, std::memory_order_relaxed);
  ExecutorObserver* observer = executor_->observer_;
  const absl::Time slice_start = absl::Now();
  const size_t slice_first = next_;
  // Instants, not differences, are compared per job: absl's Time
  // arithmetic is out of line, and a job's handler may be a few dozen
  // instructions.
  const absl::Time slice_end = slice_start + kSlice;
  absl::Time flush_at = slice_start + kFlushAfter;
  absl::Time now = slice_start;
  bool stopped = false;
  bool past_deadline = false;
  std::vector<JobResult> batch;
  batch.reserve(std::min(kMaxBatch, jobs_.size() - next_));
  while (next_ < jobs_.size()) {
    if (ShouldStop(now)) {
      stopped = true;
      past_deadline = !ScopeCancelled();
      break;
    }
    if (now >= slice_end) break;  // Yield.
    const JobSpec& job = *jobs_[next_];
    JobContext ctx(&job, executor_->timers_, deadline_,
                   [](absl::StatusOr<std::string>) {});
    const absl::Time started = now;
    {
      MutexLock lock(&mu_);
      if (cancelled_) {
        stopped = true;
        break;
      }
      Slot& s = slots_[0];
      s.running = &ctx;
      s.job = static_cast<uint32_t>(next_);
      s.started = started;
    }
    const absl::Duration queue_time = started - admitted_;
    if (observer) observer->OnHandlerStart(job, queue_time);
    absl::StatusOr<std::string> out = CallSync(ctx);
    now = absl::Now();
    bool abandoned;
    {
      MutexLock lock(&mu_);
      Slot& s = slots_[0];
      s.running = nullptr;
      abandoned = s.abandoned;
      s.abandoned = false;
    }
    if (abandoned) executor_->abandoned_.fetch_sub(1);
    const absl::Duration run_time = now - started;
    if (observer) observer->OnHandlerEnd(job, run_time);
    JobResult& r = batch.emplace_back();
    r.index = next_;
    r.attempts = 1;
    r.queue_time = queue_time;
    r.run_time = run_time;
    SetOutput(std::move(out), r);
    ++next_;
    if (next_ < jobs_.size() &&
        (r.outcome == JobOutcome::kFailed || batch.size() >= kMaxBatch ||
         now >= flush_at)) {
      // A failure goes out at once: under fail-fast it cancels the rest.
      Report(&batch);
      flush_at = now + kFlushAfter;
    }
  }
  executor_->running_.fetch_sub(1, std::memory_order_relaxed);
  if (next_ > slice_first) {
    // Keep the kind's typical run time: the average over this slice,
    // weighed 1/4 against what was known.
    stats_->RecordRuns(now - slice_start, next_ - slice_first);
  }
  // The jobs left end here, as in StartQueued(): past the deadline the
  // group may know of it only from this report.
  if (past_deadline) EndTheRest(PastDeadline(), &batch);
  bool more = !stopped && next_ < jobs_.size();
  {
    MutexLock lock(&mu_);
    if (more && cancelled_) more = false;
    slots_[0].step = more ? Step::kIdle : Step::kDone;
  }
  // The permit goes back before the last report, so that every permit is
  // free once the group has every outcome.
  backend_->Release();
  Report(&batch);
  if (more) {
    AcquireNextSlice();  // Queues behind whoever waited meanwhile.
  } else {
    report_ = nullptr;  // Holds the group; the lease is over.
  }
}

void Lease::AcquireNextSlice() {
  bool submit = false;
  int granted_at_once = 0;
  {
    MutexLock lock(&mu_);
    if (cancelled_) {
      slots_[0].step = Step::kDone;
      return;
    }
    AcquireLocked(0, &submit, &granted_at_once);
  }
  if (granted_at_once != 0 && executor_->observer_) {
    executor_->observer_->OnPermitWait(*backend_, absl::ZeroDuration());
  }
  if (submit) SubmitTrip();
}

void Lease::Report(std::vector<JobResult>* batch) {
  if (batch->empty()) return;
  std::vector<JobResult> out;
  out.swap(*batch);
  batch->reserve(std::min(kMaxBatch, jobs_.size() - next_));
  report_(std::move(out));
}

void Lease::AddResult(JobResult r) {
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

void Lease::End(absl::Status why, bool timed_out) {
  bool release_permit = false;
  JobContext* running = nullptr;
  TimerService::TimerId timer = 0;
  DoneFn done;
  AttemptResult result;
  {
    MutexLock lock(&mu_);
    if (ended_) return;
    const absl::Time now = absl::Now();
    Slot& s = slots_[0];
    switch (s.step) {
      case Step::kWaitingPermit:
        // If the permit was granted meanwhile, OnPermit sees kDone and
        // gives it back.
        backend_->CancelWait(s.waiter);
        break;
      case Step::kQueued:
        release_permit = true;  // The worker skips it.
        break;
      case Step::kRunning:
        running = s.running;
        s.abandoned = true;
        executor_->abandoned_.fetch_add(1);
        break;
      case Step::kIdle:
      case Step::kDone:
        break;
    }
    if (running == nullptr) s.step = Step::kDone;
    ended_ = true;
    cancelled_ = true;
    done = std::move(done_);
    std::swap(timer, timeout_timer_);
    result.ran = running != nullptr;
    result.run_time = result.ran ? now - s.started : absl::ZeroDuration();
    result.queue_time = (result.ran ? s.started : now) - admitted_;
  }
  if (timer != 0) executor_->timers_->Cancel(timer);
  if (release_permit) backend_->Release();
  result.output = why;
  result.cancelled = true;
  result.timed_out = timed_out;
  done(std::move(result));
  // Outside mu_: a handler may finish from inside its cancel callback. The
  // context lives as long as the lease.
  if (running != nullptr) running->RequestCancel(std::move(why));
}

bool Lease::Progress(absl::Duration* queued, absl::Duration* ran) {
  MutexLock lock(&mu_);
  const Slot& s = slots_[0];
  if (s.started == absl::Time()) return false;
  *queued = s.started - admitted_;
  *ran = absl::Now() - s.started;
  return true;
}

void Lease::Cancel(const absl::Status& why) {
  if (mode_ == Mode::kAttempt) {
    End(why, false);
    return;
  }
  std::vector<JobContext*> running;
  int give_back = 0;
  {
    MutexLock lock(&mu_);
    if (cancelled_) return;
    cancelled_ = true;
    for (Slot& s : slots_) {
      switch (s.step) {
        case Step::kWaitingPermit:
          // Removed, or granted meanwhile: then OnPermit sees kDone and
          // gives the permit back.
          backend_->CancelWait(s.waiter);
          s.step = Step::kDone;
          break;
        case Step::kQueued:
          s.step = Step::kDone;  // The worker skips it.
          ++give_back;
          break;
        case Step::kRunning:
          // kSlices between two jobs: the worker stops before the next.
          if (s.running == nullptr) break;
          s.abandoned = true;
          executor_->abandoned_.fetch_add(1);
          if (mode_ == Mode::kSlices) {
            // Under mu_: the context lives on the worker's stack until the
            // worker clears `running` under mu_. A synchronous handler's
            // finish callback does nothing, so this cannot re-enter.
            s.running->RequestCancel(why);
          } else {
            running.push_back(s.running);
          }
          break;
        case Step::kIdle:
          // kSlices between two slices: AcquireNextSlice() sees cancelled_.
          if (mode_ == Mode::kTogether) s.step = Step::kDone;
          break;
        case Step::kDone:
          break;
      }
    }
  }
  for (int k = 0; k < give_back; ++k) backend_->Release();
  // Outside mu_: a handler may finish from inside its cancel callback. The
  // contexts live as long as the lease.
  for (JobContext* context : running) context->RequestCancel(why);
}

void Lease::FillProgress(JobResult* result) {
  MutexLock lock(&mu_);
  const size_t i = mode_ == Mode::kSlices ? 0 : result->index;
  if (i >= slots_.size()) return;
  const Slot& s = slots_[i];
  if (s.running == nullptr || s.job != result->index) return;
  result->attempts = 1;
  result->queue_time = s.started - admitted_;
  result->run_time = absl::Now() - s.started;
}

}  // namespace jobgroup

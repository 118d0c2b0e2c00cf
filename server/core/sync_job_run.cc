// Implementation of SyncJobRun.
#include "server/core/sync_job_run.h"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace jobgroup {
namespace {

// Runs a synchronous handler; an exception costs this job only.
absl::StatusOr<std::string> RunHandler(const JobKind& kind, JobContext& ctx) {
  try {
    return kind.sync(ctx);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("handler threw: ", e.what()));
  } catch (...) {
    return absl::InternalError("handler threw a non-exception");
  }
}

}  // namespace

bool SyncJobRun::CanRun(const JobSpec& job, const RetryPolicy& retry) {
  return Plain(job, retry) && job.resolved_kind->sync != nullptr;
}

bool SyncJobRun::Cheap(const JobKind& kind) {
  int64_t ns = kind.typical_run_ns.load(std::memory_order_relaxed);
  return ns > 0 && ns * static_cast<int64_t>(kMaxBatch) <=
                       absl::ToInt64Nanoseconds(kSlice);
}

int64_t SyncJobRun::NextTypicalRunNs(int64_t old_ns, absl::Duration elapsed,
                                     size_t jobs) {
  int64_t avg = absl::ToInt64Nanoseconds(elapsed) / static_cast<int64_t>(jobs);
  return old_ns == 0 ? avg : (3 * old_ns + avg) / 4;
}

SyncJobRun::SyncJobRun(Executor* executor,
                       std::vector<std::shared_ptr<const JobSpec>> jobs,
                       absl::Time deadline,
                       std::shared_ptr<const CancellationSignal> scope)
    : JobRun(executor, std::move(jobs), deadline, std::move(scope)) {}

void SyncJobRun::Start(ReportFn report) {
  report_ = std::move(report);
  admitted_ = absl::Now();
  Acquire();
}

void SyncJobRun::Acquire() {
  std::shared_ptr<SyncJobRun> self = shared_from_this();
  bool granted;
  {
    MutexLock lock(&mu_);
    if (cancelled_) {
      state_ = State::kDone;
      return;
    }
    state_ = State::kWaitingPermit;
    // A grant on another thread before the id is stored waits for mu_ in
    // OnPermit and finds the state it needs.
    waiter_ = backend_->AcquireOrWait(
        [self](absl::Duration waited) { self->OnPermit(waited); },
        scope_.get());
    granted = waiter_ == 0;
  }
  if (granted) OnPermit(absl::ZeroDuration());
}

void SyncJobRun::OnPermit(absl::Duration waited) {
  if (executor_->observer_) {
    executor_->observer_->OnPermitWait(*backend_, waited);
  }
  {
    MutexLock lock(&mu_);
    if (state_ != State::kWaitingPermit) {
      // Cancelled while the permit was on its way: give it back.
      backend_->Release();
      return;
    }
    state_ = State::kQueued;
  }
  std::shared_ptr<SyncJobRun> self = shared_from_this();
  if (executor_->workers_->Submit([self] { self->RunSlice(); })) return;
  // Shutting down: the jobs not run end CANCELLED, reported as the last
  // action.
  {
    MutexLock lock(&mu_);
    state_ = State::kDone;
  }
  backend_->Release();
  absl::Status why = absl::UnavailableError("server is shutting down");
  std::vector<JobResult> rest(jobs_.size() - next_);
  for (size_t k = 0; k < rest.size(); ++k) {
    rest[k].index = next_ + k;
    rest[k].outcome = OutcomeForCancellation(why);
    rest[k].error = why;
  }
  next_ = jobs_.size();
  Report(&rest);
}

bool SyncJobRun::ShouldStop(absl::Time now) const {
  return (scope_ && scope_->IsCancelled()) || now >= deadline_;
}

void SyncJobRun::RunSlice() {
  std::shared_ptr<SyncJobRun> self = shared_from_this();
  {
    MutexLock lock(&mu_);
    if (state_ != State::kQueued) return;  // Cancelled in the queue.
    state_ = State::kRunning;
  }
  executor_->running_.fetch_add(1, std::memory_order_relaxed);
  DispatchObserver* observer = executor_->observer_;
  const absl::Time slice_start = absl::Now();
  const size_t slice_first = next_;
  absl::Time now = slice_start;
  absl::Time last_report = slice_start;
  bool stopped = false;
  std::vector<JobResult> batch;
  batch.reserve(std::min(kMaxBatch, jobs_.size() - next_));
  while (next_ < jobs_.size()) {
    if (ShouldStop(now)) {
      stopped = true;
      break;
    }
    if (now - slice_start >= kSlice) break;  // Yield.
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
      current_ = &ctx;
      current_index_ = next_;
      current_started_ = started;
    }
    if (observer) observer->OnHandlerStart(job, started - admitted_);
    absl::StatusOr<std::string> out = RunHandler(*kind_, ctx);
    now = absl::Now();
    bool abandoned;
    {
      MutexLock lock(&mu_);
      current_ = nullptr;
      abandoned = current_abandoned_;
      current_abandoned_ = false;
    }
    if (abandoned) executor_->abandoned_.fetch_sub(1);
    if (observer) observer->OnHandlerEnd(job, now - started);
    JobResult& r = batch.emplace_back();
    r.index = next_;
    r.attempts = 1;
    r.queue_time = started - admitted_;
    r.run_time = now - started;
    if (out.ok()) {
      r.outcome = JobOutcome::kSucceeded;
      r.output = *std::move(out);
    } else {
      r.outcome = JobOutcome::kFailed;
      r.error = out.status();
    }
    ++next_;
    if (next_ < jobs_.size() && (!out.ok() || batch.size() >= kMaxBatch ||
                                 now - last_report >= kFlushAfter)) {
      // A failure goes out at once: under fail-fast it cancels the rest.
      Report(&batch);
      last_report = now;
    }
  }
  executor_->running_.fetch_sub(1, std::memory_order_relaxed);
  if (next_ > slice_first) {
    // Keep the kind's typical run time: the average over this slice,
    // weighed 1/4 against what was known.
    int64_t old = kind_->typical_run_ns.load(std::memory_order_relaxed);
    kind_->typical_run_ns.store(
        NextTypicalRunNs(old, now - slice_start, next_ - slice_first),
        std::memory_order_relaxed);
  }
  bool more = !stopped && next_ < jobs_.size();
  {
    MutexLock lock(&mu_);
    if (more && cancelled_) more = false;
    state_ = more ? State::kIdle : State::kDone;
  }
  // The permit goes back before the last report, so that every permit is
  // free once the group has every outcome.
  backend_->Release();
  Report(&batch);
  if (more) {
    Acquire();  // Queues behind whoever waited meanwhile.
  } else {
    report_ = nullptr;  // Holds the group; the run is over.
  }
}

void SyncJobRun::Report(std::vector<JobResult>* batch) {
  if (batch->empty()) return;
  std::vector<JobResult> out;
  out.swap(*batch);
  batch->reserve(std::min(kMaxBatch, jobs_.size() - next_));
  report_(std::move(out));
}

void SyncJobRun::Cancel(const absl::Status& why) {
  bool release_permit = false;
  {
    MutexLock lock(&mu_);
    if (cancelled_) return;
    cancelled_ = true;
    switch (state_) {
      case State::kWaitingPermit:
        // If the permit was granted meanwhile, OnPermit sees kDone and
        // gives it back.
        backend_->CancelWait(waiter_);
        state_ = State::kDone;
        break;
      case State::kQueued:
        state_ = State::kDone;  // The worker skips it.
        release_permit = true;
        break;
      case State::kRunning:
        if (current_ != nullptr) {
          // Under mu_: the context lives on the worker's stack until the
          // worker clears current_ under mu_.
          current_abandoned_ = true;
          executor_->abandoned_.fetch_add(1);
          current_->RequestCancel(why);
        }
        break;
      case State::kIdle:
      case State::kDone:
        break;
    }
  }
  if (release_permit) backend_->Release();
}

void SyncJobRun::FillProgress(JobResult* result) {
  MutexLock lock(&mu_);
  if (current_ == nullptr || result->index != current_index_) return;
  result->attempts = 1;
  result->queue_time = current_started_ - admitted_;
  result->run_time = absl::Now() - current_started_;
}

}  // namespace jobgroup

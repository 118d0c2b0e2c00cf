// Implementation of BatchRun.
#include "server/core/batch_run.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/time/clock.h"

namespace jobgroup {
namespace {

uint64_t WindowFor(const BatchRun::Options& o) {
  uint64_t w = std::numeric_limits<uint64_t>::max();
  if (o.max_concurrency > 0) w = o.max_concurrency;
  if (o.batch_size > 0) w = std::min<uint64_t>(w, o.batch_size);
  return w;
}

}  // namespace

std::shared_ptr<BatchRun> BatchRun::Create(Executor* executor, Options options,
                                           ResultSink* sink) {
  auto run = std::make_shared<BatchRun>(executor, options, sink);
  if (options.deadline != absl::InfiniteFuture()) {
    // The call's own deadline covers time between rounds and idle input too.
    std::weak_ptr<BatchRun> weak = run;
    TimerService::TimerId id =
        executor->timers()->Schedule(options.deadline, [weak] {
          if (auto r = weak.lock()) r->Cancel(CancelCause::kDeadline);
        });
    MutexLock lock(&run->mu_);
    run->deadline_timer_ = id;
  }
  return run;
}

BatchRun::BatchRun(Executor* executor, Options options, ResultSink* sink)
    : executor_(executor),
      options_(options),
      sink_(sink),
      window_(WindowFor(options)),
      started_(absl::Now()) {}

bool BatchRun::AddJobs(uint64_t count, JobFactory factory) {
  Cancellation cancelled;
  {
    MutexLock lock(&mu_);
    if (input_closed_) return false;
    if (factory_ == nullptr) {
      factory_ = std::make_shared<const JobFactory>(std::move(factory));
    }
    added_ += count;
    ledger_.Extend(added_);
    cancelled = cancelled_;
  }
  if (cancelled.cancelled()) {
    SettlePending(cancelled);
    return true;
  }
  Pump();
  return true;
}

void BatchRun::CloseInput() {
  {
    MutexLock lock(&mu_);
    input_closed_ = true;
  }
  CloseRoundIfDue();
  Pump();
  MaybeFinish();
}

void BatchRun::Cancel(CancelCause cause, absl::Status why) {
  CancelWith(Cancellation::Of(cause, std::move(why)));
}

void BatchRun::Cancel(absl::Status why) {
  CancelWith(Cancellation::FromStatus(std::move(why)));
}

void BatchRun::CancelWith(Cancellation why) {
  std::shared_ptr<TaskGroup> group;
  {
    MutexLock lock(&mu_);
    if (cancelled_.cancelled() || done_) return;
    cancelled_ = why;
    group = group_;
    ++delivering_;  // The sink's OnCancelled(): OnDone() waits for it.
  }
  if (group) group->Cancel(why.cause, why.status);
  SettlePending(why);
  TellCancelled(why);
  CloseRoundIfDue();
  MaybeFinish();
}

void BatchRun::TellCancelled(const Cancellation& why) {
  sink_->OnCancelled(why);
  MutexLock lock(&mu_);
  --delivering_;
}

void BatchRun::Ack(uint64_t n) {
  {
    MutexLock lock(&mu_);
    unacked_ -= std::min(n, unacked_);
  }
  Pump();
}

uint64_t BatchRun::pending() const {
  MutexLock lock(&mu_);
  return added_ - next_;
}

BatchRun::Progress BatchRun::progress() const {
  MutexLock lock(&mu_);
  Progress p;
  p.added = added_;
  p.pending = added_ - next_;
  p.done = ledger_.summary();
  p.cancel_cause = cancelled_.cause;
  if (group_ != nullptr) p.wait_owner = group_->scope().get();
  return p;
}

uint64_t BatchRun::in_window() const {
  MutexLock lock(&mu_);
  return running_ + unacked_;
}

void BatchRun::Pump() {
  // A spawn can settle a job on this very thread (a rejected job, a group
  // already cancelled), which calls Pump() again from inside the loop
  // below; the outer loop re-checks everything after each spawn, so the
  // inner call returns at once instead of nesting ever deeper.
  thread_local const BatchRun* pumping = nullptr;
  if (pumping == this) return;
  const BatchRun* outer = pumping;
  pumping = this;
  struct Restore {
    const BatchRun* outer;
    ~Restore() { pumping = outer; }
  } restore{outer};
  std::shared_ptr<BatchRun> self = shared_from_this();
  for (;;) {
    std::shared_ptr<TaskGroup> group;
    std::shared_ptr<const JobFactory> factory;
    uint64_t first = 0;
    uint64_t count = 0;
    uint64_t split = 0;
    bool close_round = false;
    bool cancelled = false;
    {
      MutexLock lock(&mu_);
      if (done_) return;
      cancelled = cancelled_.cancelled();
    }
    if (cancelled) {
      // A cancel that found a spawn under way left the round open for us.
      CloseRoundIfDue();
      return;
    }
    {
      MutexLock lock(&mu_);
      if (cancelled_.cancelled() || done_) continue;
      if (group_ == nullptr) {
        if (next_ >= added_) return;
        // The group's callbacks keep the run alive while a round runs; the
        // cycle ends when the round does (group_ is reset).
        group_ = TaskGroup::Create(
            TaskGroup::Options{options_.deadline, options_.policy},
            [self](absl::Span<JobResult> rs) { self->OnOutcomes(rs); },
            [self](const Cancellation& why) { self->OnGroupCancelled(why); },
            [self](const absl::Status&) { self->OnRoundDone(); });
        round_end_ = options_.batch_size > 0
                         ? next_ + options_.batch_size
                         : std::numeric_limits<uint64_t>::max();
        round_closed_ = false;
      }
      if (round_closed_) return;
      if (spawning_ == 0 &&
          (next_ >= round_end_ || (input_closed_ && next_ >= added_))) {
        round_closed_ = true;
        close_round = true;
        group = group_;
      } else {
        uint64_t left = std::min(added_, round_end_) - std::min(next_, added_);
        uint64_t in_window = running_ + unacked_;
        uint64_t room = window_ > in_window ? window_ - in_window : 0;
        count = std::min<uint64_t>({left, room, RunTask::kMaxJobs});
        if (count == 0) return;
        split = RunSizeFor(left);
        first = next_;
        next_ += count;
        running_ += count;
        ++spawning_;
        group = group_;
        factory = factory_;
      }
    }
    if (close_round) {
      // Closing may end the round on this very thread, and its end's own
      // Pump() returns at once (above): go round again to start the next.
      group->Close();
      continue;
    }
    SpawnBlock(*group, *factory, first, count, split);
    {
      MutexLock lock(&mu_);
      --spawning_;
    }
  }
}

uint64_t BatchRun::RunSizeFor(uint64_t left) const {
  // Enough runs for every worker to have two, each at most a run's worth
  // of jobs.
  uint64_t workers = std::max<uint64_t>(1, executor_->workers()->workers());
  uint64_t jobs = std::min(left, window_);
  return std::clamp<uint64_t>(jobs / (2 * workers), 1, RunTask::kMaxJobs);
}

void BatchRun::SpawnBlock(TaskGroup& group, const JobFactory& factory,
                          uint64_t first, uint64_t count, uint64_t split) {
  // Consecutive plain jobs of one kind and backend go together as one
  // Executor lease: synchronous ones run one after another, in leases of at
  // most `split` unless the kind is so quick that the whole block fits one
  // slice; asynchronous ones start together. Others get a JobTask each.
  std::vector<std::shared_ptr<const JobSpec>> run;
  uint64_t run_first = 0;
  // Shared by the block's tasks (they all belong to `group`).
  std::shared_ptr<const JobTask::Options> task_options;
  auto spawn_run = [&] {
    if (run.empty()) return;
    uint32_t n = static_cast<uint32_t>(run.size());
    group.SpawnRun(
        run_first, n,
        executor_->Run(std::move(run), options_.deadline, group.scope()));
    run.clear();
  };
  for (uint64_t index = first; index < first + count; ++index) {
    std::shared_ptr<const JobSpec> spec = factory(index);
    if (Lease::Plain(*spec, options_.retry)) {
      if (!run.empty() &&
          (!Lease::SameLease(*run.front(), *spec) ||
           (spec->resolved_kind->sync != nullptr && run.size() >= split &&
            !Lease::Cheap(*spec->resolved_kind)))) {
        spawn_run();
      }
      if (run.empty()) run_first = index;
      run.push_back(std::move(spec));
      continue;
    }
    spawn_run();
    if (task_options == nullptr) {
      task_options = std::make_shared<const JobTask::Options>(JobTask::Options{
          options_.deadline, options_.fallback_mode, options_.retry,
          options_.task_observer, group.scope()});
    }
    group.Spawn(index, std::make_shared<JobTask>(executor_, std::move(spec),
                                                 task_options));
  }
  spawn_run();
}

void BatchRun::CloseRoundIfDue() {
  std::shared_ptr<TaskGroup> group;
  {
    MutexLock lock(&mu_);
    if (group_ == nullptr || round_closed_ || spawning_ != 0) return;
    bool cancelled = cancelled_.cancelled();
    if (!(cancelled || next_ >= round_end_ ||
          (input_closed_ && next_ >= added_))) {
      return;
    }
    round_closed_ = true;
    group = group_;
  }
  group->Close();
}

void BatchRun::OnOutcomes(absl::Span<JobResult> results) {
  uint64_t n = 0;  // The results kept: the first outcome of each job.
  {
    MutexLock lock(&mu_);
    for (JobResult& r : results) {
      if (!ledger_.Settle(r.index, r.outcome)) continue;
      if (&results[n] != &r) results[n] = std::move(r);
      ++n;
    }
    running_ -= n;
    unacked_ += n;
    delivering_ += n;
  }
  uint64_t consumed = 0;
  for (JobResult& r : results.first(n)) {
    if (sink_->OnResult(std::move(r))) ++consumed;
  }
  bool cancelled;
  {
    MutexLock lock(&mu_);
    delivering_ -= n;
    unacked_ -= std::min(consumed, unacked_);
    cancelled = cancelled_.cancelled();
  }
  // A cancelled run starts nothing more; and while a cancellation settles
  // thousands of jobs, the end can come only once the last is delivered.
  if (!cancelled) Pump();
  MaybeFinish();
}

void BatchRun::OnGroupCancelled(const Cancellation& why) {
  Cancellation cancelled;
  bool first = false;
  {
    MutexLock lock(&mu_);
    // The group's own cancellation (its deadline, fail-fast) is the call's
    // unless the call was cancelled first.
    if (!cancelled_.cancelled()) {
      first = true;
      cancelled_ = why;
      ++delivering_;  // The sink's OnCancelled().
    }
    cancelled = cancelled_;
  }
  SettlePending(cancelled);
  if (first) TellCancelled(cancelled);
  CloseRoundIfDue();
  MaybeFinish();
}

void BatchRun::OnRoundDone() {
  // A cancelled group told OnGroupCancelled() before it ends.
  Cancellation cancelled;
  {
    MutexLock lock(&mu_);
    group_ = nullptr;
    cancelled = cancelled_;
  }
  if (cancelled.cancelled()) {
    SettlePending(cancelled);
  } else {
    Pump();
  }
  MaybeFinish();
}

void BatchRun::SettlePending(const Cancellation& why) {
  std::vector<JobResult> results;
  {
    MutexLock lock(&mu_);
    if (done_ || next_ >= added_) return;
    JobOutcome outcome = why.outcome();
    results.reserve(added_ - next_);
    for (; next_ < added_; ++next_) {
      JobResult r;
      r.index = next_;
      r.outcome = outcome;
      r.error = why.status;
      ledger_.Settle(r.index, outcome);  // Never started: never settled.
      results.push_back(std::move(r));
    }
    unacked_ += results.size();
    delivering_ += results.size();
  }
  Emit(std::move(results));
}

void BatchRun::Emit(std::vector<JobResult> results) {
  uint64_t consumed = 0;
  for (JobResult& r : results) {
    if (sink_->OnResult(std::move(r))) ++consumed;
  }
  {
    MutexLock lock(&mu_);
    delivering_ -= results.size();
    unacked_ -= std::min(consumed, unacked_);
  }
  MaybeFinish();
}

void BatchRun::MaybeFinish() {
  BatchSummary summary;
  std::vector<JobResult> lost;
  TimerService::TimerId timer = 0;
  {
    MutexLock lock(&mu_);
    // However early the run was cancelled, it ends only once its input is
    // closed: until then every job added still gets its result.
    if (done_ || !input_closed_) return;
    if (next_ < added_ || group_ != nullptr || running_ != 0 ||
        spawning_ != 0 || delivering_ != 0) {
      return;
    }
    if (!ledger_.full()) {
      // Nothing runs any more, yet a job has no outcome: a lifecycle bug
      // (counted by the ledger). The call still gives it one.
      for (uint64_t index : ledger_.TakeLost()) {
        JobResult r;
        r.index = index;
        r.outcome = JobOutcome::kFailed;
        r.error = absl::InternalError(
            "the server lost this job's outcome (a bug: please report it)");
        ledger_.Settle(index, r.outcome);
        lost.push_back(std::move(r));
      }
      unacked_ += lost.size();
      delivering_ += lost.size();
    } else {
      done_ = true;
      summary = ledger_.summary();
      summary.elapsed = absl::Now() - started_;
      summary.deadline_hit = cancelled_.cause == CancelCause::kDeadline;
      summary.cancel_cause = cancelled_.cause;
      summary.failed_job_index = cancelled_.failed_job_index;
      summary.cancel_reason = cancelled_.status;
      std::swap(timer, deadline_timer_);
    }
  }
  if (!lost.empty()) {
    Emit(std::move(lost));  // Ends the run once they are delivered.
    return;
  }
  if (timer != 0) executor_->timers()->Cancel(timer);
  sink_->OnDone(summary);
}

}  // namespace jobgroup

#include "server/core/task_group.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace jobgroup {
namespace {

uint64_t WindowFor(const TaskGroup::Options& o) {
  uint64_t w = std::numeric_limits<uint64_t>::max();
  if (o.max_concurrency > 0) w = o.max_concurrency;
  if (o.batch_size > 0) w = std::min<uint64_t>(w, o.batch_size);
  return w;
}

absl::Duration Backoff(const RetryPolicy& p, uint32_t retry_number) {
  double mult = p.multiplier > 0 ? p.multiplier : 2.0;
  double secs = absl::ToDoubleSeconds(p.initial_backoff) *
                std::pow(mult, static_cast<double>(retry_number - 1));
  secs = std::min(secs, absl::ToDoubleSeconds(p.max_backoff));
  if (p.jitter > 0) {
    // Seeded once per thread from std::random_device, not from Abseil's
    // shared seed pool: that pool lives in an uninstrumented Debian
    // library, where ThreadSanitizer cannot see its lock and reports a
    // race on every first draw of a thread.
    thread_local std::mt19937_64 gen{std::random_device{}()};
    double j = std::clamp(p.jitter, 0.0, 1.0);
    secs = secs * (1 - j) +
           secs * j * std::uniform_real_distribution<double>(0.0, 1.0)(gen);
  }
  return absl::Seconds(std::max(secs, 0.0));
}

// How an attempt ended, for the decisions of attempt_plan.h.
AttemptEnd EndOf(const AttemptResult& r) {
  if (r.output.ok()) return AttemptEnd::kSucceeded;
  if (r.timed_out) return AttemptEnd::kTimedOut;
  if (!r.cancelled) return AttemptEnd::kFailed;
  return OutcomeForCancellation(r.output.status()) ==
                 JobOutcome::kDeadlineExceeded
             ? AttemptEnd::kOutOfTime
             : AttemptEnd::kCancelled;
}

// Candidate 0 of `job` is the job, k its k-th fallback.
std::shared_ptr<const JobSpec> Candidate(
    const std::shared_ptr<const JobSpec>& job, uint32_t k) {
  if (k == 0) return job;
  return std::shared_ptr<const JobSpec>(job, &job->fallbacks[k - 1]);
}

// A result a lease gives a job it did not start because the call's
// deadline had passed (Lease::PastDeadline()).
bool IsNotStartedPastDeadline(const JobResult& r) {
  return r.outcome == JobOutcome::kDeadlineExceeded && r.attempts == 0;
}

}  // namespace

std::shared_ptr<TaskGroup> TaskGroup::Create(Executor* executor,
                                             Options options,
                                             ResultSink* sink) {
  auto group = std::make_shared<TaskGroup>(executor, options, sink);
  if (options.deadline != absl::InfiniteFuture()) {
    // The call's one deadline timer: it covers time between rounds and idle
    // input too.
    std::weak_ptr<TaskGroup> weak = group;
    TimerService::TimerId id =
        executor->timers()->Schedule(options.deadline, [weak] {
          if (auto g = weak.lock()) g->Cancel(CancelCause::kDeadline);
        });
    MutexLock lock(&group->mu_);
    group->deadline_timer_ = id;
  }
  return group;
}

TaskGroup::TaskGroup(Executor* executor, Options options, ResultSink* sink)
    : executor_(executor),
      options_(options),
      sink_(sink),
      window_(WindowFor(options)),
      started_(absl::Now()) {}

bool TaskGroup::AddJobs(uint64_t count, JobFactory factory) {
  Outbox out;
  {
    MutexLock lock(&mu_);
    if (input_closed_) return false;
    if (factory_ == nullptr) {
      factory_ = std::make_shared<const JobFactory>(std::move(factory));
    }
    added_ += count;
    ledger_.Extend(added_);
    if (cancelled_.cancelled()) SettlePendingLocked(cancelled_, &out);
  }
  Deliver(std::move(out));
  return true;
}

void TaskGroup::CloseInput() {
  {
    MutexLock lock(&mu_);
    input_closed_ = true;
  }
  Pump();
  MaybeFinish();
}

void TaskGroup::Cancel(CancelCause cause, absl::Status why) {
  CancelWith(Cancellation::Of(cause, std::move(why)));
}

void TaskGroup::Cancel(absl::Status why) {
  CancelWith(Cancellation::FromStatus(std::move(why)));
}

void TaskGroup::CancelWith(Cancellation why) {
  Outbox out;
  {
    MutexLock lock(&mu_);
    // Once done, there is nothing left to cancel (a late timer, or a
    // cancel racing the end).
    if (cancelled_.cancelled() || done_) return;
    CancelLocked(why, &out);
  }
  Deliver(std::move(out));
}

void TaskGroup::CancelLocked(const Cancellation& why, Outbox* out) {
  cancelled_ = why;
  // Before any lease is told: nothing starts from now on.
  scope_->Cancel(why.status);
  out->cancelled = why;
  ++delivering_;  // The sink's OnCancelled(): OnDone() waits for it.
  const JobOutcome outcome = why.outcome();
  out->results.reserve(out->results.size() + running_ + (added_ - next_));
  out->to_stop.reserve(live_.size());
  for (auto& [first, live] : live_) {
    for (uint32_t i = 0; i < live.count; ++i) {
      if ((live.reported & (uint64_t{1} << i)) != 0) continue;
      JobResult r;
      r.index = i;
      if (live.lease != nullptr) {
        live.lease->FillProgress(&r);
      } else {
        AttemptState& st = *live.state;
        r.attempts = st.attempts;
        r.queue_time = st.queue_time;
        r.run_time = st.run_time;
        for (const std::shared_ptr<Lease>& attempt : st.live) {
          absl::Duration queued, ran;
          if (attempt != nullptr && attempt->Progress(&queued, &ran)) {
            r.queue_time = queued;
            r.run_time = ran;
          }
        }
        if (st.retry_timer != 0) executor_->timers()->Cancel(st.retry_timer);
        st.retry_timer = 0;
      }
      r.index = first + i;
      r.outcome = outcome;
      r.error = why.status;
      r.kind = live.kind;
      if (DeliverLocked(std::move(r), out)) --running_;
    }
    out->to_stop.push_back(std::move(live));
  }
  live_.clear();
  // Jobs taken by a SpawnBlock() under way are not live yet: Spawn()
  // settles them when it finds the call cancelled.
  SettlePendingLocked(why, out);
}

void TaskGroup::SettlePendingLocked(const Cancellation& why, Outbox* out) {
  const JobOutcome outcome = why.outcome();
  out->results.reserve(out->results.size() + (added_ - next_));
  for (; next_ < added_; ++next_) {
    JobResult r;
    r.index = next_;
    r.outcome = outcome;
    r.error = why.status;
    DeliverLocked(std::move(r), out);
  }
}

bool TaskGroup::DeliverLocked(JobResult&& r, Outbox* out) {
  if (!ledger_.Settle(r.index, r.outcome)) return false;
  ++unacked_;
  ++delivering_;
  out->results.push_back(std::move(r));
  return true;
}

void TaskGroup::Deliver(Outbox out) {
  const uint64_t consumed =
      out.results.empty() ? 0 : sink_->OnResults(absl::MakeSpan(out.results));
  const bool cancelled_now = out.cancelled.cancelled();
  if (cancelled_now) sink_->OnCancelled(out.cancelled);
  const uint64_t delivered = out.results.size() + (cancelled_now ? 1 : 0);
  if (delivered != 0) {
    MutexLock lock(&mu_);
    delivering_ -= delivered;
    unacked_ -= std::min(consumed, unacked_);
  }
  // The results went out first: a cancellation that settles thousands of
  // jobs gets its reply out before the (slower) clean-up. Nothing settled
  // can start meanwhile: the scope was cancelled under the lock, and every
  // lease checks it before it starts a handler. Now the leases waiting give
  // their place in the backend queue back, and running handlers are asked
  // to stop.
  for (Live& live : out.to_stop) {
    if (live.lease != nullptr) {
      live.lease->Cancel(out.cancelled.status);
      continue;
    }
    for (const std::shared_ptr<Lease>& attempt : live.state->live) {
      if (attempt != nullptr) attempt->Cancel(out.cancelled.status);
    }
  }
  for (const std::shared_ptr<Lease>& attempt : out.losers) {
    attempt->Cancel(absl::CancelledError("lost the race"));
  }
  for (const Outbox::Start& start : out.to_start) {
    StartAttempt(start.index, start.candidate, 1);
  }
  Pump();
  MaybeFinish();
}

void TaskGroup::Ack(uint64_t n) {
  {
    MutexLock lock(&mu_);
    unacked_ -= std::min(n, unacked_);
  }
  Pump();
}

uint64_t TaskGroup::pending() const {
  MutexLock lock(&mu_);
  return added_ - next_;
}

TaskGroup::Progress TaskGroup::progress() const {
  MutexLock lock(&mu_);
  Progress p;
  p.added = added_;
  p.pending = added_ - next_;
  p.done = ledger_.summary();
  p.cancel_cause = cancelled_.cause;
  if (in_round_ && !done_) p.wait_owner = scope_.get();
  return p;
}

uint64_t TaskGroup::in_window() const {
  MutexLock lock(&mu_);
  return running_ + unacked_;
}

void TaskGroup::Pump() {
  // A spawn can settle a job on this very thread (a rejected job, a call
  // cancelled meanwhile), which calls Pump() again from inside the loop
  // below; the outer loop re-checks everything after each spawn, so the
  // inner call returns at once instead of nesting ever deeper.
  thread_local const TaskGroup* pumping = nullptr;
  if (pumping == this) return;
  const TaskGroup* outer = pumping;
  pumping = this;
  struct Restore {
    const TaskGroup* outer;
    ~Restore() { pumping = outer; }
  } restore{outer};
  // A result of a block spawned here may come in on another thread while
  // the spawn is still counted, and find no end to make: this thread then
  // looks for it once it is done.
  bool spawned = false;
  for (;;) {
    std::shared_ptr<const JobFactory> factory;
    uint64_t first = 0;
    uint64_t count = 0;
    uint64_t split = 0;
    {
      MutexLock lock(&mu_);
      if (done_) return;
      if (cancelled_.cancelled()) break;
      if (in_round_ && next_ >= round_end_) {
        // Every job of the round is taken; the next round starts once the
        // last of them has its result delivered.
        if (running_ != 0 || spawning_ != 0 || delivering_ != 0) break;
        in_round_ = false;
      }
      if (!in_round_) {
        if (next_ >= added_) break;
        in_round_ = true;
        round_end_ = options_.batch_size > 0
                         ? next_ + options_.batch_size
                         : std::numeric_limits<uint64_t>::max();
      }
      uint64_t left = std::min(added_, round_end_) - std::min(next_, added_);
      uint64_t in_window = running_ + unacked_;
      uint64_t room = window_ > in_window ? window_ - in_window : 0;
      count = std::min<uint64_t>({left, room, Lease::kMaxJobs});
      if (count == 0) break;
      split = RunSizeFor(left);
      first = next_;
      next_ += count;
      running_ += count;
      ++spawning_;
      factory = factory_;
    }
    // Nothing starts at or past the deadline, even before its timer has
    // fired: the call is cancelled first, and Spawn() settles the jobs just
    // taken.
    if (options_.deadline != absl::InfiniteFuture() &&
        absl::Now() >= options_.deadline) {
      Cancel(CancelCause::kDeadline);
    }
    SpawnBlock(*factory, first, count, split);
    spawned = true;
    MutexLock lock(&mu_);
    --spawning_;
  }
  if (spawned) MaybeFinish();
}

uint64_t TaskGroup::RunSizeFor(uint64_t left) const {
  // Enough leases for every worker to have two, each at most a lease's
  // worth of jobs.
  uint64_t workers = std::max<uint64_t>(1, executor_->workers()->workers());
  uint64_t jobs = std::min(left, window_);
  return std::clamp<uint64_t>(jobs / (2 * workers), 1, Lease::kMaxJobs);
}

void TaskGroup::SpawnBlock(const JobFactory& factory, uint64_t first,
                           uint64_t count, uint64_t split) {
  // Consecutive plain jobs of one kind and backend go together as one
  // lease: synchronous ones run one after another, in leases of at most
  // `split` unless the kind is so quick that the whole block fits one
  // slice; asynchronous ones start together. Others go one attempt at a
  // time, with attempt state.
  std::vector<std::shared_ptr<const JobSpec>> run;
  uint64_t run_first = 0;
  // Whether the kind of `run` is cheap, asked of the executor's statistics
  // once per kind in a row, not per job.
  const JobKind* cheap_kind = nullptr;
  bool cheap = false;
  auto is_cheap = [&](const JobKind* kind) {
    if (kind != cheap_kind) {
      cheap_kind = kind;
      cheap = Lease::Cheap(executor_->kind_stats(*kind));
    }
    return cheap;
  };
  auto spawn_run = [&] {
    if (run.empty()) return;
    Live live;
    live.count = static_cast<uint32_t>(run.size());
    live.kind = run.front()->resolved_kind;
    live.lease = executor_->Run(std::move(run), options_.deadline, scope_);
    run.clear();
    Spawn(run_first, std::move(live));
  };
  for (uint64_t index = first; index < first + count; ++index) {
    std::shared_ptr<const JobSpec> spec = factory(index);
    if (Lease::Plain(*spec, options_.retry)) {
      if (!run.empty() &&
          (!Lease::SameLease(*run.front(), *spec) ||
           (spec->resolved_kind->sync != nullptr && run.size() >= split &&
            !is_cheap(spec->resolved_kind)))) {
        spawn_run();
      }
      if (run.empty()) run_first = index;
      run.push_back(std::move(spec));
      continue;
    }
    spawn_run();
    Live live;
    live.kind = spec->resolved_kind;
    live.state = std::make_unique<AttemptState>();
    const size_t candidates = 1 + spec->fallbacks.size();
    live.state->live.resize(candidates);
    live.state->live_try.assign(candidates, 0);
    live.state->errors.resize(candidates);
    live.state->job = std::move(spec);
    Spawn(index, std::move(live));
  }
  spawn_run();
}

void TaskGroup::Spawn(uint64_t first, Live live) {
  std::shared_ptr<Lease> lease = live.lease;
  Outbox settled;
  {
    MutexLock lock(&mu_);
    if (cancelled_.cancelled()) {
      // Taken before the cancellation, spawned after it: never started.
      const JobOutcome outcome = cancelled_.outcome();
      for (uint32_t i = 0; i < live.count; ++i) {
        JobResult r;
        r.index = first + i;
        r.outcome = outcome;
        r.error = cancelled_.status;
        if (DeliverLocked(std::move(r), &settled)) --running_;
      }
    } else if (lease == nullptr && !live.state->job->rejected.ok()) {
      // Refused by validation: it never runs.
      JobResult r;
      r.index = first;
      r.outcome = JobOutcome::kRejected;
      r.error = live.state->job->rejected;
      r.kind = live.kind;
      if (DeliverLocked(std::move(r), &settled)) --running_;
    } else {
      live_.emplace(first, std::move(live));
    }
  }
  if (!settled.results.empty()) {
    Deliver(std::move(settled));
    return;
  }
  if (lease == nullptr) {
    StartAttempt(first, 0, 1);
    return;
  }
  lease->Start([self = shared_from_this(), first](std::vector<JobResult> rs) {
    self->OnReport(first, rs.data(), rs.size());
  });
}

void TaskGroup::StartAttempt(uint64_t index, uint32_t candidate,
                             uint32_t try_number) {
  std::shared_ptr<const JobSpec> job;
  {
    MutexLock lock(&mu_);
    auto it = live_.find(index);
    if (it == live_.end()) return;  // Settled meanwhile.
    AttemptState& st = *it->second.state;
    ++st.attempts;
    st.live_try[candidate] = try_number;
    job = Candidate(st.job, candidate);
  }
  std::shared_ptr<Lease> attempt = executor_->Start(
      std::move(job), options_.deadline,
      [self = shared_from_this(), index, candidate,
       try_number](AttemptResult r) {
        self->OnAttemptDone(index, candidate, try_number, std::move(r));
      },
      scope_);
  absl::Status cancel_it;
  {
    MutexLock lock(&mu_);
    auto it = live_.find(index);
    if (it == live_.end()) {
      // Settled while the attempt was being made (a cancellation, which
      // could not see it); its scope keeps its handler from starting.
      cancel_it = cancelled_.cancelled() ? cancelled_.status
                                         : absl::CancelledError("job settled");
    } else {
      AttemptState& st = *it->second.state;
      // Unless the attempt is over already.
      if (st.live_try[candidate] == try_number) st.live[candidate] = attempt;
    }
  }
  if (!cancel_it.ok()) attempt->Cancel(cancel_it);
}

void TaskGroup::OnAttemptDone(uint64_t index, uint32_t candidate,
                              uint32_t try_number, AttemptResult r) {
  Outbox out;
  {
    MutexLock lock(&mu_);
    auto it = live_.find(index);
    if (it == live_.end()) return;  // Settled already.
    AttemptState& st = *it->second.state;
    if (st.live_try[candidate] == try_number) {
      st.live_try[candidate] = 0;
      st.live[candidate] = nullptr;
    }
    st.queue_time = r.queue_time;
    st.run_time = r.run_time;
    const AttemptEnd end = EndOf(r);
    const bool failed =
        end == AttemptEnd::kFailed || end == AttemptEnd::kTimedOut;
    AttemptDecision decision = DecideAfterAttempt(
        end, try_number, options_.retry,
        failed ? Backoff(options_.retry, try_number) : absl::ZeroDuration(),
        options_.deadline - absl::Now());
    if (failed) {
      st.last_code = r.output.status().code();
      st.errors[candidate] = std::string(r.output.status().message());
    }
    Cancellation fail_fast;
    switch (decision.action) {
      case AttemptDecision::Action::kSettle: {
        JobResult settle;
        settle.index = index;
        settle.outcome = decision.outcome;
        if (r.output.ok()) {
          settle.output = *std::move(r.output);
          settle.served_by = candidate;
          if (candidate > 0 && options_.attempt_observer != nullptr) {
            options_.attempt_observer->OnFallbackServed(*st.job, candidate);
          }
        } else {
          settle.error = r.output.status();
        }
        SettleAttemptsLocked(index, std::move(settle), &fail_fast, &out);
        break;
      }
      case AttemptDecision::Action::kRetry: {
        if (options_.attempt_observer != nullptr) {
          options_.attempt_observer->OnRetry(*st.job);
        }
        st.live_try[candidate] = try_number + 1;  // Reserved for the retry.
        std::weak_ptr<TaskGroup> weak = weak_from_this();
        st.retry_timer = executor_->timers()->ScheduleAfter(
            decision.backoff, [weak, index, candidate, try_number] {
              if (auto self = weak.lock()) {
                self->OnRetryDue(index, candidate, try_number + 1);
              }
            });
        break;
      }
      case AttemptDecision::Action::kGiveUpCandidate:
        if (decision.retry_past_deadline) {
          st.errors[candidate] += " (no retry: it would pass the deadline)";
        }
        AfterCandidateFailed(index, st, candidate, end, &fail_fast, &out);
        break;
    }
    if (fail_fast.cancelled()) CancelLocked(fail_fast, &out);
  }
  Deliver(std::move(out));
}

void TaskGroup::OnRetryDue(uint64_t index, uint32_t candidate,
                           uint32_t try_number) {
  {
    MutexLock lock(&mu_);
    auto it = live_.find(index);
    if (it == live_.end()) return;  // Settled while it waited.
    AttemptState& st = *it->second.state;
    st.retry_timer = 0;
    st.live_try[candidate] = 0;
  }
  StartAttempt(index, candidate, try_number);
}

void TaskGroup::AfterCandidateFailed(uint64_t index, AttemptState& st,
                                     uint32_t candidate, AttemptEnd last,
                                     Cancellation* fail_fast, Outbox* out) {
  const uint32_t n = static_cast<uint32_t>(st.job->fallbacks.size());
  if (options_.fallback_mode == FallbackMode::kRace && candidate > 0) {
    ++st.race_given_up;
  }
  CandidateDecision next = DecideAfterCandidate(
      candidate, n, options_.fallback_mode, st.race_given_up);
  for (uint32_t k : next.start) out->to_start.push_back({index, k});
  if (!next.all_failed) return;
  JobResult failed;
  failed.index = index;
  failed.outcome = OutcomeWhenAllFailed(last);
  if (n == 0) {
    failed.error = absl::Status(st.last_code, st.errors[0]);
  } else {
    std::vector<std::string> parts;
    for (uint32_t k = 0; k <= n; ++k) {
      parts.push_back(
          absl::StrCat(k == 0 ? "primary" : absl::StrCat("fallback ", k), ": ",
                       st.errors[k]));
    }
    failed.error = absl::Status(st.last_code, absl::StrJoin(parts, "; "));
  }
  SettleAttemptsLocked(index, std::move(failed), fail_fast, out);
}

void TaskGroup::SettleAttemptsLocked(uint64_t index, JobResult r,
                                     Cancellation* fail_fast, Outbox* out) {
  auto it = live_.find(index);
  Live& live = it->second;
  AttemptState& st = *live.state;
  r.attempts = st.attempts;
  r.queue_time = st.queue_time;
  r.run_time = st.run_time;
  r.kind = live.kind;
  for (std::shared_ptr<Lease>& attempt : st.live) {
    if (attempt != nullptr) out->losers.push_back(std::move(attempt));
  }
  if (st.retry_timer != 0) executor_->timers()->Cancel(st.retry_timer);
  live_.erase(it);
  SettleLiveLocked(std::move(r), fail_fast, out);
}

void TaskGroup::SettleLiveLocked(JobResult&& r, Cancellation* fail_fast,
                                 Outbox* out) {
  // The first failure cancels the rest of the call; the results reported
  // with it all count.
  if (r.outcome == JobOutcome::kFailed &&
      options_.policy == FailurePolicy::kFailFast && !cancelled_.cancelled() &&
      !fail_fast->cancelled()) {
    *fail_fast = Cancellation::Of(
        CancelCause::kFailFast,
        absl::CancelledError(absl::StrCat("cancelled because job ", r.index,
                                          " failed: ", r.error.message())));
    fail_fast->failed_job_index = r.index;
  }
  if (DeliverLocked(std::move(r), out)) --running_;
}

void TaskGroup::OnReport(uint64_t first, JobResult* results, size_t n) {
  Outbox out;
  Live finished;  // Released after the lock.
  {
    MutexLock lock(&mu_);
    auto it = live_.find(first);
    if (it == live_.end()) return;  // Settled already, by a cancellation.
    // A lease that found the call's deadline passed ends the jobs it has
    // not started, last in its report (Lease::PastDeadline(), no attempt).
    // The deadline timer may not have fired yet, and the lease may be all
    // that still holds this group: the call is cancelled for its deadline
    // now, which settles those jobs with every other. The jobs that ran
    // keep their outcomes.
    const bool past_deadline =
        n != 0 && IsNotStartedPastDeadline(results[n - 1]) &&
        !cancelled_.cancelled() && absl::Now() >= options_.deadline;
    Live& live = it->second;
    out.results.reserve(n);
    Cancellation fail_fast;
    for (size_t i = 0; i < n; ++i) {
      JobResult& r = results[i];
      if (r.index >= live.count) continue;
      if (past_deadline && IsNotStartedPastDeadline(r)) continue;
      const uint64_t bit = uint64_t{1} << r.index;
      if ((live.reported & bit) != 0) continue;  // Reported already.
      live.reported |= bit;
      r.index += first;
      r.kind = live.kind;
      SettleLiveLocked(std::move(r), &fail_fast, &out);
    }
    if (live.all_reported()) {
      finished = std::move(live);
      live_.erase(it);
    }
    if (fail_fast.cancelled()) {
      CancelLocked(fail_fast, &out);
    } else if (past_deadline) {
      CancelLocked(Cancellation::Of(CancelCause::kDeadline), &out);
    }
  }
  Deliver(std::move(out));
}

void TaskGroup::MaybeFinish() {
  BatchSummary summary;
  Outbox lost;
  TimerService::TimerId timer = 0;
  {
    MutexLock lock(&mu_);
    // However early the call was cancelled, it ends only once its input is
    // closed: until then every job added still gets its result.
    if (done_ || !input_closed_) return;
    if (next_ < added_ || running_ != 0 || spawning_ != 0 || delivering_ != 0) {
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
        DeliverLocked(std::move(r), &lost);
      }
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
  if (!lost.results.empty()) {
    Deliver(std::move(lost));  // Ends the call once they are delivered.
    return;
  }
  if (timer != 0) executor_->timers()->Cancel(timer);
  sink_->OnDone(summary);
}

}  // namespace jobgroup

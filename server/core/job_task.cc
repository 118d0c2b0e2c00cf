#include "server/core/job_task.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace jobgroup {
namespace {

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

}  // namespace

JobTask::JobTask(Executor* executor, std::shared_ptr<const JobSpec> job,
                 std::shared_ptr<const Options> options)
    : executor_(executor), job_(std::move(job)), options_(std::move(options)) {}

std::shared_ptr<const JobSpec> JobTask::Candidate(uint32_t k) const {
  if (k == 0) return job_;
  return std::shared_ptr<const JobSpec>(job_, &job_->fallbacks[k - 1]);
}

void JobTask::Start(DoneFn done) {
  DoneFn settle_now;
  JobResult result;
  {
    MutexLock lock(&mu_);
    done_ = std::move(done);
    started_ = true;
    size_t n = 1 + job_->fallbacks.size();
    live_.resize(n);
    live_try_.assign(n, 0);
    errors_.resize(n);
    if (!cancelled_.ok()) {
      result.outcome = OutcomeForCancellation(cancelled_);
      result.error = cancelled_;
      settle_now = std::move(done_);
    } else if (!job_->rejected.ok()) {
      result.outcome = JobOutcome::kRejected;
      result.error = job_->rejected;
      settle_now = std::move(done_);
    }
    if (settle_now) settled_ = true;
  }
  if (settle_now) {
    settle_now(std::move(result));
    return;
  }
  StartAttempt(0, 1);
}

void JobTask::StartAttempt(uint32_t candidate, uint32_t try_number) {
  DoneFn done;
  JobResult result;
  {
    MutexLock lock(&mu_);
    if (settled_) return;
    if (!cancelled_.ok()) {
      // Cancelled while a retry was on its way.
      done = SettleCancelledLocked(&result);
    } else {
      ++attempts_;
      live_try_[candidate] = try_number;
    }
  }
  if (done) {
    done(std::move(result));
    return;
  }
  std::shared_ptr<JobTask> self = shared_from_this();
  std::shared_ptr<Lease> attempt = executor_->Start(
      Candidate(candidate), options_->deadline,
      [self, candidate, try_number](AttemptResult r) {
        self->OnAttemptDone(candidate, try_number, std::move(r));
      },
      options_->scope);
  absl::Status cancel_it;
  {
    MutexLock lock(&mu_);
    if (live_try_[candidate] == try_number) {  // Not over yet.
      if (settled_ || !cancelled_.ok()) {
        cancel_it =
            cancelled_.ok() ? absl::CancelledError("job settled") : cancelled_;
      } else {
        live_[candidate] = attempt;
      }
    }
  }
  if (!cancel_it.ok()) attempt->Cancel(cancel_it);
}

void JobTask::OnAttemptDone(uint32_t candidate, uint32_t try_number,
                            AttemptResult r) {
  std::vector<std::shared_ptr<Lease>> to_cancel;
  std::vector<uint32_t> to_start;
  DoneFn done;
  JobResult result;
  {
    MutexLock lock(&mu_);
    if (live_try_[candidate] == try_number) {
      live_try_[candidate] = 0;
      live_[candidate] = nullptr;
    }
    if (settled_) return;
    queue_time_ = r.queue_time;
    run_time_ = r.run_time;
    const AttemptEnd end = EndOf(r);
    const bool failed =
        end == AttemptEnd::kFailed || end == AttemptEnd::kTimedOut;
    AttemptDecision decision = DecideAfterAttempt(
        end, try_number, options_->retry,
        failed ? Backoff(options_->retry, try_number) : absl::ZeroDuration(),
        options_->deadline - absl::Now());
    if (failed) {
      last_code_ = r.output.status().code();
      errors_[candidate] = std::string(r.output.status().message());
    }
    switch (decision.action) {
      case AttemptDecision::Action::kSettle: {
        JobResult settle;
        settle.outcome = decision.outcome;
        if (r.output.ok()) {
          settle.output = *std::move(r.output);
          settle.served_by = candidate;
          if (candidate > 0 && options_->observer) {
            options_->observer->OnFallbackServed(*job_, candidate);
          }
        } else {
          settle.error = r.output.status();
        }
        SettleLocked(std::move(settle), &to_cancel, &result);
        break;
      }
      case AttemptDecision::Action::kRetry: {
        if (options_->observer) options_->observer->OnRetry(*job_);
        std::weak_ptr<JobTask> weak = weak_from_this();
        live_try_[candidate] = try_number + 1;  // Reserved for the retry.
        retry_timer_ = executor_->timers()->ScheduleAfter(
            decision.backoff, [weak, candidate, try_number] {
              auto self = weak.lock();
              if (!self) return;
              {
                MutexLock lock(&self->mu_);
                self->retry_timer_ = 0;
                self->live_try_[candidate] = 0;
              }
              self->StartAttempt(candidate, try_number + 1);
            });
        break;
      }
      case AttemptDecision::Action::kGiveUpCandidate:
        if (decision.retry_past_deadline) {
          errors_[candidate] += " (no retry: it would pass the deadline)";
        }
        AfterCandidateFailed(candidate, end, &to_start, &result);
        break;
    }
    if (settled_) done = std::move(done_);
  }
  for (auto& a : to_cancel) a->Cancel(absl::CancelledError("lost the race"));
  for (uint32_t c : to_start) StartAttempt(c, 1);
  if (done) done(std::move(result));
}

void JobTask::AfterCandidateFailed(uint32_t candidate, AttemptEnd last,
                                   std::vector<uint32_t>* to_start,
                                   JobResult* settled) {
  uint32_t n = static_cast<uint32_t>(job_->fallbacks.size());
  if (options_->fallback_mode == FallbackMode::kRace && candidate > 0) {
    ++race_failed_;
  }
  CandidateDecision next =
      DecideAfterCandidate(candidate, n, options_->fallback_mode, race_failed_);
  to_start->insert(to_start->end(), next.start.begin(), next.start.end());
  if (!next.all_failed) return;
  JobResult failed;
  failed.outcome = OutcomeWhenAllFailed(last);
  if (n == 0) {
    failed.error = absl::Status(last_code_, errors_[0]);
  } else {
    std::vector<std::string> parts;
    for (uint32_t k = 0; k <= n; ++k) {
      parts.push_back(absl::StrCat(
          k == 0 ? "primary" : absl::StrCat("fallback ", k), ": ", errors_[k]));
    }
    failed.error = absl::Status(last_code_, absl::StrJoin(parts, "; "));
  }
  std::vector<std::shared_ptr<Lease>> none;
  SettleLocked(std::move(failed), &none, settled);
}

void JobTask::SettleLocked(JobResult result,
                           std::vector<std::shared_ptr<Lease>>* to_cancel,
                           JobResult* settled) {
  result.attempts = attempts_;
  result.queue_time = queue_time_;
  result.run_time = run_time_;
  *settled = std::move(result);
  settled_ = true;
  for (size_t k = 0; k < live_.size(); ++k) {
    if (live_[k]) to_cancel->push_back(std::move(live_[k]));
    live_try_[k] = 0;
  }
  if (retry_timer_ != 0) {
    executor_->timers()->Cancel(retry_timer_);
    retry_timer_ = 0;
  }
}

void JobTask::FillProgress(JobResult* result) {
  std::vector<std::shared_ptr<Lease>> live;
  {
    MutexLock lock(&mu_);
    result->attempts = attempts_;
    result->queue_time = queue_time_;
    result->run_time = run_time_;
    for (auto& a : live_) {
      if (a) live.push_back(a);
    }
  }
  for (auto& a : live) {
    absl::Duration queued, ran;
    if (a->Progress(&queued, &ran)) {
      result->queue_time = queued;
      result->run_time = ran;
    }
  }
}

JobTask::DoneFn JobTask::SettleCancelledLocked(JobResult* result) {
  JobResult c;
  c.outcome = OutcomeForCancellation(cancelled_);
  c.error = cancelled_;
  std::vector<std::shared_ptr<Lease>> none;  // None is live.
  SettleLocked(std::move(c), &none, result);
  return std::move(done_);
}

void JobTask::Cancel(const absl::Status& why) {
  std::vector<std::shared_ptr<Lease>> to_cancel;
  DoneFn done;
  JobResult result;
  {
    MutexLock lock(&mu_);
    if (settled_ || !cancelled_.ok()) return;
    cancelled_ = why.ok() ? absl::CancelledError("cancelled") : why;
    if (!started_) return;  // Start() settles it.
    for (auto& a : live_) {
      if (a) to_cancel.push_back(a);
    }
    if (retry_timer_ != 0 && executor_->timers()->Cancel(retry_timer_)) {
      // It was waiting for a retry: nothing else will settle it.
      retry_timer_ = 0;
      done = SettleCancelledLocked(&result);
    }
  }
  for (auto& a : to_cancel) a->Cancel(why);
  if (done) done(std::move(result));
}

}  // namespace jobgroup

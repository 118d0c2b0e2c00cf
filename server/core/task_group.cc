// Implementation of TaskGroup.
#include "server/core/task_group.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace jobgroup {

std::shared_ptr<TaskGroup> TaskGroup::Create(Options options,
                                             TimerService* timers,
                                             OutcomeFn on_outcome,
                                             CancelFn on_cancel,
                                             DoneFn on_done) {
  auto group =
      std::make_shared<TaskGroup>(options, timers, std::move(on_outcome),
                                  std::move(on_cancel), std::move(on_done));
  if (options.deadline != absl::InfiniteFuture()) {
    std::weak_ptr<TaskGroup> weak = group;
    TimerService::TimerId id = timers->Schedule(options.deadline, [weak] {
      if (auto g = weak.lock()) {
        g->Cancel(absl::DeadlineExceededError("call deadline exceeded"));
      }
    });
    MutexLock lock(&group->mu_);
    group->deadline_timer_ = id;
  }
  return group;
}

TaskGroup::TaskGroup(Options options, TimerService* timers,
                     OutcomeFn on_outcome, CancelFn on_cancel, DoneFn on_done)
    : options_(options),
      timers_(timers),
      on_outcome_(std::move(on_outcome)),
      on_cancel_(std::move(on_cancel)),
      on_done_(std::move(on_done)) {}

TaskGroup::~TaskGroup() {
  if (deadline_timer_ != 0) timers_->Cancel(deadline_timer_);
}

void TaskGroup::Spawn(uint64_t index, std::shared_ptr<Task> shared) {
  if (options_.deadline != absl::InfiniteFuture() &&
      absl::Now() >= options_.deadline) {
    Cancel(absl::DeadlineExceededError("call deadline exceeded"));
  }
  absl::Status reason;
  {
    MutexLock lock(&mu_);
    if (cancel_reason_.ok()) {
      running_.emplace(index, shared);
    } else {
      reason = cancel_reason_;
      ++delivering_;
    }
  }
  if (!reason.ok()) {
    JobResult r;
    r.index = index;
    r.outcome = OutcomeForCancellation(reason);
    r.error = reason;
    std::vector<JobResult> outcomes;
    outcomes.push_back(std::move(r));
    Deliver(std::move(outcomes), {}, absl::OkStatus());
    return;
  }
  shared->Start([self = shared_from_this(), index](JobResult result) {
    self->OnTaskDone(index, std::move(result));
  });
}

void TaskGroup::OnTaskDone(uint64_t index, JobResult result) {
  std::shared_ptr<Task> task;  // Destroyed after the lock is released.
  std::vector<JobResult> outcomes;
  std::vector<std::shared_ptr<Task>> to_cancel;
  absl::Status cancelled_now;
  {
    MutexLock lock(&mu_);
    auto it = running_.find(index);
    if (it == running_.end()) return;  // Outcome already settled.
    task = std::move(it->second);
    running_.erase(it);
    result.index = index;
    result.kind = task->kind();
    bool fail_fast = result.outcome == JobOutcome::kFailed &&
                     options_.policy == FailurePolicy::kFailFast &&
                     cancel_reason_.ok();
    std::string failed_msg;
    if (fail_fast) {
      failed_msg = absl::StrCat("cancelled because job ", index,
                                " failed: ", result.error.message());
    }
    outcomes.push_back(std::move(result));
    ++delivering_;
    if (fail_fast) {
      cancelled_now = absl::CancelledError(failed_msg);
      to_cancel = CancelLocked(cancelled_now, &outcomes);
    }
  }
  Deliver(std::move(outcomes), std::move(to_cancel), cancelled_now);
}

void TaskGroup::Cancel(absl::Status why) {
  if (why.ok()) why = absl::CancelledError("cancelled");
  std::vector<JobResult> outcomes;
  std::vector<std::shared_ptr<Task>> to_cancel;
  {
    MutexLock lock(&mu_);
    if (!cancel_reason_.ok()) return;
    to_cancel = CancelLocked(why, &outcomes);
  }
  Deliver(std::move(outcomes), std::move(to_cancel), why);
}

std::vector<std::shared_ptr<Task>> TaskGroup::CancelLocked(
    absl::Status why, std::vector<JobResult>* outcomes) {
  cancel_reason_ = why;
  scope_->Cancel(why);
  std::vector<std::shared_ptr<Task>> to_cancel;
  to_cancel.reserve(running_.size());
  JobOutcome outcome = OutcomeForCancellation(why);
  for (auto& [index, task] : running_) {
    JobResult r;
    r.index = index;
    r.outcome = outcome;
    r.error = why;
    r.kind = task->kind();
    task->FillProgress(&r);
    outcomes->push_back(std::move(r));
    to_cancel.push_back(std::move(task));
  }
  delivering_ += static_cast<int64_t>(running_.size());
  running_.clear();
  ++delivering_;  // The cancel callback.
  if (deadline_timer_ != 0) {
    timers_->Cancel(deadline_timer_);
    deadline_timer_ = 0;
  }
  return to_cancel;
}

void TaskGroup::Deliver(std::vector<JobResult> outcomes,
                        std::vector<std::shared_ptr<Task>> to_cancel,
                        const absl::Status& cancelled_now) {
  // Outcomes first: a cancellation that settles thousands of jobs gets its
  // reply out before the (slower) clean-up below. Nothing settled can start
  // meanwhile: the scope was cancelled under the lock, and every attempt
  // checks it before running its handler.
  for (JobResult& r : outcomes) on_outcome_(std::move(r));
  int64_t delivered = static_cast<int64_t>(outcomes.size());
  if (!cancelled_now.ok()) {
    if (on_cancel_) on_cancel_(cancelled_now);
    ++delivered;
  }
  // A settled task's own late report finds nothing to settle.
  std::vector<std::shared_ptr<Task>> cancelling = std::move(to_cancel);
  DoneFn done;
  absl::Status reason;
  {
    MutexLock lock(&mu_);
    delivering_ -= delivered;
    if (closed_ && running_.empty() && delivering_ == 0 && on_done_) {
      done = std::move(on_done_);
      on_done_ = nullptr;
      reason = cancel_reason_;
    }
  }
  if (done) done(reason);
  // Then every cancelled task is told to stop; waiting ones give their
  // place in the backend queue back, running ones stop their handler.
  for (auto& task : cancelling) task->Cancel(cancelled_now);
}

void TaskGroup::Close() {
  DoneFn done;
  absl::Status reason;
  TimerService::TimerId timer = 0;
  {
    MutexLock lock(&mu_);
    closed_ = true;
    if (running_.empty() && delivering_ == 0 && on_done_) {
      done = std::move(on_done_);
      on_done_ = nullptr;
      reason = cancel_reason_;
      std::swap(timer, deadline_timer_);
    }
  }
  if (timer != 0) timers_->Cancel(timer);
  if (done) done(reason);
}

bool TaskGroup::cancelled() const {
  MutexLock lock(&mu_);
  return !cancel_reason_.ok();
}

absl::Status TaskGroup::cancel_reason() const {
  MutexLock lock(&mu_);
  return cancel_reason_;
}

size_t TaskGroup::running() const {
  MutexLock lock(&mu_);
  return running_.size();
}

}  // namespace jobgroup

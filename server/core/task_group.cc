// Implementation of TaskGroup.
#include "server/core/task_group.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace jobgroup {

std::shared_ptr<TaskGroup> TaskGroup::Create(Options options,
                                             OutcomeFn on_outcome,
                                             CancelFn on_cancel,
                                             DoneFn on_done) {
  return std::make_shared<TaskGroup>(options, std::move(on_outcome),
                                     std::move(on_cancel), std::move(on_done));
}

TaskGroup::TaskGroup(Options options, OutcomeFn on_outcome, CancelFn on_cancel,
                     DoneFn on_done)
    : options_(options),
      on_outcome_(std::move(on_outcome)),
      on_cancel_(std::move(on_cancel)),
      on_done_(std::move(on_done)) {}

bool TaskGroup::Admit(uint64_t first, std::shared_ptr<TaskBase> task,
                      uint32_t count, Cancellation* reason) {
  if (options_.deadline != absl::InfiniteFuture() &&
      absl::Now() >= options_.deadline) {
    Cancel(CancelCause::kDeadline);
  }
  MutexLock lock(&mu_);
  if (cancel_.cancelled()) {
    *reason = cancel_;
    delivering_ += count;
    return false;
  }
  running_.emplace(first, Entry{std::move(task), count, 0});
  unsettled_ += count;
  return true;
}

void TaskGroup::SettleSpawnedLate(uint64_t first, uint32_t count,
                                  const Cancellation& reason) {
  std::vector<JobResult> outcomes(count);
  JobOutcome outcome = reason.outcome();
  for (uint32_t i = 0; i < count; ++i) {
    outcomes[i].index = first + i;
    outcomes[i].outcome = outcome;
    outcomes[i].error = reason.status;
  }
  Deliver(std::move(outcomes), {}, Cancellation());
}

void TaskGroup::Spawn(uint64_t index, std::shared_ptr<Task> task) {
  Cancellation reason;
  if (!Admit(index, task, 1, &reason)) {
    SettleSpawnedLate(index, 1, reason);
    return;
  }
  task->Start([self = shared_from_this(), index](JobResult result) {
    result.index = 0;
    self->OnResults(index, &result, 1);
  });
}

void TaskGroup::SpawnRun(uint64_t first, uint32_t count,
                         std::shared_ptr<RunTask> run) {
  if (count == 0) return;
  assert(count <= RunTask::kMaxJobs);
  Cancellation reason;
  if (!Admit(first, run, count, &reason)) {
    SettleSpawnedLate(first, count, reason);
    return;
  }
  run->Start([self = shared_from_this(), first](std::vector<JobResult> rs) {
    self->OnResults(first, rs.data(), rs.size());
  });
}

void TaskGroup::OnResults(uint64_t first, JobResult* results, size_t n) {
  std::shared_ptr<TaskBase> finished;  // Destroyed after the lock is released.
  std::vector<JobResult> outcomes;
  TaskList to_cancel;
  Cancellation cancelled_now;
  {
    MutexLock lock(&mu_);
    auto it = running_.find(first);
    if (it == running_.end()) return;  // Outcomes already settled.
    Entry& e = it->second;
    outcomes.reserve(n);
    const JobKind* kind = e.task->kind();
    for (size_t i = 0; i < n; ++i) {
      JobResult& result = results[i];
      if (result.index >= e.count) continue;
      uint64_t bit = uint64_t{1} << result.index;
      if ((e.reported & bit) != 0) continue;  // Reported already.
      e.reported |= bit;
      result.index += first;
      result.kind = kind;
      --unsettled_;
      ++delivering_;
      // The batch's own results all count; the first failure then cancels
      // the rest of the group.
      if (result.outcome == JobOutcome::kFailed &&
          options_.policy == FailurePolicy::kFailFast &&
          !cancelled_now.cancelled()) {
        cancelled_now = Cancellation::Of(
            CancelCause::kFailFast, absl::CancelledError(absl::StrCat(
                                        "cancelled because job ", result.index,
                                        " failed: ", result.error.message())));
        cancelled_now.failed_job_index = result.index;
      }
      outcomes.push_back(std::move(result));
    }
    if (e.all_reported()) {
      finished = std::move(e.task);
      running_.erase(it);
    }
    if (cancelled_now.cancelled()) {
      to_cancel = CancelLocked(cancelled_now, &outcomes);
    }
  }
  Deliver(std::move(outcomes), std::move(to_cancel), cancelled_now);
}

void TaskGroup::Cancel(CancelCause cause, absl::Status why) {
  CancelWith(Cancellation::Of(cause, std::move(why)));
}

void TaskGroup::Cancel(absl::Status why) {
  CancelWith(Cancellation::FromStatus(std::move(why)));
}

void TaskGroup::CancelWith(Cancellation why) {
  std::vector<JobResult> outcomes;
  TaskList to_cancel;
  {
    MutexLock lock(&mu_);
    // Once done, the group has nothing left to cancel (a late timer, or a
    // cancel racing the end).
    if (cancel_.cancelled() || done_) return;
    to_cancel = CancelLocked(why, &outcomes);
  }
  Deliver(std::move(outcomes), std::move(to_cancel), why);
}

TaskGroup::TaskList TaskGroup::CancelLocked(const Cancellation& why,
                                            std::vector<JobResult>* outcomes) {
  cancel_ = why;
  scope_->Cancel(why.status);
  TaskList to_cancel;
  to_cancel.reserve(running_.size());
  outcomes->reserve(outcomes->size() + unsettled_);
  JobOutcome outcome = why.outcome();
  for (auto& [first, e] : running_) {
    const JobKind* kind = e.task->kind();
    for (uint32_t i = 0; i < e.count; ++i) {
      if ((e.reported & (uint64_t{1} << i)) != 0) continue;
      JobResult r;
      r.index = i;
      e.task->FillProgress(&r);
      r.index = first + i;
      r.outcome = outcome;
      r.error = why.status;
      r.kind = kind;
      outcomes->push_back(std::move(r));
    }
    to_cancel.push_back(std::move(e.task));
  }
  delivering_ += static_cast<int64_t>(unsettled_);
  unsettled_ = 0;
  running_.clear();
  ++delivering_;  // The cancel callback.
  return to_cancel;
}

void TaskGroup::Deliver(std::vector<JobResult> outcomes, TaskList to_cancel,
                        const Cancellation& cancelled_now) {
  // Outcomes first: a cancellation that settles thousands of jobs gets its
  // reply out before the (slower) clean-up below. Nothing settled can start
  // meanwhile: the scope was cancelled under the lock, and every attempt
  // checks it before running its handler.
  if (!outcomes.empty()) on_outcome_(absl::MakeSpan(outcomes));
  int64_t delivered = static_cast<int64_t>(outcomes.size());
  if (cancelled_now.cancelled()) {
    if (on_cancel_) on_cancel_(cancelled_now);
    ++delivered;
  }
  // A settled task's own late report finds nothing to settle.
  TaskList cancelling = std::move(to_cancel);
  DoneFn done;
  absl::Status reason;
  {
    MutexLock lock(&mu_);
    delivering_ -= delivered;
    if (closed_ && running_.empty() && delivering_ == 0 && !done_) {
      done_ = true;
      done = std::move(on_done_);
      on_done_ = nullptr;
      reason = cancel_.status;
    }
  }
  if (done) done(reason);
  // Then every cancelled task is told to stop; waiting ones give their
  // place in the backend queue back, running ones stop their handler.
  for (auto& task : cancelling) task->Cancel(cancelled_now.status);
}

void TaskGroup::Close() {
  DoneFn done;
  absl::Status reason;
  {
    MutexLock lock(&mu_);
    closed_ = true;
    if (running_.empty() && delivering_ == 0 && !done_) {
      done_ = true;
      done = std::move(on_done_);
      on_done_ = nullptr;
      reason = cancel_.status;
    }
  }
  if (done) done(reason);
}

bool TaskGroup::cancelled() const {
  MutexLock lock(&mu_);
  return cancel_.cancelled();
}

Cancellation TaskGroup::cancellation() const {
  MutexLock lock(&mu_);
  return cancel_;
}

absl::Status TaskGroup::cancel_reason() const {
  MutexLock lock(&mu_);
  return cancel_.status;
}

uint64_t TaskGroup::running() const {
  MutexLock lock(&mu_);
  return unsettled_;
}

}  // namespace jobgroup

// Tests of TaskGroup: exactly one outcome per task, deadline, fail-fast,
// collect-all, cancellation and the done callback.
#include "server/core/task_group.h"

#include <atomic>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/core/notification.h"

namespace jobgroup {
namespace {

// A task the test finishes by hand.
class ManualTask : public Task {
 public:
  void Start(DoneFn done) override {
    MutexLock lock(&mu_);
    started_ = true;
    done_ = std::move(done);
  }
  void Cancel(const absl::Status& why) override {
    cancels_.fetch_add(1);
    Finish(JobOutcome::kCancelled, why);
  }
  void Finish(JobOutcome outcome, absl::Status error = absl::OkStatus()) {
    DoneFn done;
    {
      MutexLock lock(&mu_);
      done = std::move(done_);
      done_ = nullptr;
    }
    if (!done) return;
    JobResult r;
    r.outcome = outcome;
    r.error = std::move(error);
    done(std::move(r));
  }
  bool started() {
    MutexLock lock(&mu_);
    return started_;
  }
  int cancels() const { return cancels_.load(); }

 private:
  Mutex mu_;
  bool started_ = false;
  DoneFn done_;
  std::atomic<int> cancels_{0};
};

struct Recorder {
  Mutex mu;
  std::map<uint64_t, JobOutcome> outcomes;
  int duplicates = 0;
  absl::Status cancelled_with;
  CancelCause cancel_cause = CancelCause::kNone;
  std::optional<uint64_t> failed_job_index;
  Notification done;
  absl::Status done_reason;
  bool outcome_after_done = false;

  std::shared_ptr<TaskGroup> Make(TaskGroup::Options o) {
    return TaskGroup::Create(
        o,
        [this](absl::Span<JobResult> rs) {
          MutexLock lock(&mu);
          if (done.HasBeenNotified()) outcome_after_done = true;
          for (const JobResult& r : rs) {
            if (!outcomes.emplace(r.index, r.outcome).second) ++duplicates;
          }
        },
        [this](const Cancellation& why) {
          MutexLock lock(&mu);
          cancelled_with = why.status;
          cancel_cause = why.cause;
          failed_job_index = why.failed_job_index;
        },
        [this](const absl::Status& reason) {
          {
            MutexLock lock(&mu);
            done_reason = reason;
          }
          done.Notify();
        });
  }
  JobOutcome Of(uint64_t i) {
    MutexLock lock(&mu);
    return outcomes.at(i);
  }
  size_t size() {
    MutexLock lock(&mu);
    return outcomes.size();
  }
};

TEST(TaskGroupTest, EveryTaskGetsItsOwnOutcomeThenDone) {
  Recorder rec;
  auto group = rec.Make({});
  std::vector<std::shared_ptr<ManualTask>> tasks;
  for (int i = 0; i < 3; ++i) {
    tasks.push_back(std::make_shared<ManualTask>());
    group->Spawn(i, tasks.back());
  }
  group->Close();
  tasks[1]->Finish(JobOutcome::kSucceeded);
  tasks[0]->Finish(JobOutcome::kSucceeded);
  EXPECT_FALSE(rec.done.HasBeenNotified());
  tasks[2]->Finish(JobOutcome::kSucceeded);
  ASSERT_TRUE(rec.done.HasBeenNotified());
  EXPECT_TRUE(rec.done_reason.ok());
  EXPECT_EQ(rec.size(), 3u);
  EXPECT_EQ(rec.duplicates, 0);
}

TEST(TaskGroupTest, FailFastCancelsTheSiblings) {
  Recorder rec;
  auto group = rec.Make({absl::InfiniteFuture(), FailurePolicy::kFailFast});
  std::vector<std::shared_ptr<ManualTask>> tasks;
  for (int i = 0; i < 4; ++i) {
    tasks.push_back(std::make_shared<ManualTask>());
    group->Spawn(i, tasks.back());
  }
  group->Close();
  tasks[0]->Finish(JobOutcome::kSucceeded);
  tasks[2]->Finish(JobOutcome::kFailed, absl::UnknownError("db down"));
  ASSERT_TRUE(rec.done.HasBeenNotified());
  EXPECT_EQ(rec.Of(0), JobOutcome::kSucceeded);
  EXPECT_EQ(rec.Of(1), JobOutcome::kCancelled);
  EXPECT_EQ(rec.Of(2), JobOutcome::kFailed);
  EXPECT_EQ(rec.Of(3), JobOutcome::kCancelled);
  EXPECT_EQ(tasks[1]->cancels(), 1);
  EXPECT_EQ(tasks[3]->cancels(), 1);
  EXPECT_EQ(tasks[0]->cancels(), 0);
  EXPECT_TRUE(absl::IsCancelled(rec.done_reason));
  EXPECT_NE(rec.cancelled_with.message().find("job 2 failed: db down"),
            std::string::npos);
  // The cause is typed: nobody has to read it out of the message.
  EXPECT_EQ(rec.cancel_cause, CancelCause::kFailFast);
  EXPECT_EQ(rec.failed_job_index, std::optional<uint64_t>(2));
  EXPECT_EQ(group->cancellation().cause, CancelCause::kFailFast);
}

TEST(TaskGroupTest, CollectAllLetsTheOthersRun) {
  Recorder rec;
  auto group = rec.Make({absl::InfiniteFuture(), FailurePolicy::kCollectAll});
  std::vector<std::shared_ptr<ManualTask>> tasks;
  for (int i = 0; i < 3; ++i) {
    tasks.push_back(std::make_shared<ManualTask>());
    group->Spawn(i, tasks.back());
  }
  group->Close();
  tasks[0]->Finish(JobOutcome::kFailed, absl::UnknownError("x"));
  tasks[1]->Finish(JobOutcome::kFailed, absl::UnknownError("y"));
  EXPECT_FALSE(rec.done.HasBeenNotified());
  tasks[2]->Finish(JobOutcome::kSucceeded);
  ASSERT_TRUE(rec.done.HasBeenNotified());
  EXPECT_EQ(rec.Of(2), JobOutcome::kSucceeded);
  EXPECT_EQ(tasks[2]->cancels(), 0);
  EXPECT_TRUE(rec.done_reason.ok());
}

// The group owns no timer: its owner (BatchRun, with the call's one
// deadline timer) cancels it for the deadline.
TEST(TaskGroupTest, DeadlineEndsUnfinishedTasksAsDeadlineExceeded) {
  Recorder rec;
  auto group =
      rec.Make({absl::Now() + absl::Hours(1), FailurePolicy::kFailFast});
  auto fast = std::make_shared<ManualTask>();
  auto slow = std::make_shared<ManualTask>();
  group->Spawn(0, fast);
  group->Spawn(1, slow);
  group->Close();
  fast->Finish(JobOutcome::kSucceeded);
  EXPECT_FALSE(rec.done.HasBeenNotified());
  group->Cancel(CancelCause::kDeadline);
  ASSERT_TRUE(rec.done.HasBeenNotified());
  EXPECT_EQ(rec.Of(0), JobOutcome::kSucceeded);
  EXPECT_EQ(rec.Of(1), JobOutcome::kDeadlineExceeded);
  EXPECT_TRUE(absl::IsDeadlineExceeded(rec.done_reason));
  EXPECT_EQ(rec.cancel_cause, CancelCause::kDeadline);
  EXPECT_EQ(rec.failed_job_index, std::nullopt);
  // The outcomes went out first; the unfinished task was told to stop
  // right after, on this thread.
  EXPECT_EQ(slow->cancels(), 1);
}

TEST(TaskGroupTest, TaskSpawnedAfterCancelNeverStarts) {
  Recorder rec;
  auto group = rec.Make({});
  group->Cancel(CancelCause::kClient, absl::CancelledError("client went away"));
  auto late = std::make_shared<ManualTask>();
  group->Spawn(7, late);
  group->Close();
  EXPECT_FALSE(late->started());
  EXPECT_EQ(rec.Of(7), JobOutcome::kCancelled);
  EXPECT_EQ(rec.cancel_cause, CancelCause::kClient);
  EXPECT_TRUE(rec.done.HasBeenNotified());
}

// However early a group is cancelled, it ends only when closed, and every
// job spawned into it meanwhile gets its one outcome at once.
TEST(TaskGroupTest, CancelledGroupEndsOnlyOnceClosed) {
  Recorder rec;
  auto group = rec.Make({});
  group->Cancel(CancelCause::kDrain);
  std::vector<std::shared_ptr<ManualTask>> tasks;
  for (int i = 0; i < 5; ++i) {
    tasks.push_back(std::make_shared<ManualTask>());
    group->Spawn(i, tasks.back());
  }
  EXPECT_EQ(rec.size(), 5u);
  EXPECT_FALSE(rec.done.HasBeenNotified());
  group->Close();
  ASSERT_TRUE(rec.done.HasBeenNotified());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(rec.Of(i), JobOutcome::kCancelled);
    EXPECT_FALSE(tasks[i]->started());
  }
  EXPECT_EQ(rec.cancel_cause, CancelCause::kDrain);
  EXPECT_EQ(rec.duplicates, 0);
}

TEST(TaskGroupTest, SpawnPastTheDeadlineNeverStarts) {
  Recorder rec;
  auto group = rec.Make({absl::Now() - absl::Milliseconds(1)});
  auto late = std::make_shared<ManualTask>();
  group->Spawn(0, late);
  group->Close();
  EXPECT_FALSE(late->started());
  EXPECT_EQ(rec.Of(0), JobOutcome::kDeadlineExceeded);
}

// Tasks finish on many threads while the group is cancelled: each task
// still gets exactly one outcome, and done comes after all of them.
TEST(TaskGroupTest, RacingFinishesAndCancelGiveExactlyOneOutcomeEach) {
  for (int round = 0; round < 30; ++round) {
    Recorder rec;
    auto group = rec.Make({absl::InfiniteFuture(), FailurePolicy::kCollectAll});
    constexpr int kTasks = 200;
    std::vector<std::shared_ptr<ManualTask>> tasks;
    for (int i = 0; i < kTasks; ++i) {
      tasks.push_back(std::make_shared<ManualTask>());
      group->Spawn(i, tasks.back());
    }
    group->Close();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = t; i < kTasks; i += 4) {
          tasks[i]->Finish(i % 3 ? JobOutcome::kSucceeded : JobOutcome::kFailed,
                           absl::UnknownError("f"));
        }
      });
    }
    threads.emplace_back([&] { group->Cancel(CancelCause::kClient); });
    for (auto& th : threads) th.join();
    ASSERT_TRUE(rec.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
    EXPECT_EQ(rec.size(), static_cast<size_t>(kTasks));
    EXPECT_EQ(rec.duplicates, 0);
    EXPECT_FALSE(rec.outcome_after_done);
  }
}

}  // namespace
}  // namespace jobgroup

// Test fixtures for the core: a runtime (timers, workers, backends, kinds,
// executor) with test kinds, and a sink that checks exactly-once results.
#ifndef JOBGROUP_TESTS_UNIT_CORE_TEST_ENV_H_
#define JOBGROUP_TESTS_UNIT_CORE_TEST_ENV_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/core/backends.h"
#include "server/core/executor.h"
#include "server/core/job_kind.h"
#include "server/core/mutex.h"
#include "server/core/notification.h"
#include "server/core/outcome_ledger.h"
#include "server/core/task_group.h"
#include "server/core/timer_service.h"
#include "server/core/worker_pool.h"

namespace jobgroup::testing {

inline int IntParam(const JobContext& ctx, absl::string_view name, int def) {
  int v = def;
  absl::string_view s = ctx.Param(name);
  if (!s.empty()) {
    EXPECT_TRUE(absl::SimpleAtoi(s, &v));
  }
  return v;
}

// Counts handlers inside each backend, from inside the handlers.
struct InsideCounter {
  std::atomic<int> now{0};
  std::atomic<int> peak{0};
  void Enter() {
    int n = now.fetch_add(1) + 1;
    int p = peak.load();
    while (n > p && !peak.compare_exchange_weak(p, n)) {
    }
  }
  void Leave() { now.fetch_sub(1); }
};

class TestEnv {
 public:
  explicit TestEnv(size_t workers = 2, size_t queue = 64)
      : pool_(workers, queue), executor_(&pool_, &timers_) {
    // A second outcome, or a job without one, fails the test at once.
    SetLifecycleErrorsFatal(true);
    EXPECT_TRUE(backends_.Add({"local", 1 << 20}).ok());
    EXPECT_TRUE(backends_.Add({"db", 3}).ok());
    inside["local"];
    inside["db"];
    EXPECT_TRUE(
        kinds_
            .Register({"echo", "local", ""},
                      [](JobContext& ctx) -> absl::StatusOr<std::string> {
                        return ctx.job().payload;
                      })
            .ok());
    EXPECT_TRUE(
        kinds_
            .Register({"fail", "local", ""},
                      [this](JobContext& ctx) -> absl::StatusOr<std::string> {
                        fail_runs.fetch_add(1);
                        return absl::UnknownError(
                            std::string(ctx.Param("message", "boom")));
                      })
            .ok());
    EXPECT_TRUE(kinds_
                    .Register({"throw", "local", ""},
                              [](JobContext&) -> absl::StatusOr<std::string> {
                                throw std::runtime_error("kaboom");
                              })
                    .ok());
    // Parks on the timer for `ms`; stops at once when cancelled; fails
    // instead when param fail=1. Counts who is inside each backend.
    EXPECT_TRUE(kinds_
                    .RegisterAsync(
                        {"sleep", "local", ""},
                        [this](std::shared_ptr<JobContext> ctx) {
                          InsideCounter& c =
                              inside[ctx->job().resolved_backend->name()];
                          c.Enter();
                          started.fetch_add(1);
                          int ms = IntParam(*ctx, "ms", 10);
                          bool fail = ctx->Param("fail") == "1";
                          auto id = ctx->timers().ScheduleAfter(
                              absl::Milliseconds(ms), [ctx, &c, fail] {
                                c.Leave();
                                if (fail) {
                                  ctx->Finish(absl::UnavailableError("flaky"));
                                } else {
                                  ctx->Finish(std::string(ctx->job().payload));
                                }
                              });
                          ctx->OnCancel([this, ctx, id, &c] {
                            if (ctx->timers().Cancel(id)) {
                              c.Leave();
                              cancelled_handlers.fetch_add(1);
                              ctx->Finish(absl::CancelledError("stopped"));
                            }
                          });
                        })
                    .ok());
    // Ignores cancellation: blocks its worker until `release` is notified.
    EXPECT_TRUE(
        kinds_
            .Register({"hang", "local", ""},
                      [this](JobContext&) -> absl::StatusOr<std::string> {
                        release_hang.WaitForNotification();
                        return std::string("late");
                      })
            .ok());
  }
  ~TestEnv() {
    if (!release_hang.HasBeenNotified()) release_hang.Notify();
    pool_.Shutdown();
    timers_.Shutdown();
  }

  std::shared_ptr<JobSpec> Job(
      std::string kind,
      std::vector<std::pair<std::string, std::string>> params = {},
      std::string backend = "") {
    auto j = std::make_shared<JobSpec>();
    j->kind = std::move(kind);
    j->params = std::move(params);
    j->backend = std::move(backend);
    Resolve(*j);
    return j;
  }
  void Resolve(JobSpec& j) {
    j.resolved_kind = kinds_.Find(j.kind);
    EXPECT_NE(j.resolved_kind, nullptr) << j.kind;
    j.resolved_backend = backends_.Find(
        j.backend.empty() ? j.resolved_kind->info.backend : j.backend);
    EXPECT_NE(j.resolved_backend, nullptr);
    for (JobSpec& f : j.fallbacks) Resolve(f);
  }

  // Waits until every handler returned and every permit of every backend
  // is back; false if that takes longer than `timeout`.
  bool Idle(absl::Duration timeout = absl::Seconds(10)) {
    absl::Time end = absl::Now() + timeout;
    while (absl::Now() < end) {
      bool idle = executor_.running_handlers() == 0 &&
                  executor_.abandoned_handlers() == 0;
      for (const Semaphore* b : backends_.List()) {
        idle = idle && b->in_use() == 0;
      }
      if (idle) return true;
      absl::SleepFor(absl::Milliseconds(1));
    }
    return false;
  }

  TimerService& timers() { return timers_; }
  WorkerPool& pool() { return pool_; }
  // For a test's own kinds, registered before its jobs are made.
  KindRegistry& kinds() { return kinds_; }
  BackendSet& backends() { return backends_; }
  Executor& executor() { return executor_; }

  std::map<std::string, InsideCounter> inside;  // Keys made up front.
  std::atomic<int> started{0};
  std::atomic<int> cancelled_handlers{0};
  std::atomic<int> fail_runs{0};
  Notification release_hang;

 private:
  TimerService timers_;
  WorkerPool pool_;
  BackendSet backends_;
  KindRegistry kinds_;
  Executor executor_;
};

// Records results; fails the test on a second result for an index.
class CollectingSink : public ResultSink {
 public:
  explicit CollectingSink(bool consume = true) : consume_(consume) {}
  bool OnResult(JobResult r) override {
    MutexLock lock(&mu_);
    EXPECT_FALSE(done_.HasBeenNotified()) << "result after OnDone";
    EXPECT_TRUE(results_.emplace(r.index, r).second)
        << "second result for job " << r.index;
    order_.push_back(r.index);
    return consume_;
  }
  void OnDone(const BatchSummary& s) override {
    {
      MutexLock lock(&mu_);
      summary_ = s;
    }
    EXPECT_FALSE(done_.HasBeenNotified()) << "OnDone twice";
    done_.Notify();
  }
  bool Wait(absl::Duration d = absl::Seconds(20)) {
    return done_.WaitForNotificationWithTimeout(d);
  }
  std::map<uint64_t, JobResult> results() {
    MutexLock lock(&mu_);
    return results_;
  }
  size_t count() {
    MutexLock lock(&mu_);
    return results_.size();
  }
  BatchSummary summary() {
    MutexLock lock(&mu_);
    return summary_;
  }
  int Count(JobOutcome o) {
    MutexLock lock(&mu_);
    int n = 0;
    for (auto& [i, r] : results_) n += r.outcome == o;
    return n;
  }
  bool done() { return done_.HasBeenNotified(); }

 private:
  const bool consume_;
  Mutex mu_;
  std::map<uint64_t, JobResult> results_;
  std::vector<uint64_t> order_;
  BatchSummary summary_;
  Notification done_;
};

// Makes every job of a batch from one template.
inline JobFactory Repeat(std::shared_ptr<JobSpec> job) {
  return [job](uint64_t) { return job; };
}

// Holds the timer thread inside a callback from construction to
// destruction: no timer fires meanwhile (a call's deadline timer among
// them), however slow the machine, so a test can pass a deadline that
// only the code under test may notice.
class TimerThreadHeld {
 public:
  explicit TimerThreadHeld(TimerService& timers)
      : state_(std::make_shared<State>()) {
    timers.Schedule(absl::InfinitePast(), [state = state_] {
      state->entered.Notify();
      state->release.WaitForNotification();
    });
    state_->entered.WaitForNotification();
  }
  ~TimerThreadHeld() { state_->release.Notify(); }
  TimerThreadHeld(const TimerThreadHeld&) = delete;
  TimerThreadHeld& operator=(const TimerThreadHeld&) = delete;

 private:
  struct State {
    Notification entered;
    Notification release;
  };
  std::shared_ptr<State> state_;  // Shared with the callback.
};

// Waits until `t` has passed (by the clock the code under test reads).
inline void SleepPast(absl::Time t) {
  while (absl::Now() <= t) absl::SleepFor(absl::Milliseconds(2));
}

// Makes job i of a batch the i-th of `jobs`.
inline JobFactory FromList(std::vector<std::shared_ptr<const JobSpec>> jobs) {
  auto all = std::make_shared<decltype(jobs)>(std::move(jobs));
  return [all](uint64_t i) { return (*all)[i]; };
}

// Hosts one lease as its TaskGroup does, for the tests of the lease alone:
// starts it at an index, records its results there (duplicates counted),
// and on Cancel() settles the jobs it has not reported (with what
// Lease::FillProgress() knows) before telling it to stop.
class LeaseHost : public std::enable_shared_from_this<LeaseHost> {
 public:
  // The outcomes, by index.
  Mutex mu;
  std::map<uint64_t, JobResult> by_index;
  int duplicates = 0;
  // Closed, and every job of the lease has its result.
  Notification done;

  std::shared_ptr<const CancellationSignal> scope() const { return scope_; }

  // Starts `lease` as the jobs [first, first + count).
  void SpawnRun(uint64_t first, uint32_t count, std::shared_ptr<Lease> lease) {
    {
      MutexLock lock(&mu);
      first_ = first;
      count_ = count;
      lease_ = lease;
    }
    lease->Start([self = shared_from_this()](std::vector<JobResult> rs) {
      self->OnReport(rs);
    });
  }
  void Close() {
    MutexLock lock(&mu);
    closed_ = true;
    MaybeDoneLocked();
  }
  void Cancel(CancelCause cause, absl::Status why = absl::OkStatus()) {
    Cancel(Cancellation::Of(cause, std::move(why)));
  }
  void Cancel(absl::Status why) {
    Cancel(Cancellation::FromStatus(std::move(why)));
  }
  std::map<uint64_t, JobResult> Get() {
    MutexLock lock(&mu);
    return by_index;
  }

 private:
  void Cancel(const Cancellation& why) {
    std::shared_ptr<Lease> lease;
    {
      MutexLock lock(&mu);
      if (cancelled_) return;
      cancelled_ = true;
      scope_->Cancel(why.status);
      lease = lease_;
      for (uint32_t i = 0; lease != nullptr && i < count_; ++i) {
        if (by_index.count(first_ + i) != 0) continue;
        JobResult r;
        r.index = i;
        lease->FillProgress(&r);
        r.index = first_ + i;
        r.outcome = why.outcome();
        r.error = why.status;
        r.kind = lease->kind();
        by_index.emplace(r.index, std::move(r));
      }
      MaybeDoneLocked();
    }
    if (lease != nullptr) lease->Cancel(why.status);
  }
  void OnReport(std::vector<JobResult>& rs) {
    MutexLock lock(&mu);
    if (cancelled_) return;  // Settled by Cancel().
    for (JobResult& r : rs) {
      r.index += first_;
      r.kind = lease_->kind();
      if (!by_index.emplace(r.index, std::move(r)).second) ++duplicates;
    }
    MaybeDoneLocked();
  }
  void MaybeDoneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (closed_ && by_index.size() == count_ && !done.HasBeenNotified()) {
      done.Notify();
    }
  }

  const std::shared_ptr<CancellationSignal> scope_ =
      std::make_shared<CancellationSignal>();
  uint64_t first_ ABSL_GUARDED_BY(mu) = 0;
  uint32_t count_ ABSL_GUARDED_BY(mu) = 0;
  std::shared_ptr<Lease> lease_ ABSL_GUARDED_BY(mu);
  bool closed_ ABSL_GUARDED_BY(mu) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu) = false;
};

// Runs `rounds` calls, each of the jobs `make_jobs` draws, with a random
// window and failure policy, cancelled after a random delay (up to
// `max_delay`) from another thread; checks that every job has exactly one
// result (CollectingSink fails on a second), that every handler and permit
// is back afterwards, and that the db backend never held more than its 3.
inline void RandomCancelRounds(
    TestEnv& env, std::mt19937& rng, int rounds, absl::Duration max_delay,
    const std::function<std::vector<std::shared_ptr<const JobSpec>>()>&
        make_jobs) {
  for (int round = 0; round < rounds; ++round) {
    CollectingSink sink;
    TaskGroup::Options o;
    o.max_concurrency = 1 + rng() % 300;
    o.policy =
        rng() % 2 ? FailurePolicy::kFailFast : FailurePolicy::kCollectAll;
    std::vector<std::shared_ptr<const JobSpec>> jobs = make_jobs();
    const uint64_t n = jobs.size();
    auto run = TaskGroup::Create(&env.executor(), o, &sink);
    run->AddJobs(n, FromList(std::move(jobs)));
    absl::Duration delay =
        absl::Microseconds(rng() % absl::ToInt64Microseconds(max_delay));
    std::thread canceller([&run, delay] {
      absl::SleepFor(delay);
      run->Cancel(CancelCause::kClient, absl::CancelledError("random cancel"));
    });
    run->CloseInput();
    ASSERT_TRUE(sink.Wait()) << "round " << round;
    canceller.join();
    ASSERT_EQ(sink.count(), n) << "round " << round;
    ASSERT_EQ(sink.summary().total, n) << "round " << round;
    ASSERT_TRUE(env.Idle()) << "round " << round;
    ASSERT_LE(env.inside["db"].peak.load(), 3) << "round " << round;
  }
  EXPECT_LE(env.backends().Find("db")->peak_in_use(), 3);
}

}  // namespace jobgroup::testing

#endif  // JOBGROUP_TESTS_UNIT_CORE_TEST_ENV_H_

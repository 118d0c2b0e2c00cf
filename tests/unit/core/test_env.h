// Test fixtures for the core: a runtime (timers, workers, backends, kinds,
// dispatcher) with test kinds, and a sink that checks exactly-once results.
#ifndef JOBGROUP_TESTS_UNIT_CORE_TEST_ENV_H_
#define JOBGROUP_TESTS_UNIT_CORE_TEST_ENV_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"
#include "server/core/backends.h"
#include "server/core/batch_run.h"
#include "server/core/dispatcher.h"
#include "server/core/job_kind.h"
#include "server/core/mutex.h"
#include "server/core/notification.h"
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
      : pool_(workers, queue), dispatcher_(&pool_, &timers_) {
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

  TimerService& timers() { return timers_; }
  WorkerPool& pool() { return pool_; }
  // For a test's own kinds, registered before its jobs are made.
  KindRegistry& kinds() { return kinds_; }
  BackendSet& backends() { return backends_; }
  Dispatcher& dispatcher() { return dispatcher_; }

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
  Dispatcher dispatcher_;
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

}  // namespace jobgroup::testing

#endif  // JOBGROUP_TESTS_UNIT_CORE_TEST_ENV_H_

// A randomized test of a job's lifecycle through the core (no gRPC): many
// calls (TaskGroup) with random sizes and kinds (quick synchronous, waiting
// asynchronous, failing, throwing, flaky under retries, fallbacks in
// SEQUENTIAL and RACE, per-job timeouts, rejected jobs, handlers that
// ignore cancellation), deadlines already past, expiring during spawn and
// mid-run, client cancels and drains at random instants, FAIL_FAST and
// COLLECT_ALL, rounds (batch_size) and windows (max_concurrency), input all
// at once or streamed, drivers that let the executor run quick trips on
// their thread (CallerRuns) or not, sinks that consume at once or later. A
// few calls run
// at once, sharing the backends. After each call it checks:
//  - every job has exactly one result, with a valid outcome, and none comes
//    after OnDone(); OnDone() comes exactly once;
//  - the summary adds up and agrees with the results and with its cause;
//  - nothing is left in flight (run->pending(), run->in_window());
// and after each set of calls: every permit is back, no handler runs, the
// ready queue is empty, and no backend ever held more than its capacity.
//
// The seed is printed, and taken from JOBGROUP_RANDOM_SEED when set; the
// number of calls from JOBGROUP_RANDOM_CALLS (the test also stops starting
// calls after JOBGROUP_RANDOM_SECONDS, 20 by default, so a slow machine or
// ThreadSanitizer makes it shorter, never failing).
#include <atomic>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/core/caller_runs.h"
#include "server/core/mutex.h"
#include "server/core/notification.h"
#include "server/core/task_group.h"
#include "tests/unit/core/test_env.h"

namespace jobgroup {
namespace {

using testing::TestEnv;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  uint64_t n = 0;
  if (v != nullptr && absl::SimpleAtoi(v, &n)) return n;
  return fallback;
}

// What a job was made to be, for the checks.
struct JobPlan {
  bool rejected = false;
  bool can_succeed = true;  // False when every candidate always fails.
  bool has_timeout = false;
};

// Records every call the run makes to it, lock-free on the hot path, and
// keeps some results unconsumed for an acker to Ack() later.
class CheckingSink : public ResultSink {
 public:
  CheckingSink(uint64_t jobs, bool consume)
      : consume_(consume), seen_(jobs), outcome_(jobs) {}

  bool OnResult(JobResult r) override {
    if (done_calls_.load() != 0) result_after_done_.store(true);
    if (r.index >= seen_.size()) {
      bad_index_.store(true);
      return true;
    }
    seen_[r.index].fetch_add(1);
    outcome_[r.index].store(static_cast<int>(r.outcome));
    if (consume_) return true;
    unacked_.fetch_add(1);
    return false;
  }
  void OnCancelled(const Cancellation& why) override {
    if (done_calls_.load() != 0) cancelled_after_done_.store(true);
    cancelled_calls_.fetch_add(1);
  }
  void OnDone(const BatchSummary& s) override {
    {
      MutexLock lock(&mu_);
      summary_ = s;
    }
    done_calls_.fetch_add(1);
    done_.Notify();
  }

  // Acks what is unconsumed (some of it).
  void AckSome(TaskGroup& run, std::mt19937_64& rng) {
    uint64_t n = unacked_.load();
    if (n == 0) return;
    n = 1 + rng() % n;
    unacked_.fetch_sub(n);
    run.Ack(n);
  }

  bool Wait(absl::Duration d) {
    return done_.WaitForNotificationWithTimeout(d);
  }
  bool done() { return done_.HasBeenNotified(); }
  BatchSummary summary() {
    MutexLock lock(&mu_);
    return summary_;
  }

  const bool consume_;
  std::vector<std::atomic<int>> seen_;
  std::vector<std::atomic<int>> outcome_;
  std::atomic<uint64_t> unacked_{0};
  std::atomic<int> done_calls_{0};
  std::atomic<int> cancelled_calls_{0};
  std::atomic<bool> result_after_done_{false};
  std::atomic<bool> cancelled_after_done_{false};
  std::atomic<bool> bad_index_{false};

 private:
  Mutex mu_;
  BatchSummary summary_;
  Notification done_;
};

// One randomly drawn call, its driver threads and its checks.
class RandomCall {
 public:
  RandomCall(TestEnv& env, std::mt19937_64& rng, int id) : env_(env), id_(id) {
    seed_ = rng();
    std::mt19937_64 r(seed_);
    DrawOptions(r);
    DrawJobs(r);
    sink_ = std::make_unique<CheckingSink>(plans_.size(), r() % 5 != 0);
    // Input all at once, or streamed in chunks with pauses.
    streamed_ = r() % 5 < 2;
    // A cancellation at a random instant (from another thread), or between
    // two chunks of streamed input.
    int c = static_cast<int>(r() % 10);
    if (c < 3) {
      cancel_after_ = absl::Microseconds(r() % 8000);
    } else if (c < 4 && streamed_) {
      cancel_inline_ = true;
    }
    static constexpr CancelCause kCauses[] = {
        CancelCause::kClient, CancelCause::kDrain, CancelCause::kShutdown};
    cause_ = kCauses[r() % 3];
    driver_seed_ = r();
    // Half the drivers let the executor keep quick trips on their thread
    // and run them once the input is closed, as the service's threads do.
    caller_runs_ = r() % 2 == 0;
  }

  void Start() {
    run_ = TaskGroup::Create(&env_.executor(), options_, sink_.get());
    driver_ = std::thread([this] { Drive(); });
    if (cancel_after_ >= absl::ZeroDuration()) {
      canceller_ = std::thread([this] {
        absl::SleepFor(cancel_after_);
        run_->Cancel(cause_);
      });
    }
    if (!sink_->consume_) {
      acker_ = std::thread([this] {
        std::mt19937_64 r(driver_seed_ + 1);
        while (!sink_->done()) {
          sink_->AckSome(*run_, r);
          absl::SleepFor(absl::Microseconds(r() % 300));
        }
      });
    }
  }

  // Waits for the end; false when it did not come (a lost result).
  bool Join() {
    bool done = sink_->Wait(absl::Seconds(60));
    if (!done) {
      // Lets the threads end, so that the failure is reported, not a hang.
      stuck_results_ = Unsettled();
      run_->Cancel(CancelCause::kShutdown);
      run_->CloseInput();
      sink_->Wait(absl::Seconds(5));
    }
    if (driver_.joinable()) driver_.join();
    if (canceller_.joinable()) canceller_.join();
    if (acker_.joinable()) acker_.join();
    return done;
  }

  void Check() {
    SCOPED_TRACE(Describe());
    const uint64_t n = plans_.size();
    CheckingSink& s = *sink_;
    EXPECT_EQ(s.done_calls_.load(), 1) << "OnDone() not exactly once";
    EXPECT_FALSE(s.result_after_done_.load()) << "a result after OnDone()";
    EXPECT_FALSE(s.cancelled_after_done_.load());
    EXPECT_FALSE(s.bad_index_.load()) << "a result for a job never added";
    uint64_t tally[kJobOutcomeCount] = {};
    for (uint64_t i = 0; i < n; ++i) {
      int seen = s.seen_[i].load();
      ASSERT_EQ(seen, 1) << "job " << i << " has " << seen << " results";
      int o = s.outcome_[i].load();
      ASSERT_TRUE(o >= 0 && o < kJobOutcomeCount) << "job " << i;
      ++tally[o];
      JobOutcome outcome = static_cast<JobOutcome>(o);
      const JobPlan& p = plans_[i];
      if (outcome == JobOutcome::kRejected) {
        EXPECT_TRUE(p.rejected) << "job " << i;
      }
      if (outcome == JobOutcome::kSucceeded) {
        EXPECT_TRUE(p.can_succeed && !p.rejected) << "job " << i;
      }
    }
    BatchSummary sum = s.summary();
    EXPECT_EQ(sum.total, n);
    uint64_t counted = 0;
    for (int o = 0; o < kJobOutcomeCount; ++o) {
      EXPECT_EQ(sum.counts[o], tally[o])
          << JobOutcomeName(static_cast<JobOutcome>(o));
      counted += sum.counts[o];
    }
    EXPECT_EQ(counted, n);
    EXPECT_EQ(run_->pending(), 0u);
    EXPECT_EQ(run_->in_window(), s.unacked_.load());
    // The summary's cause agrees with what happened.
    EXPECT_EQ(s.cancelled_calls_.load(),
              sum.cancel_cause == CancelCause::kNone ? 0 : 1);
    EXPECT_EQ(sum.deadline_hit, sum.cancel_cause == CancelCause::kDeadline);
    EXPECT_EQ(sum.cancel_reason.ok(), sum.cancel_cause == CancelCause::kNone);
    switch (sum.cancel_cause) {
      case CancelCause::kNone:
        EXPECT_EQ(sum.count(JobOutcome::kCancelled), 0u);
        for (uint64_t i = 0; i < n; ++i) {
          JobOutcome o = static_cast<JobOutcome>(s.outcome_[i].load());
          if (plans_[i].rejected) {
            EXPECT_EQ(o, JobOutcome::kRejected) << "job " << i;
          }
          if (o == JobOutcome::kDeadlineExceeded) {
            EXPECT_TRUE(plans_[i].has_timeout) << "job " << i;
          }
        }
        break;
      case CancelCause::kFailFast:
        EXPECT_EQ(options_.policy, FailurePolicy::kFailFast);
        ASSERT_TRUE(sum.failed_job_index.has_value());
        ASSERT_LT(*sum.failed_job_index, n);
        EXPECT_EQ(s.outcome_[*sum.failed_job_index].load(),
                  static_cast<int>(JobOutcome::kFailed));
        break;
      case CancelCause::kDeadline:
        EXPECT_NE(options_.deadline, absl::InfiniteFuture());
        break;
      default:
        EXPECT_EQ(sum.cancel_cause, cause_);
        EXPECT_TRUE(cancel_inline_ || cancel_after_ >= absl::ZeroDuration());
        break;
    }
    if (sum.cancel_cause != CancelCause::kFailFast) {
      EXPECT_FALSE(sum.failed_job_index.has_value());
    }
  }

  // The jobs with no result yet, as "i i ...".
  std::string Unsettled() {
    std::string out;
    for (uint64_t i = 0; i < sink_->seen_.size(); ++i) {
      if (sink_->seen_[i].load() == 0) absl::StrAppend(&out, " ", i);
    }
    return out;
  }
  const std::string& stuck_results() const { return stuck_results_; }

  // Frees what the call holds, before the next set of calls.
  void Release() { run_ = nullptr; }

  std::string Describe() const {
    return absl::StrCat(
        "call ", id_, " (seed ", seed_, "): ", plans_.size(), " jobs",
        streamed_ ? ", streamed" : "",
        caller_runs_ ? ", driver keeps quick trips (CallerRuns)" : "",
        ", batch_size ", options_.batch_size, ", max_concurrency ",
        options_.max_concurrency,
        options_.policy == FailurePolicy::kFailFast ? ", fail-fast"
                                                    : ", collect-all",
        options_.fallback_mode == FallbackMode::kRace ? ", race" : "",
        ", attempts ", options_.retry.max_attempts,
        options_.deadline == absl::InfiniteFuture()
            ? std::string(", no deadline")
            : absl::StrCat(", deadline ", deadline_note_),
        cancel_after_ >= absl::ZeroDuration()
            ? absl::StrCat(", cancel (", CancelCauseName(cause_), ") after ",
                           absl::FormatDuration(cancel_after_))
            : "",
        cancel_inline_ ? absl::StrCat(", cancel (", CancelCauseName(cause_),
                                      ") between chunks")
                       : "",
        sink_->consume_ ? "" : ", acks later");
  }

 private:
  void DrawOptions(std::mt19937_64& r) {
    options_.batch_size = r() % 5 < 3 ? 0 : 1 + r() % 20;
    options_.max_concurrency = r() % 5 < 2 ? 0 : 1 + r() % 40;
    options_.policy =
        r() % 2 ? FailurePolicy::kFailFast : FailurePolicy::kCollectAll;
    options_.fallback_mode =
        r() % 2 ? FallbackMode::kSequential : FallbackMode::kRace;
    if (r() % 5 < 2) {
      options_.retry.max_attempts = 2 + r() % 2;
      options_.retry.initial_backoff = absl::Microseconds(r() % 2000);
      options_.retry.max_backoff = absl::Milliseconds(3);
      options_.retry.jitter = (r() % 3) * 0.25;
    }
    switch (r() % 10) {
      case 0:
      case 1:  // Already past.
        options_.deadline = absl::Now() - absl::Microseconds(r() % 1000);
        deadline_note_ = "past";
        break;
      case 2:
      case 3: {  // During the spawn.
        absl::Duration d = absl::Microseconds(r() % 1500);
        options_.deadline = absl::Now() + d;
        deadline_note_ = absl::StrCat("in ", absl::FormatDuration(d));
        break;
      }
      case 4:
      case 5:
      case 6: {  // Mid-run.
        absl::Duration d = absl::Milliseconds(2 + r() % 25);
        options_.deadline = absl::Now() + d;
        deadline_note_ = absl::StrCat("in ", absl::FormatDuration(d));
        break;
      }
      default:
        break;
    }
  }

  // One candidate (the primary or a fallback); sets whether it can
  // succeed.
  std::shared_ptr<JobSpec> DrawCandidate(std::mt19937_64& r, bool* can_succeed,
                                         bool* timeout) {
    std::string ms = absl::StrCat(r() % 4);
    std::string db = r() % 3 == 0 ? "db" : "";
    std::shared_ptr<JobSpec> j;
    *can_succeed = true;
    switch (r() % 20) {
      case 0:
      case 1:
        j = env_.Job("fail");
        *can_succeed = false;
        break;
      case 2:
        j = env_.Job("throw");
        *can_succeed = false;
        break;
      case 3:
      case 4:
        j = env_.Job("flaky", {{"p", "50"}}, db);
        break;
      case 5:
        j = env_.Job("stubborn", {{"ms", ms}});
        break;
      case 6:
        j = env_.Job("sleep", {{"ms", ms}, {"fail", "1"}}, db);
        *can_succeed = false;
        break;
      case 7:
      case 8:
      case 9:
      case 10:
      case 11:
        j = env_.Job("sleep", {{"ms", ms}}, db);
        break;
      default:
        j = env_.Job("echo", {}, db);
        break;
    }
    if (r() % 8 == 0) {
      // A per-job timeout, often shorter than the job.
      j->timeout = absl::Microseconds(200 + r() % 4000);
      *timeout = true;
    }
    return j;
  }

  void DrawJobs(std::mt19937_64& r) {
    uint64_t n;
    switch (r() % 10) {
      case 0:
        n = 0;
        break;
      case 1:
        n = 1;
        break;
      case 2:
        n = 100 + r() % 500;
        break;
      default:
        n = 2 + r() % 60;
        break;
    }
    // A few templates, reused (as calls repeat a job), kept small.
    for (uint64_t i = 0; i < n; ++i) {
      JobPlan p;
      std::shared_ptr<JobSpec> j;
      if (r() % 30 == 0) {
        j = std::make_shared<JobSpec>();
        j->kind = "echo";
        j->rejected = absl::InvalidArgumentError("jobs[i]: bad");
        p.rejected = true;
        p.can_succeed = false;
      } else {
        bool timeout = false;
        j = DrawCandidate(r, &p.can_succeed, &timeout);
        if (r() % 8 == 0) {
          int fallbacks = 1 + static_cast<int>(r() % 3);
          for (int k = 0; k < fallbacks; ++k) {
            bool ok = false;
            j->fallbacks.push_back(*DrawCandidate(r, &ok, &timeout));
            p.can_succeed = p.can_succeed || ok;
          }
          env_.Resolve(*j);
        }
        p.has_timeout = timeout;
      }
      jobs_.push_back(std::move(j));
      plans_.push_back(p);
    }
  }

  void Drive() {
    std::optional<CallerRuns> caller_runs;
    if (caller_runs_) caller_runs.emplace();
    std::mt19937_64 r(driver_seed_);
    uint64_t n = jobs_.size();
    auto all = std::make_shared<std::vector<std::shared_ptr<const JobSpec>>>(
        jobs_.begin(), jobs_.end());
    JobFactory factory = [all](uint64_t i) { return (*all)[i]; };
    if (!streamed_) {
      EXPECT_TRUE(run_->AddJobs(n, std::move(factory)));
    } else {
      uint64_t added = 0;
      uint64_t cancel_at = n == 0 ? 0 : r() % (n + 1);
      bool first = true;
      while (added < n) {
        if (cancel_inline_ && added >= cancel_at) {
          run_->Cancel(cause_);
          cancel_inline_done_ = true;
        }
        uint64_t chunk = std::min<uint64_t>(n - added, 1 + r() % 40);
        EXPECT_TRUE(run_->AddJobs(chunk, first ? factory : nullptr));
        first = false;
        added += chunk;
        if (r() % 3 == 0) absl::SleepFor(absl::Microseconds(r() % 1500));
      }
      if (cancel_inline_ && !cancel_inline_done_) run_->Cancel(cause_);
    }
    // The input may close before, during or after a cancellation.
    if (r() % 4 == 0) absl::SleepFor(absl::Microseconds(r() % 2000));
    EXPECT_FALSE(sink_->done()) << "ended before its input was closed";
    run_->CloseInput();
  }

  TestEnv& env_;
  const int id_;
  uint64_t seed_ = 0;
  uint64_t driver_seed_ = 0;
  bool caller_runs_ = false;
  TaskGroup::Options options_;
  std::string deadline_note_;
  std::vector<std::shared_ptr<JobSpec>> jobs_;
  std::vector<JobPlan> plans_;
  std::unique_ptr<CheckingSink> sink_;
  bool streamed_ = false;
  absl::Duration cancel_after_ = -absl::InfiniteDuration();
  bool cancel_inline_ = false;
  bool cancel_inline_done_ = false;
  CancelCause cause_ = CancelCause::kClient;
  std::shared_ptr<TaskGroup> run_;
  std::thread driver_;
  std::thread canceller_;
  std::thread acker_;
  std::string stuck_results_;
};

// The test's own kinds, beside TestEnv's echo, fail, throw and sleep.
void RegisterKinds(TestEnv& env) {
  // Fails p percent of its runs.
  ASSERT_TRUE(env.kinds()
                  .Register({"flaky", "local", ""},
                            [](JobContext& ctx) -> absl::StatusOr<std::string> {
                              thread_local std::mt19937 gen(
                                  std::random_device{}());
                              int p = testing::IntParam(ctx, "p", 50);
                              if (static_cast<int>(gen() % 100) < p) {
                                return absl::UnavailableError("flaky");
                              }
                              return std::string("ok");
                            })
                  .ok());
  // Asynchronous; ignores cancellation and finishes on its own after ms
  // (its job has long had its outcome by then: an abandoned handler).
  ASSERT_TRUE(env.kinds()
                  .RegisterAsync({"stubborn", "local", ""},
                                 [](std::shared_ptr<JobContext> ctx) {
                                   int ms = testing::IntParam(*ctx, "ms", 1);
                                   ctx->timers().ScheduleAfter(
                                       absl::Milliseconds(ms), [ctx] {
                                         ctx->Finish(std::string("late"));
                                       });
                                 })
                  .ok());
}

TEST(LifecycleRandomTest, EveryJobOfEveryCallGetsExactlyOneOutcome) {
  const uint64_t seed = EnvOr("JOBGROUP_RANDOM_SEED", std::random_device{}());
  const uint64_t calls = EnvOr("JOBGROUP_RANDOM_CALLS", 3000);
  const absl::Duration budget =
      absl::Seconds(EnvOr("JOBGROUP_RANDOM_SECONDS", 20));
  std::cout << "seed " << seed << " (rerun with JOBGROUP_RANDOM_SEED=" << seed
            << ")\n";
  SCOPED_TRACE(absl::StrCat("JOBGROUP_RANDOM_SEED=", seed));
  std::mt19937_64 rng(seed);
  TestEnv env(2, 64);
  RegisterKinds(env);
  const absl::Time give_up = absl::Now() + budget;
  uint64_t ran = 0;
  while (ran < calls && absl::Now() < give_up) {
    // A few calls at once, sharing the backends.
    int at_once = 1 + static_cast<int>(rng() % 4);
    std::vector<std::unique_ptr<RandomCall>> set;
    for (int k = 0; k < at_once; ++k) {
      set.push_back(
          std::make_unique<RandomCall>(env, rng, static_cast<int>(ran + k)));
    }
    for (auto& c : set) c->Start();
    bool all_done = true;
    for (auto& c : set) {
      if (!c->Join()) {
        ADD_FAILURE() << c->Describe() << ": did not end; jobs with no result:"
                      << c->stuck_results();
        all_done = false;
      }
    }
    for (auto& c : set) c->Check();
    for (auto& c : set) c->Release();
    ASSERT_TRUE(all_done);
    ASSERT_TRUE(env.Idle()) << "a permit or a handler was not given back";
    for (const Semaphore* b : env.backends().List()) {
      EXPECT_EQ(b->waiting(), 0) << b->name();
    }
    // A start a cancellation made moot may still be on its way to a
    // worker (which then skips it); the queue empties.
    absl::Time queue_give_up = absl::Now() + absl::Seconds(10);
    while (env.pool().queue_depth() > 0 && absl::Now() < queue_give_up) {
      absl::SleepFor(absl::Microseconds(100));
    }
    EXPECT_EQ(env.pool().queue_depth(), 0u);
    ran += set.size();
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_LE(env.backends().Find("db")->peak_in_use(), 3);
  std::cout << ran << " calls\n";
}

}  // namespace
}  // namespace jobgroup

// Tests of the Executor's leases of one attempt (Executor::Start(), what
// a TaskGroup uses for jobs with a timeout, fallbacks or retries), over the
// real workers, timers and backends: exactly one AttemptResult, cancelled while
// waiting for a permit, while queued for a worker and while running with a
// handler that ignores cancellation, the job's timeout, exceptions, a
// cancelled scope, shutdown, and every permit back afterwards.
#include <memory>
#include <optional>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/core/executor.h"
#include "tests/unit/core/test_env.h"

namespace jobgroup {
namespace {

using testing::TestEnv;

// Catches the one AttemptResult of an attempt; a second fails the test.
class Catch {
 public:
  Executor::DoneFn Fn() {
    return [this](AttemptResult r) {
      MutexLock lock(&mu_);
      EXPECT_FALSE(result_.has_value()) << "a second result";
      result_ = std::move(r);
      done_.Notify();
    };
  }
  AttemptResult Wait() {
    EXPECT_TRUE(done_.WaitForNotificationWithTimeout(absl::Seconds(10)));
    MutexLock lock(&mu_);
    if (!result_.has_value()) return AttemptResult();
    return *result_;
  }
  bool done() { return done_.HasBeenNotified(); }

 private:
  Mutex mu_;
  std::optional<AttemptResult> result_;
  Notification done_;
};

TEST(AttemptLeaseTest, ASynchronousHandlerReportsItsOutput) {
  TestEnv env;
  auto job = env.Job("echo");
  job->payload = "hi";
  Catch c;
  env.executor().Start(job, absl::InfiniteFuture(), c.Fn());
  AttemptResult r = c.Wait();
  ASSERT_TRUE(r.output.ok());
  EXPECT_EQ(*r.output, "hi");
  EXPECT_TRUE(r.ran);
  EXPECT_FALSE(r.cancelled);
  EXPECT_TRUE(env.Idle());
}

TEST(AttemptLeaseTest, AHandlerThatThrowsFailsItsAttempt) {
  TestEnv env;
  Catch c;
  env.executor().Start(env.Job("throw"), absl::InfiniteFuture(), c.Fn());
  AttemptResult r = c.Wait();
  EXPECT_EQ(r.output.status().message(), "handler threw: kaboom");
  EXPECT_TRUE(r.ran);
  EXPECT_FALSE(r.cancelled);
  EXPECT_TRUE(env.Idle());
}

TEST(AttemptLeaseTest, TheTimeoutEndsAHandlerThatIgnoresItButKeepsItsPermit) {
  TestEnv env;
  auto job = env.Job("hang", {}, "db");
  job->timeout = absl::Milliseconds(20);
  Catch c;
  env.executor().Start(job, absl::InfiniteFuture(), c.Fn());
  AttemptResult r = c.Wait();
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.output.status()));
  EXPECT_TRUE(r.cancelled);
  EXPECT_TRUE(r.timed_out) << "the job's timeout, not the call's deadline";
  EXPECT_TRUE(r.ran);
  // The handler still runs: it holds its permit and counts as abandoned.
  EXPECT_EQ(env.executor().abandoned_handlers(), 1);
  EXPECT_EQ(env.backends().Find("db")->in_use(), 1);
  env.release_hang.Notify();
  EXPECT_TRUE(env.Idle());
}

TEST(AttemptLeaseTest, WhenTheCallsDeadlineComesFirstItIsNotATimeout) {
  TestEnv env;
  auto job = env.Job("sleep", {{"ms", "10000"}});
  job->timeout = absl::Seconds(10);
  Catch c;
  env.executor().Start(job, absl::Now() + absl::Milliseconds(20), c.Fn());
  AttemptResult r = c.Wait();
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.output.status()));
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.timed_out) << "the call ran out of time, not the job";
  EXPECT_TRUE(r.ran);
  EXPECT_TRUE(env.Idle());
  EXPECT_EQ(env.cancelled_handlers.load(), 1) << "the handler was told";
}

TEST(AttemptLeaseTest, CancelWhileWaitingForAPermitGivesNothingBack) {
  TestEnv env;
  // db has 3 permits: three hanging attempts hold them.
  std::vector<std::unique_ptr<Catch>> holders;
  for (int i = 0; i < 3; ++i) {
    holders.push_back(std::make_unique<Catch>());
    env.executor().Start(env.Job("hang", {}, "db"), absl::InfiniteFuture(),
                         holders.back()->Fn());
  }
  Catch c;
  auto waiting = env.executor().Start(env.Job("echo", {}, "db"),
                                      absl::InfiniteFuture(), c.Fn());
  Semaphore* db = env.backends().Find("db");
  while (db->waiting() == 0) absl::SleepFor(absl::Microseconds(100));
  waiting->Cancel(absl::CancelledError("client went away"));
  AttemptResult r = c.Wait();
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.ran);
  EXPECT_EQ(r.output.status().message(), "client went away");
  EXPECT_EQ(db->waiting(), 0);
  EXPECT_EQ(db->in_use(), 3);
  env.release_hang.Notify();
  for (auto& h : holders) EXPECT_TRUE(h->Wait().output.ok());
  EXPECT_TRUE(env.Idle());
  EXPECT_EQ(db->peak_in_use(), 3);
}

TEST(AttemptLeaseTest, CancelWhileQueuedForAWorkerGivesThePermitBack) {
  TestEnv env(/*workers=*/1);
  Catch hang;
  env.executor().Start(env.Job("hang"), absl::InfiniteFuture(), hang.Fn());
  while (env.executor().running_handlers() == 0) {
    absl::SleepFor(absl::Microseconds(100));
  }
  // Its permit is in hand; the only worker is busy.
  Catch c;
  auto queued =
      env.executor().Start(env.Job("echo"), absl::InfiniteFuture(), c.Fn());
  Semaphore* local = env.backends().Find("local");
  EXPECT_EQ(local->in_use(), 2);
  queued->Cancel(absl::CancelledError("stop"));
  AttemptResult r = c.Wait();
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.ran);
  EXPECT_EQ(local->in_use(), 1) << "the queued attempt's permit is back";
  env.release_hang.Notify();
  EXPECT_TRUE(hang.Wait().output.ok());
  EXPECT_TRUE(env.Idle());
}

TEST(AttemptLeaseTest, ACancelledScopeStartsNoHandler) {
  TestEnv env;
  auto scope = std::make_shared<CancellationSignal>();
  scope->Cancel(absl::CancelledError("group cancelled"));
  Catch c;
  env.executor().Start(env.Job("echo"), absl::InfiniteFuture(), c.Fn(), scope);
  AttemptResult r = c.Wait();
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.ran);
  EXPECT_EQ(r.output.status().message(), "group cancelled");
  EXPECT_TRUE(env.Idle());
}

TEST(AttemptLeaseTest, AfterShutdownAnAttemptEndsCancelled) {
  TestEnv env;
  env.pool().Shutdown();
  Catch c;
  env.executor().Start(env.Job("echo"), absl::InfiniteFuture(), c.Fn());
  AttemptResult r = c.Wait();
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.ran);
  EXPECT_EQ(r.output.status().message(), "server is shutting down");
  EXPECT_TRUE(env.Idle());
}

}  // namespace
}  // namespace jobgroup

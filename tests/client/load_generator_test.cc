// Tests of the load generator behind `jobgroup bench`: the latency
// histogram's percentiles against exact sorted samples, the open loop's
// schedule (late calls are charged from their scheduled start) and the
// closed loop on fake clocks and simulated servers (so that no figure
// depends on the machine's speed), the gRPC calls against the in-process
// fake JobService, and the `bench` command line.
#include "client/load_generator.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/commands.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/security/server_credentials.h"
#include "gtest/gtest.h"
#include "tests/client/fake_job_server.h"

namespace jobgroup::client {
namespace {

using ::jobgroup::client::testing::FakeServer;
using ::jobgroup::client::testing::MakeJob;
using ::jobgroup::v1::JobResult;
using ::testing::HasSubstr;

constexpr int kSucceeded = jobgroup::v1::JOB_OUTCOME_SUCCEEDED;

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// ---------------------------------------------------------- histogram

TEST(LatencyHistogramTest, AnEmptyHistogramReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Percentile(50), absl::ZeroDuration());
  EXPECT_EQ(h.min(), absl::ZeroDuration());
  EXPECT_EQ(h.max(), absl::ZeroDuration());
  EXPECT_EQ(h.mean(), absl::ZeroDuration());
}

TEST(LatencyHistogramTest, ValuesBelow256NanosecondsAreExact) {
  LatencyHistogram h;
  for (int ns = 1; ns <= 200; ++ns) h.Record(absl::Nanoseconds(ns));
  EXPECT_EQ(h.count(), 200u);
  EXPECT_EQ(h.Percentile(50), absl::Nanoseconds(100));
  EXPECT_EQ(h.Percentile(99), absl::Nanoseconds(198));
  EXPECT_EQ(h.Percentile(0), absl::Nanoseconds(1));
  EXPECT_EQ(h.Percentile(100), absl::Nanoseconds(200));
}

TEST(LatencyHistogramTest, MinMaxAndMeanAreExact) {
  LatencyHistogram h;
  h.Record(absl::Microseconds(3));
  h.Record(absl::Milliseconds(7));
  h.Record(absl::Seconds(2));
  h.Record(absl::Nanoseconds(-5));  // Counts as zero.
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.min(), absl::ZeroDuration());
  EXPECT_EQ(h.max(), absl::Seconds(2));
  EXPECT_EQ(
      h.mean(),
      (absl::Microseconds(3) + absl::Milliseconds(7) + absl::Seconds(2)) / 4);
  EXPECT_EQ(h.Percentile(100), absl::Seconds(2));
}

// The histogram's percentiles of many random latencies, against the exact
// percentiles of the sorted samples: never below, less than 0.8% above.
TEST(LatencyHistogramTest, PercentilesAreWithinOnePercentOfTheExactOnes) {
  std::mt19937_64 random(42);
  // Log-normal around 1 ms with a long tail, like real call latencies.
  std::lognormal_distribution<double> micros(std::log(1000.0), 1.0);
  std::vector<int64_t> samples;
  LatencyHistogram h;
  for (int i = 0; i < 200'000; ++i) {
    const int64_t ns = static_cast<int64_t>(micros(random) * 1000);
    samples.push_back(ns);
    h.Record(absl::Nanoseconds(ns));
  }
  std::sort(samples.begin(), samples.end());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
    const size_t rank = static_cast<size_t>(
        std::ceil(p / 100.0 * static_cast<double>(samples.size())));
    const double exact = static_cast<double>(samples[rank - 1]);
    const double got = absl::ToDoubleNanoseconds(h.Percentile(p));
    EXPECT_GE(got, exact) << "p" << p;
    EXPECT_LE(got, exact * (1 + 1.0 / 128)) << "p" << p;
  }
  EXPECT_EQ(h.Percentile(100), absl::Nanoseconds(samples.back()));
  EXPECT_EQ(h.Percentile(0), absl::Nanoseconds(samples.front()));
}

TEST(LatencyHistogramTest, MergeAddsTheValuesOfAnother) {
  LatencyHistogram a, b;
  for (int i = 1; i <= 50; ++i) a.Record(absl::Milliseconds(i));
  for (int i = 51; i <= 100; ++i) b.Record(absl::Milliseconds(i));
  a.Merge(b);
  EXPECT_EQ(a.count(), 100u);
  EXPECT_EQ(a.max(), absl::Milliseconds(100));
  EXPECT_EQ(a.min(), absl::Milliseconds(1));
  EXPECT_NEAR(Ms(a.Percentile(90)), 90, 90.0 / 128);
}

TEST(LatencyHistogramTest, BucketsSplitMinToMaxAndAddUpToTheCount) {
  LatencyHistogram empty;
  EXPECT_TRUE(empty.Buckets(10).empty());

  LatencyHistogram same;
  for (int i = 0; i < 7; ++i) same.Record(absl::Milliseconds(3));
  const auto one = same.Buckets(10);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].count, 7u);
  EXPECT_EQ(one[0].upper, absl::Milliseconds(3));

  // 50 calls of 1 ms, 30 of 50 ms, 20 of 100 ms: ten ranges of 9.9 ms.
  LatencyHistogram h;
  for (int i = 0; i < 50; ++i) h.Record(absl::Milliseconds(1));
  for (int i = 0; i < 30; ++i) h.Record(absl::Milliseconds(50));
  for (int i = 0; i < 20; ++i) h.Record(absl::Milliseconds(100));
  const auto bars = h.Buckets(10);
  ASSERT_EQ(bars.size(), 10u);
  uint64_t total = 0;
  for (size_t i = 0; i < bars.size(); ++i) {
    total += bars[i].count;
    EXPECT_NEAR(Ms(bars[i].upper), 1 + 9.9 * (i + 1), 1e-3) << i;
    const uint64_t expected = i == 0 ? 50 : i == 4 ? 30 : i == 9 ? 20 : 0;
    EXPECT_EQ(bars[i].count, expected) << i;
  }
  EXPECT_EQ(total, h.count());
  EXPECT_EQ(bars.back().upper, h.max());
}

// ------------------------------------------------------- fakes for RunLoad

// A clock that moves only when told, or when someone sleeps.
class FakeClock : public BenchClock {
 public:
  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void SleepUntil(absl::Time when) override {
    absl::MutexLock lock(&mu_);
    now_ = std::max(now_, when);
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = absl::UnixEpoch() + absl::Hours(1);
};

google::protobuf::RepeatedPtrField<JobResult> Results(
    int count, jobgroup::v1::JobOutcome outcome) {
  google::protobuf::RepeatedPtrField<JobResult> results;
  for (int i = 0; i < count; ++i) results.Add()->set_outcome(outcome);
  return results;
}

// Ends every call inside Launch(), after `before_end(index)` (which may
// move the fake clock); the call gets `results` SUCCEEDED results and
// `status(index)`.
class InlineLauncher : public CallLauncher {
 public:
  std::function<void(uint64_t index)> before_end = [](uint64_t) {};
  std::function<grpc::Status(uint64_t index)> status = [](uint64_t) {
    return grpc::Status::OK;
  };
  std::function<int(uint64_t index)> results = [](uint64_t) { return 1; };
  uint64_t launched = 0;

  void Launch(LoadCall* call) override {
    const uint64_t index = launched++;
    before_end(index);
    call->AddResults(
        Results(results(index), jobgroup::v1::JOB_OUTCOME_SUCCEEDED));
    call->End(status(index));
  }
};

// A server and the clock of a simulated world, in one: time passes only
// when RunLoad() waits (SleepUntil(), AwaitUntil()), and while it waits the
// server ends its calls at their simulated times, on the waiting thread.
// Every call takes `service_time` from its launch and gets two SUCCEEDED
// results; any number run at once (the load's in-flight cap limits them).
// Nothing depends on how fast the machine is: the same load gives the same
// report, to the nanosecond.
class SimulatedServer : public CallLauncher, public BenchClock {
 public:
  explicit SimulatedServer(absl::Duration service_time)
      : service_time_(service_time) {}
  ~SimulatedServer() override {
    absl::MutexLock lock(&mu_);
    EXPECT_TRUE(calls_.empty()) << calls_.size() << " calls never ended";
  }

  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return now_;
  }

  // Ends the calls due by `when`, in order, then moves time to `when`.
  void SleepUntil(absl::Time when) override {
    while (EndNextCallBefore(when + absl::Nanoseconds(1))) {
    }
    absl::MutexLock lock(&mu_);
    now_ = std::max(now_, when);
  }

  // Ends calls, in order, until `condition` holds; a call due at or after
  // `deadline` is left running, and time stops at `deadline`.
  bool AwaitUntil(absl::Mutex& mu, const absl::Condition& condition,
                  absl::Time deadline) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    while (!condition.Eval()) {
      mu.Unlock();  // Ending a call takes `mu`.
      const bool ended = EndNextCallBefore(deadline);
      mu.Lock();
      if (!ended) {
        if (deadline == absl::InfiniteFuture()) {
          ADD_FAILURE() << "waiting forever: no call left to end";
          return false;
        }
        absl::MutexLock lock(&mu_);
        now_ = std::max(now_, deadline);
        return condition.Eval();
      }
    }
    return true;
  }

  void Launch(LoadCall* call) override {
    absl::MutexLock lock(&mu_);
    calls_.emplace(std::make_pair(now_ + service_time_, next_seq_++), call);
    peak_in_flight_ = std::max(peak_in_flight_, calls_.size());
  }

  size_t peak_in_flight() {
    absl::MutexLock lock(&mu_);
    return peak_in_flight_;
  }
  size_t in_flight() {
    absl::MutexLock lock(&mu_);
    return calls_.size();
  }

 private:
  // Ends the first call due before `limit`, at its time; false when none.
  bool EndNextCallBefore(absl::Time limit) {
    LoadCall* call;
    {
      absl::MutexLock lock(&mu_);
      if (calls_.empty() || calls_.begin()->first.first >= limit) return false;
      now_ = std::max(now_, calls_.begin()->first.first);
      call = calls_.begin()->second;
      calls_.erase(calls_.begin());
    }
    // Unlocked: the call's end may launch the next call (closed loop).
    call->AddResults(Results(2, jobgroup::v1::JOB_OUTCOME_SUCCEEDED));
    call->End(grpc::Status::OK);
    return true;
  }

  const absl::Duration service_time_;
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = absl::UnixEpoch() + absl::Hours(1);
  // Calls in flight by (end time, launch order).
  std::map<std::pair<absl::Time, uint64_t>, LoadCall*> calls_
      ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  size_t peak_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

LoadOptions OpenLoop(double rate, absl::Duration warmup,
                     absl::Duration duration) {
  LoadOptions o;
  o.rate = rate;
  o.warmup = warmup;
  o.duration = duration;
  return o;
}

// ------------------------------------------------------------ open loop

TEST(OpenLoopTest, StartsCallsOnScheduleAndMeasuresOnlyTheWindow) {
  FakeClock clock;
  InlineLauncher launcher;
  // 100 calls/s: due at 0, 10, 20... ms; the window is [105 ms, 1105 ms).
  const LoadReport report =
      RunLoad(OpenLoop(100, absl::Milliseconds(105), absl::Seconds(1)),
              launcher, clock);
  EXPECT_EQ(launcher.launched, 111u);  // Due at 0 .. 1100 ms.
  EXPECT_EQ(report.measured_calls, 100u);
  EXPECT_EQ(report.calls_ended_in_window, 100u);
  EXPECT_EQ(report.results_in_window, 100u);
  EXPECT_DOUBLE_EQ(report.calls_per_second, 100);
  EXPECT_DOUBLE_EQ(report.jobs_per_second, 100);
  EXPECT_EQ(report.latency.count(), 100u);
  EXPECT_EQ(report.latency.max(), absl::ZeroDuration());
  EXPECT_EQ(report.outcomes[kSucceeded], 100u);
  EXPECT_EQ(report.late_starts, 0u);
  EXPECT_EQ(report.unstarted, 0u);
  EXPECT_TRUE(report.errors.empty());
  EXPECT_EQ(report.peak_in_flight, 1u);
}

// The heart of the open loop: while call 10 holds the client up for 50 ms,
// calls 11..59 fall due; they start late, and each is charged from the
// time it was due, not from when it got to start. A generator measuring
// from the actual start would report 99 calls of 0 ms and one of 50 ms.
TEST(OpenLoopTest, LateCallsAreChargedFromTheirScheduledStart) {
  FakeClock clock;
  InlineLauncher launcher;
  launcher.before_end = [&clock](uint64_t index) {
    if (index == 10) clock.Advance(absl::Milliseconds(50));
  };
  // 1000 calls/s for 99.5 ms: calls 0..99, due at 0..99 ms.
  const LoadReport report =
      RunLoad(OpenLoop(1000, absl::ZeroDuration(), absl::Microseconds(99500)),
              launcher, clock);
  ASSERT_EQ(report.latency.count(), 100u);
  // Sorted latencies: 50 calls of 0 (0..9 and 60..99), then 1, 2 .. 50 ms
  // (call 59 .. call 11, then call 10 itself).
  EXPECT_EQ(report.latency.Percentile(50), absl::ZeroDuration());
  EXPECT_NEAR(Ms(report.latency.Percentile(75)), 25, 0.25);
  EXPECT_NEAR(Ms(report.latency.Percentile(90)), 40, 0.4);
  EXPECT_NEAR(Ms(report.latency.Percentile(99)), 49, 0.5);
  EXPECT_NEAR(Ms(report.latency.max()), 50, 0.01);
  // Calls 11..58 started more than 1 ms after they were due; call 11 was
  // 49 ms behind.
  EXPECT_EQ(report.late_starts, 48u);
  EXPECT_NEAR(Ms(report.max_start_lag), 49, 0.01);
}

// A server slower than the rate, with one call in flight at most: the
// calls queue in the client, and the queueing is latency. In simulated
// time: 500 calls/s scheduled for 99.5 ms (calls 0..49, due every 2 ms),
// 3 ms per call.
TEST(OpenLoopTest, AServerSlowerThanTheRateShowsAsGrowingLatency) {
  SimulatedServer server(absl::Milliseconds(3));
  LoadOptions options =
      OpenLoop(500, absl::ZeroDuration(), absl::Microseconds(99500));
  options.max_in_flight = 1;
  const LoadReport report = RunLoad(options, server, server);
  // Call i starts when call i-1 ends, at 3i ms, i ms after it was due.
  // Calls 0..33 start (call 33 at 99 ms); at 99.5 ms call 33 still holds
  // the slot, so calls 34..49 never start.
  EXPECT_EQ(report.measured_calls, 34u);
  EXPECT_EQ(report.unstarted, 16u);
  // Every call due is in the latency, run or not: none was omitted.
  EXPECT_EQ(report.latency.count(), 50u);
  EXPECT_EQ(report.peak_in_flight, 1u);
  EXPECT_EQ(server.peak_in_flight(), 1u);
  // Calls 2..33 started more than 1 ms late (call 1 exactly 1 ms); call 33
  // was 33 ms behind.
  EXPECT_EQ(report.late_starts, 32u);
  EXPECT_NEAR(Ms(report.max_start_lag), 33, 1e-3);
  // Call 33 was due at 66 ms and ended at 102 ms, although each call took
  // 3 ms. The unstarted ones are charged up to the end of the window: call
  // 49, due at 98 ms, 1.5 ms.
  EXPECT_NEAR(Ms(report.latency.max()), 36, 1e-3);
  EXPECT_NEAR(Ms(report.latency.min()), 1.5, 1e-3);
  EXPECT_EQ(server.in_flight(), 0u);
}

// A server far slower than the rate: with every slot taken at the end of
// the window, the calls still due are not waited for (20 calls of 50 ms
// one at a time would take 1 s) but counted, and charged in the latency.
TEST(OpenLoopTest, CallsThatNeverGetASlotAreCountedNotAwaited) {
  SimulatedServer server(absl::Milliseconds(50));
  LoadOptions options =
      OpenLoop(100, absl::ZeroDuration(), absl::Milliseconds(195));
  options.max_in_flight = 1;
  const absl::Time start = server.Now();
  const LoadReport report = RunLoad(options, server, server);
  // 20 calls were due (0, 10 .. 190 ms); calls 0..3 ran, one after
  // another, from 0, 50, 100 and 150 ms; at 195 ms call 3 held the slot.
  EXPECT_EQ(report.measured_calls, 4u);
  EXPECT_EQ(report.unstarted, 16u);
  EXPECT_EQ(report.latency.count(), 20u);
  // The run ended with call 3, at 200 ms: nothing waited for calls 4..19.
  EXPECT_EQ(server.Now() - start, absl::Milliseconds(200));
  // Call 1 was due at 10 ms and started at 50 ms; call 3 was due at 30 ms
  // and ended at 200 ms. Call 4, due at 40 ms, is charged 155 ms.
  EXPECT_NEAR(Ms(report.max_start_lag), 120, 1e-3);
  EXPECT_NEAR(Ms(report.latency.max()), 170, 1e-3);
  EXPECT_EQ(server.in_flight(), 0u);
}

TEST(OpenLoopTest, ErrorsAreCountedByCodeAndMissingResultsNoticed) {
  FakeClock clock;
  InlineLauncher launcher;
  launcher.status = [](uint64_t index) {
    return index % 2 == 1
               ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "server down")
               : grpc::Status::OK;
  };
  launcher.results = [](uint64_t index) { return index % 2 == 1 ? 0 : 2; };
  LoadOptions options = OpenLoop(100, absl::ZeroDuration(), absl::Seconds(1));
  options.jobs_per_call = 3;
  const LoadReport report = RunLoad(options, launcher, clock);
  ASSERT_EQ(report.measured_calls, 100u);
  EXPECT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors.at("UNAVAILABLE"), 50u);
  EXPECT_EQ(report.error_examples.at("UNAVAILABLE"), "server down");
  // The 50 OK calls each lacked one of their three results.
  EXPECT_EQ(report.missing_results, 50u);
  EXPECT_EQ(report.outcomes[kSucceeded], 100u);
}

// ---------------------------------------------------------- closed loop

TEST(ClosedLoopTest, KeepsExactlyConcurrencyCallsInFlight) {
  SimulatedServer server(absl::Milliseconds(2));
  LoadOptions options;
  options.concurrency = 4;
  options.jobs_per_call = 2;
  options.warmup = absl::Milliseconds(20);
  options.duration = absl::Milliseconds(200);
  const LoadReport report = RunLoad(options, server, server);
  EXPECT_EQ(server.peak_in_flight(), 4u);
  EXPECT_EQ(report.peak_in_flight, 4u);
  EXPECT_EQ(server.in_flight(), 0u);
  // 4 calls of 2 ms at a time, each replaced as it ends: in the window
  // [20 ms, 220 ms) each of the 4 slots starts a call at 20, 22 .. 218 ms,
  // and ends one at the same times.
  EXPECT_EQ(report.measured_calls, 400u);
  EXPECT_EQ(report.calls_ended_in_window, 400u);
  EXPECT_EQ(report.results_in_window, 800u);
  EXPECT_DOUBLE_EQ(report.calls_per_second, 2000);
  EXPECT_DOUBLE_EQ(report.jobs_per_second, 4000);
  EXPECT_TRUE(report.errors.empty());
  EXPECT_EQ(report.missing_results, 0u);
  EXPECT_EQ(report.outcomes[kSucceeded], 800u);
  EXPECT_EQ(report.latency.min(), absl::Milliseconds(2));
  EXPECT_EQ(report.latency.max(), absl::Milliseconds(2));
}

// Item 7: calls longer than the window. None ends inside it, so the rates
// are 0; what ended after it is counted apart, with how late.
TEST(ClosedLoopTest, CallsThatOutlastTheWindowAreCountedAfterIt) {
  SimulatedServer server(absl::Seconds(3));
  LoadOptions options;
  options.concurrency = 2;
  options.jobs_per_call = 2;
  options.warmup = absl::ZeroDuration();
  options.duration = absl::Seconds(1);
  const LoadReport report = RunLoad(options, server, server);
  EXPECT_EQ(report.calls_ended_in_window, 0u);
  EXPECT_EQ(report.results_in_window, 0u);
  EXPECT_EQ(report.jobs_per_second, 0);
  EXPECT_EQ(report.measured_calls, 2u);
  EXPECT_EQ(report.calls_ended_after_window, 2u);
  EXPECT_EQ(report.results_after_window, 4u);
  EXPECT_EQ(report.overrun, absl::Seconds(2));
  EXPECT_EQ(report.outcomes[kSucceeded], 4u);
  EXPECT_EQ(server.in_flight(), 0u);
}

// A refused connection can end a call inside Launch(); the closed loop must
// start the next one without recursing (100,000 calls here would overflow
// the stack).
TEST(ClosedLoopTest, CallsThatEndInsideLaunchDoNotRecurse) {
  FakeClock clock;
  InlineLauncher launcher;
  launcher.before_end = [&clock](uint64_t) {
    clock.Advance(absl::Microseconds(1));
  };
  launcher.status = [](uint64_t) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused");
  };
  launcher.results = [](uint64_t) { return 0; };
  LoadOptions options;
  options.concurrency = 2;
  options.warmup = absl::ZeroDuration();
  options.duration = absl::Milliseconds(100);
  const LoadReport report = RunLoad(options, launcher, clock);
  EXPECT_GE(report.measured_calls, 99'999u);
  EXPECT_EQ(report.errors.at("UNAVAILABLE"), report.measured_calls);
  EXPECT_EQ(report.latency.max(), absl::Microseconds(1));
}

// ------------------------------------------------------- over real gRPC

class GrpcLoadTest : public ::testing::TestWithParam<BenchMethod> {
 protected:
  LoadReport Bench(const std::string& target, const jobgroup::v1::Job& job,
                   LoadOptions options) {
    ClientOptions client;
    client.target = target;
    CallSpec spec;
    spec.method = GetParam();
    spec.job = job;
    spec.jobs_per_call = options.jobs_per_call;
    spec.jobs_per_message = 2;  // Several messages per Process call.
    spec.connections = 2;
    spec.deadline = absl::Seconds(5);
    absl::StatusOr<std::unique_ptr<GrpcCallLauncher>> launcher =
        GrpcCallLauncher::Create(client, spec);
    EXPECT_TRUE(launcher.ok()) << launcher.status();
    RealBenchClock clock;
    return RunLoad(options, **launcher, clock);
  }

  FakeServer server_;
};

TEST_P(GrpcLoadTest, EveryJobOfEveryMeasuredCallIsCounted) {
  LoadOptions options;
  options.concurrency = 3;
  options.jobs_per_call = 5;
  options.warmup = absl::Milliseconds(50);
  options.duration = absl::Milliseconds(300);
  const LoadReport report =
      Bench(server_.target(), MakeJob("echo", "x"), options);
  EXPECT_GT(report.measured_calls, 3u);
  EXPECT_TRUE(report.errors.empty()) << report.errors.begin()->first;
  EXPECT_EQ(report.missing_results, 0u);
  EXPECT_EQ(report.outcomes[kSucceeded], 5 * report.measured_calls);
  EXPECT_GT(report.results_in_window, 0u);
  EXPECT_EQ(report.peak_in_flight, 3u);
}

TEST_P(GrpcLoadTest, FailedJobsAreCountedAsFailedOutcomes) {
  LoadOptions options;
  options.rate = 100;
  options.jobs_per_call = 3;
  options.warmup = absl::ZeroDuration();
  options.duration = absl::Milliseconds(195);
  const LoadReport report = Bench(server_.target(), MakeJob("fail"), options);
  EXPECT_EQ(report.measured_calls, 20u);
  EXPECT_EQ(report.outcomes[jobgroup::v1::JOB_OUTCOME_FAILED], 60u);
  EXPECT_EQ(report.outcomes[kSucceeded], 0u);
}

TEST_P(GrpcLoadTest, AnUnreachableServerIsReportedAsUnavailable) {
  std::string target;
  {
    FakeServer gone;
    target = gone.target();
  }
  LoadOptions options;
  options.rate = 100;
  options.warmup = absl::ZeroDuration();
  options.duration = absl::Milliseconds(95);
  const LoadReport report = Bench(target, MakeJob("echo"), options);
  EXPECT_EQ(report.measured_calls, 10u);
  EXPECT_EQ(report.errors.at("UNAVAILABLE"), 10u);
}

INSTANTIATE_TEST_SUITE_P(Methods, GrpcLoadTest,
                         ::testing::Values(BenchMethod::kRunBatch,
                                           BenchMethod::kStreamBatch,
                                           BenchMethod::kProcess),
                         [](const auto& info) {
                           return std::string(BenchMethodName(info.param));
                         });

// The launcher's own channel speaks TLS and sends the token like JobClient.

std::string TestFile(absl::string_view name) {
  return absl::StrCat(JOBGROUP_CLIENT_TESTDATA, "/", name);
}

std::string ReadTestFile(absl::string_view name) {
  std::ifstream in(TestFile(name));
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

TEST(GrpcCallLauncherTest, MutualTlsAndTheTokenReachTheServer) {
  grpc::SslServerCredentialsOptions tls(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  tls.pem_root_certs = ReadTestFile("ca.pem");
  tls.pem_key_cert_pairs.push_back(
      {ReadTestFile("server.key"), ReadTestFile("server.pem")});
  FakeServer server(/*fixed_window=*/false, grpc::SslServerCredentials(tls));
  ClientOptions client;
  client.target = server.target();
  client.tls_ca_file = TestFile("ca.pem");
  client.tls_cert_file = TestFile("client.pem");
  client.tls_key_file = TestFile("client.key");
  client.bearer_token = "s3cret";
  CallSpec spec;
  spec.job = MakeJob("echo", "x");
  absl::StatusOr<std::unique_ptr<GrpcCallLauncher>> launcher =
      GrpcCallLauncher::Create(client, spec);
  ASSERT_TRUE(launcher.ok()) << launcher.status();
  RealBenchClock clock;
  const LoadReport report =
      RunLoad(OpenLoop(50, absl::ZeroDuration(), absl::Milliseconds(95)),
              **launcher, clock);
  EXPECT_TRUE(report.errors.empty()) << report.error_examples.begin()->second;
  EXPECT_EQ(report.outcomes[kSucceeded], 5u);
  absl::MutexLock lock(&server.service().mu);
  EXPECT_EQ(server.service().authorization, "Bearer s3cret");
}

TEST(GrpcCallLauncherTest, AnUnreadableTlsFileIsAnError) {
  ClientOptions client;
  client.target = "127.0.0.1:1";
  client.tls_ca_file = "/nonexistent/ca.pem";
  absl::StatusOr<std::unique_ptr<GrpcCallLauncher>> launcher =
      GrpcCallLauncher::Create(client, CallSpec());
  ASSERT_FALSE(launcher.ok());
  EXPECT_THAT(launcher.status().message(),
              HasSubstr("cannot read TLS CA file \"/nonexistent/ca.pem\""));
}

// -------------------------------------------------------- command line

struct CliRun {
  int status;
  std::string out;
  std::string err;
};

CliRun Cli(std::vector<std::string> args) {
  std::istringstream in;
  std::ostringstream out, err;
  Console console;
  console.in = &in;
  console.out = &out;
  console.err = &err;
  const int status = RunCli(args, console);
  return {status, out.str(), err.str()};
}

class BenchCommandTest : public ::testing::Test {
 protected:
  FakeServer server_;
  std::string target_ = absl::StrCat("--target=", server_.target());
};

TEST_F(BenchCommandTest, JsonIsOneObjectWithTheFigures) {
  CliRun run = Cli({"bench", target_, "--jobs-per-call", "4", "--concurrency",
                    "2", "--duration", "300ms", "--warmup", "0", "--json"});
  ASSERT_EQ(run.status, kExitOk) << run.err;
  ASSERT_EQ(std::count(run.out.begin(), run.out.end(), '\n'), 1) << run.out;
  google::protobuf::Struct json;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(run.out, &json).ok())
      << run.out;
  const auto& f = json.fields();
  EXPECT_EQ(f.at("method").string_value(), "RunBatch");
  EXPECT_EQ(f.at("kind").string_value(), "echo");
  EXPECT_EQ(f.at("loop").string_value(), "closed");
  EXPECT_EQ(f.at("jobs_per_call").number_value(), 4);
  EXPECT_GT(f.at("jobs_per_s").number_value(), 0);
  const auto& latency = f.at("latency_ms").struct_value().fields();
  for (const char* key : {"p50", "p90", "p99", "p99_9", "max"}) {
    EXPECT_GT(latency.at(key).number_value(), 0) << key;
  }
  EXPECT_TRUE(f.at("errors").struct_value().fields().empty());
  EXPECT_EQ(
      f.at("outcomes").struct_value().fields().at("SUCCEEDED").number_value(),
      4 * f.at("measured_calls").number_value());
}

TEST_F(BenchCommandTest, TheTableShowsRatesPercentilesAndTheSchedule) {
  CliRun run = Cli({"bench", target_, "--method", "process", "--rate", "50",
                    "--duration", "190ms", "--warmup", "0"});
  ASSERT_EQ(run.status, kExitOk) << run.err;
  EXPECT_THAT(run.out, HasSubstr("Process to 127.0.0.1:"));
  EXPECT_THAT(run.out, HasSubstr("open loop, 50 calls/s"));
  EXPECT_THAT(run.out, HasSubstr("jobs/s"));
  EXPECT_THAT(run.out, HasSubstr("p99.9"));
  EXPECT_THAT(run.out, HasSubstr("SUCCEEDED 10"));
  EXPECT_THAT(run.out, HasSubstr("errors    none"));
  EXPECT_THAT(run.out, HasSubstr("from the scheduled start"));
}

TEST_F(BenchCommandTest, FailedJobsMakeTheExitStatusOne) {
  CliRun run = Cli({"bench", target_, "--kind", "fail", "--rate", "50",
                    "--duration", "90ms", "--warmup", "0"});
  EXPECT_EQ(run.status, kExitJobsNotSucceeded) << run.err;
  EXPECT_THAT(run.out, HasSubstr("FAILED 5"));
}

TEST_F(BenchCommandTest, UsageErrorsNameTheFlag) {
  CliRun both = Cli({"bench", target_, "--rate", "10", "--concurrency", "2"});
  EXPECT_EQ(both.status, kExitUsageOrConnection);
  EXPECT_THAT(both.err, HasSubstr("--rate and --concurrency"));
  CliRun method = Cli({"bench", target_, "--method", "poll"});
  EXPECT_EQ(method.status, kExitUsageOrConnection);
  EXPECT_THAT(method.err, HasSubstr("--method: \"poll\""));
  CliRun rate = Cli({"bench", target_, "--rate", "-3"});
  EXPECT_EQ(rate.status, kExitUsageOrConnection);
  EXPECT_THAT(rate.err, HasSubstr("--rate"));
  CliRun jobs = Cli({"bench", target_, "--jobs-per-call", "0"});
  EXPECT_EQ(jobs.status, kExitUsageOrConnection);
  EXPECT_THAT(jobs.err, HasSubstr("--jobs-per-call: must be at least 1"));
  CliRun message = Cli({"bench", target_, "--jobs-per-message", "5"});
  EXPECT_EQ(message.status, kExitUsageOrConnection);
  EXPECT_THAT(message.err, HasSubstr("--method process"));
}

TEST_F(BenchCommandTest, AnUnreachableServerIsAOneLineError) {
  std::string target;
  {
    FakeServer gone;
    target = gone.target();
  }
  CliRun run = Cli({"bench", "--target", target, "--duration", "100ms"});
  EXPECT_EQ(run.status, kExitUsageOrConnection);
  EXPECT_THAT(run.err, HasSubstr("cannot reach"));
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_EQ(run.out, "");
}

// Item 7: `--kind compute --param rounds=1000 --jobs-per-call 1000
// --duration 1s` used to print 0 jobs/s and exit 0. Here each call takes a
// second at least, ten times the window.
TEST_F(BenchCommandTest, CallsLongerThanTheWindowExitOneSayingSo) {
  server_.service().run_batch_delay = absl::Seconds(1);
  CliRun run = Cli({"bench", target_, "--jobs-per-call", "3", "--duration",
                    "100ms", "--warmup", "0"});
  EXPECT_EQ(run.status, kExitJobsNotSucceeded);
  EXPECT_THAT(run.err,
              HasSubstr("jobgroup bench: no call ended inside the 100ms "
                        "window, so there is no rate: 1 calls ended after it "
                        "(3 results)"));
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_THAT(run.out, HasSubstr("after     1 calls ended after the window "
                                 "(3 results)"));
  EXPECT_THAT(run.out, HasSubstr("SUCCEEDED 3"));
}

TEST_F(BenchCommandTest, CsvIsAHeaderAndOneRowOfTheSameFields) {
  CliRun run = Cli({"bench", target_, "--rps", "50", "--duration", "190ms",
                    "--warmup", "0", "--jobs-per-call", "2", "-o", "csv"});
  ASSERT_EQ(run.status, kExitOk) << run.err;
  const std::vector<std::string> lines = absl::StrSplit(run.out, '\n');
  ASSERT_EQ(lines.size(), 3u) << run.out;  // The last is empty.
  EXPECT_EQ(lines[2], "");
  const std::vector<std::string> names = absl::StrSplit(lines[0], ',');
  const std::vector<std::string> values = absl::StrSplit(lines[1], ',');
  ASSERT_EQ(names.size(), values.size()) << run.out;
  std::map<std::string, std::string> row;
  for (size_t i = 0; i < names.size(); ++i) row[names[i]] = values[i];
  EXPECT_EQ(row["method"], "RunBatch");
  EXPECT_EQ(row["loop"], "open");
  EXPECT_EQ(row["rate"], "50");
  EXPECT_EQ(row["measured_calls"], "10");
  EXPECT_EQ(row["succeeded"], "20");
  EXPECT_EQ(row["errors"], "");
  EXPECT_TRUE(row.count("latency_p99_ms") && row.count("jobs_per_s") &&
              row.count("unstarted") && row.count("calls_ended_after_window"));
}

TEST_F(BenchCommandTest, RpsIsTheOpenLoopsOtherName) {
  CliRun run = Cli(
      {"bench", target_, "--rps", "50", "--duration", "90ms", "--warmup", "0"});
  ASSERT_EQ(run.status, kExitOk) << run.err;
  EXPECT_THAT(run.out, HasSubstr("open loop, 50 calls/s"));
  CliRun both = Cli({"bench", target_, "--rps", "5", "--rate", "5"});
  EXPECT_EQ(both.status, kExitUsageOrConnection);
  EXPECT_THAT(both.err, HasSubstr("--rate and --rps"));
  CliRun closed = Cli({"bench", target_, "--rps", "5", "--concurrency", "2"});
  EXPECT_EQ(closed.status, kExitUsageOrConnection);
  EXPECT_THAT(closed.err, HasSubstr("--rps and --concurrency"));
}

// --connections N: N channels that share no subchannel, so the server sees
// N peers; one connection by default.
TEST_F(BenchCommandTest, ConnectionsSpreadTheCallsOverThatManyConnections) {
  CliRun three = Cli({"bench", target_, "--connections", "3", "--concurrency",
                      "3", "--duration", "100ms", "--warmup", "0"});
  ASSERT_EQ(three.status, kExitOk) << three.err;
  {
    absl::MutexLock lock(&server_.service().mu);
    EXPECT_EQ(server_.service().run_batch_peers.size(), 3u);
    server_.service().run_batch_peers.clear();
  }
  CliRun one = Cli({"bench", target_, "--concurrency", "3", "--duration",
                    "100ms", "--warmup", "0"});
  ASSERT_EQ(one.status, kExitOk) << one.err;
  absl::MutexLock lock(&server_.service().mu);
  EXPECT_EQ(server_.service().run_batch_peers.size(), 1u);
}

TEST_F(BenchCommandTest, TheTableHasAHistogram) {
  CliRun run = Cli({"bench", target_, "--rate", "50", "--duration", "190ms",
                    "--warmup", "0"});
  ASSERT_EQ(run.status, kExitOk) << run.err;
  EXPECT_THAT(run.out, HasSubstr("histogram (calls by latency, up to)"));
  EXPECT_THAT(run.out, HasSubstr("|#"));
}

// The errors of a report, by gRPC code, most frequent first, with their
// share of the measured calls and a message each.
TEST(FormatLoadReportTest, ErrorsAreATableByCode) {
  LoadReport report;
  report.options.concurrency = 1;
  report.window = absl::Seconds(1);
  report.measured_calls = 10;
  report.errors = {{"DEADLINE_EXCEEDED", 1}, {"UNAVAILABLE", 4}};
  report.error_examples = {{"DEADLINE_EXCEEDED", "too slow"},
                           {"UNAVAILABLE", "connection refused"}};
  CallSpec spec;
  spec.job.set_kind("echo");
  const std::string text = FormatLoadReport(report, spec, "localhost:1");
  EXPECT_THAT(text, HasSubstr("  errors    CODE                    CALLS   "
                              "SHARE  FIRST MESSAGE\n"
                              "            UNAVAILABLE                 4   "
                              "40.0%  connection refused\n"
                              "            DEADLINE_EXCEEDED           1   "
                              "10.0%  too slow\n"));
  const std::string csv = LoadReportToCsv(report, spec, "localhost:1");
  EXPECT_THAT(csv, HasSubstr(",DEADLINE_EXCEEDED=1;UNAVAILABLE=4,"));
}

TEST(BenchHelpTest, HelpExplainsBothLoopsWithExamples) {
  CliRun run = Cli({"bench", "--help"});
  EXPECT_EQ(run.status, kExitOk);
  EXPECT_THAT(run.out, HasSubstr("--concurrency N"));
  EXPECT_THAT(run.out, HasSubstr("--rate R"));
  EXPECT_THAT(run.out, HasSubstr("scheduled start"));
  EXPECT_THAT(run.out, HasSubstr("Examples:"));
  EXPECT_THAT(Cli({"--help"}).out, HasSubstr("bench"));
}

}  // namespace
}  // namespace jobgroup::client

// The load generator behind `jobgroup bench`: it keeps RunBatch, StreamBatch
// or Process calls going against a server for a fixed time and measures
// throughput and call latency.
//
//   auto launcher = GrpcCallLauncher::Create(client_options, spec);
//   LoadReport report = RunLoad(load, **launcher, RealBenchClock());
//
// Two shapes of load:
//  - closed loop (`concurrency` > 0): that many calls are in flight at all
//    times; a call ending starts the next one. Throughput is what the server
//    gives; latency is measured from each call's start.
//  - open loop (`rate` > 0): calls are *scheduled* at fixed intervals and
//    started on schedule whether or not earlier calls have ended; each call's
//    latency is measured from its scheduled start, so a server (or a client)
//    that falls behind shows up as latency instead of as calls quietly not
//    sent ("coordinated omission"). At most `max_in_flight` calls run at
//    once; a call waiting for a slot is still charged from its scheduled
//    time. Calls still waiting for a slot when the window ends are not
//    started but counted (LoadReport::unstarted), so that a server far
//    slower than the rate cannot stretch the run without bound.
//
// Time is split into a warmup, whose calls are not measured, and the
// measured window of `duration`. Rates count what happened inside the
// window (calls ended, results received); the latency histogram, errors and
// outcomes cover the calls started (scheduled, for the open loop) inside it,
// which run to their end however long that takes: every call carries a
// gRPC deadline, so the run ends.
//
// RunLoad() knows nothing of gRPC's wire: a CallLauncher starts the calls
// (GrpcCallLauncher over the gRPC callback API, so one thread keeps any
// number of calls in flight; tests use fakes) and a BenchClock tells time.
#ifndef JOBGROUP_CLIENT_LOAD_GENERATOR_H_
#define JOBGROUP_CLIENT_LOAD_GENERATOR_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/job_client.h"
#include "grpcpp/support/status.h"
#include "jobgroup/v1/jobgroup.pb.h"

namespace jobgroup::client {

// LatencyHistogram records durations in log-spaced buckets, HDR-style: every
// power of two is split into 128 buckets, so a percentile is within 0.8% of
// the exact one (values below 256 ns are exact), from 0 to ~584 years, in a
// fixed 60 KiB. Min, max and mean are exact. Percentiles report the upper
// end of the bucket, clamped to [min, max], so they never understate.
//
// Not thread-safe: one thread records, or the owner serializes.
class LatencyHistogram {
 public:
  LatencyHistogram();

  // LatencyHistogram::Record() adds one value; negative ones count as zero.
  void Record(absl::Duration value);
  // LatencyHistogram::Merge() adds every value of `other`.
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  // Zero when empty.
  absl::Duration min() const;
  absl::Duration max() const;
  absl::Duration mean() const;
  // LatencyHistogram::Percentile() returns the value at or below which
  // `percent` (0..100) of the values lie: the smallest recorded bucket whose
  // cumulative count reaches ceil(percent/100 * count). 0 is the minimum,
  // 100 the maximum; zero when empty.
  absl::Duration Percentile(double percent) const;

  // One bar of Buckets(): the values in (previous upper, upper], the first
  // from min() on.
  struct Bucket {
    absl::Duration upper;
    uint64_t count = 0;
  };
  // LatencyHistogram::Buckets() splits [min(), max()] into `count` equal
  // ranges (as ghz's histogram does) and counts the values in each; a value
  // goes where its fine bucket's upper end, clamped to [min, max], falls
  // (so within 0.8% of where the value itself would). One bucket when every
  // value is the same, none when empty. The counts add up to count().
  std::vector<Bucket> Buckets(size_t count) const;

 private:
  static size_t BucketOf(uint64_t nanos);
  static uint64_t BucketUpperNanos(size_t bucket);

  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t min_nanos_ = UINT64_MAX;
  uint64_t max_nanos_ = 0;
  long double sum_nanos_ = 0;
};

// The call a benchmark makes.
enum class BenchMethod { kRunBatch, kStreamBatch, kProcess };

// BenchMethodName() is the RPC's name: "RunBatch", "StreamBatch", "Process".
absl::string_view BenchMethodName(BenchMethod method);

// The shape of the load; see the top of the file.
struct LoadOptions {
  // Exactly one of `concurrency` (closed loop) and `rate` (open loop, calls
  // per second) is > 0.
  uint32_t concurrency = 0;
  double rate = 0;
  // Open loop only: calls in flight at most.
  uint32_t max_in_flight = 1000;
  // Jobs each call carries, for the count of missing results.
  uint64_t jobs_per_call = 1;
  absl::Duration warmup = absl::Seconds(1);
  absl::Duration duration = absl::Seconds(10);
};

// OutcomeCounts counts results by jobgroup.v1.JobOutcome value (index 0
// holds results with an outcome this client does not know).
using OutcomeCounts = std::array<uint64_t, 6>;

// LoadReport is what RunLoad() measured. A plain value.
struct LoadReport {
  LoadOptions options;
  // The measured window (the `duration` asked for).
  absl::Duration window;
  // Calls ended and results received inside the window, and their rates.
  uint64_t calls_ended_in_window = 0;
  uint64_t results_in_window = 0;
  double calls_per_second = 0;
  double jobs_per_second = 0;
  // The calls started inside the window ("measured calls"): their latency
  // (OK or not), how many did not end OK by gRPC code name
  // ("UNAVAILABLE"), one message per code, and their results by outcome.
  uint64_t measured_calls = 0;
  LatencyHistogram latency;
  std::map<std::string, uint64_t> errors;
  std::map<std::string, std::string> error_examples;
  OutcomeCounts outcomes = {};
  // Jobs of measured calls that ended OK without a result for them: a server
  // that broke its promise of one result per job.
  uint64_t missing_results = 0;
  // Open loop: measured calls started more than 1 ms after their scheduled
  // time (the client, or the in-flight cap, was behind), and the worst lag.
  uint64_t late_starts = 0;
  absl::Duration max_start_lag;
  // Open loop: calls due before the end of the window that never started,
  // because every slot stayed taken until the end. Each is in `latency`
  // with the time from when it was due to the end of the window (a lower
  // bound), not in measured_calls.
  uint64_t unstarted = 0;
  // Calls in flight at most at any instant.
  uint64_t peak_in_flight = 0;
  // Calls that ended after the window (the rates leave them out: they are
  // work of the window's calls finished late) and the results received
  // after it; `overrun` is how long after the window the last call ended.
  // When calls outlast the window, calls_ended_in_window is 0 and these
  // say what was done.
  uint64_t calls_ended_after_window = 0;
  uint64_t results_after_window = 0;
  absl::Duration overrun;
};

// BenchClock tells time to RunLoad(), and waits by it; tests substitute a
// fake one (which may simulate time, see AwaitUntil()). Implementations
// must be thread-safe.
class BenchClock {
 public:
  virtual ~BenchClock() = default;
  // BenchClock::Now() is the current time; it never goes back.
  virtual absl::Time Now() = 0;
  // BenchClock::SleepUntil() returns once Now() >= `when`.
  virtual void SleepUntil(absl::Time when) = 0;
  // BenchClock::AwaitUntil() waits until `condition` holds or Now() reaches
  // `deadline`, and returns whether `condition` holds. `mu` is held on entry
  // and on return; like absl::Mutex::Await(), it is released while waiting,
  // so that others can make `condition` true. RunLoad() waits this way for
  // a free slot and for the last calls to end.
  //
  // The default waits in real time: with an infinite `deadline` as
  // `mu.Await()` does, otherwise in steps of at most 10 ms, reading Now()
  // between them. A fake clock can override it to let simulated time pass.
  virtual bool AwaitUntil(absl::Mutex& mu, const absl::Condition& condition,
                          absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
};

// RealBenchClock is the monotonic clock of the machine (std::steady_clock
// seen as an absl::Time; only differences mean anything).
class RealBenchClock : public BenchClock {
 public:
  absl::Time Now() override;
  void SleepUntil(absl::Time when) override;
};

class LoadRun;

// LoadCall is RunLoad()'s handle on one call, handed to
// CallLauncher::Launch(), which reports the call's results and its end
// through it.
class LoadCall {
 public:
  LoadCall(const LoadCall&) = delete;
  LoadCall& operator=(const LoadCall&) = delete;

  // LoadCall::AddResults() counts results of the call as they arrive. Calls
  // of one LoadCall must not overlap (a stream's reads are sequential); any
  // thread.
  void AddResults(
      const google::protobuf::RepeatedPtrField<jobgroup::v1::JobResult>&
          results);
  // LoadCall::End() ends the call, exactly once, after its last
  // AddResults(). It deletes the LoadCall, and in a closed loop may start
  // the next call before returning. Any thread; may be called inside
  // Launch().
  void End(const grpc::Status& status);

  // When the call was due to start; its latency counts from here.
  absl::Time scheduled() const { return scheduled_; }

 private:
  friend class LoadRun;
  LoadCall(std::shared_ptr<LoadRun> run, absl::Time scheduled, bool measured)
      : run_(std::move(run)), scheduled_(scheduled), measured_(measured) {}

  const std::shared_ptr<LoadRun> run_;
  const absl::Time scheduled_;
  const bool measured_;
  OutcomeCounts outcomes_ = {};
  uint64_t results_ = 0;
};

// CallLauncher starts calls for RunLoad().
class CallLauncher {
 public:
  virtual ~CallLauncher() = default;
  // CallLauncher::Launch() starts one call and should return without waiting
  // for it; the call reports through `call` (AddResults(), then End()
  // exactly once) from any thread. Every call must end in bounded time (a
  // gRPC deadline does it): RunLoad() waits for all of them.
  virtual void Launch(LoadCall* call) = 0;
};

// RunLoad() runs the load `options` describes through `launcher`, then waits
// for every call in flight to end and returns the figures. Blocks the
// calling thread, which in the open loop is the scheduler; `launcher` and
// `clock` must outlive the call.
LoadReport RunLoad(const LoadOptions& options, CallLauncher& launcher,
                   BenchClock& clock);

// What every call of a GrpcCallLauncher sends.
struct CallSpec {
  BenchMethod method = BenchMethod::kRunBatch;
  // Each call carries `jobs_per_call` copies of `job`, with `batch`.
  jobgroup::v1::Job job;
  uint64_t jobs_per_call = 1;
  jobgroup::v1::BatchOptions batch;
  // Sent with every call; also what ends a call the server never answers.
  absl::Duration deadline = absl::Seconds(10);
  // Process: jobs per stream message.
  uint64_t jobs_per_message = 256;
  // Calls are spread round robin over this many connections.
  uint32_t connections = 1;
};

// GrpcCallLauncher makes the calls of a CallSpec with gRPC's callback API:
// starting a call costs no thread, so any number may be in flight. The
// request messages are built once and shared by every call. Thread-safe.
// Calls in flight must end before it is destroyed (RunLoad() sees to that).
class GrpcCallLauncher : public CallLauncher {
 public:
  // GrpcCallLauncher::Create() opens `spec.connections` channels to
  // `client.target` with `client`'s TLS and token. Errors: an unreadable TLS
  // file, an empty target, zero jobs or connections.
  static absl::StatusOr<std::unique_ptr<GrpcCallLauncher>> Create(
      const ClientOptions& client, const CallSpec& spec);
  ~GrpcCallLauncher() override;

  void Launch(LoadCall* call) override;

  // What every call reads (the stubs, the prebuilt requests); private to
  // load_generator.cc.
  struct Shared;

 private:
  explicit GrpcCallLauncher(std::unique_ptr<Shared> shared);
  const std::unique_ptr<Shared> shared_;
};

// FormatLoadReport() writes the report for people: rates, latency
// percentiles and histogram, outcomes, a table of errors by gRPC code, and
// the calls that ended after the window.
std::string FormatLoadReport(const LoadReport& report, const CallSpec& spec,
                             absl::string_view target);

// LoadReportToJson() writes the report as one JSON object on one line;
// durations in milliseconds (fractional).
std::string LoadReportToJson(const LoadReport& report, const CallSpec& spec,
                             absl::string_view target);

// LoadReportToCsv() writes the report as CSV (RFC 4180): a header line and
// one line of figures, the same as the JSON's top-level numbers; the
// errors by code in one cell, "CODE=N;CODE=N".
std::string LoadReportToCsv(const LoadReport& report, const CallSpec& spec,
                            absl::string_view target);

// The number of bars of the latency histogram in the table and the JSON.
inline constexpr size_t kHistogramBars = 10;

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_LOAD_GENERATOR_H_

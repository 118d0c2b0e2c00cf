// The load generator of `jobgroup bench`; see load_generator.h.
#include "client/load_generator.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <utility>

#if defined(__linux__)
#include <sys/prctl.h>
#endif

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "grpcpp/support/client_callback.h"
#include "jobgroup/v1/jobgroup.grpc.pb.h"

namespace jobgroup::client {

// ------------------------------------------------------------ histogram

namespace {

// 2^kSubBucketBits buckets per power of two: relative error < 2^-7.
constexpr int kSubBucketBits = 7;
constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;
// Values below 2 * kSubBuckets have a bucket each.
constexpr uint64_t kExactBelow = 2 * kSubBuckets;
constexpr size_t kBucketCount =
    (64 - kSubBucketBits - 1) * kSubBuckets + kExactBelow;

uint64_t ToNanos(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return 0;
  if (d == absl::InfiniteDuration()) return UINT64_MAX;
  return static_cast<uint64_t>(absl::ToInt64Nanoseconds(d));
}

}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kBucketCount, 0) {}

size_t LatencyHistogram::BucketOf(uint64_t nanos) {
  if (nanos < kExactBelow) return static_cast<size_t>(nanos);
  // shift >= 1; nanos >> shift lies in [kSubBuckets, 2 * kSubBuckets).
  const int shift = std::bit_width(nanos) - (kSubBucketBits + 1);
  return static_cast<size_t>((uint64_t(shift) << kSubBucketBits) +
                             (nanos >> shift));
}

uint64_t LatencyHistogram::BucketUpperNanos(size_t bucket) {
  if (bucket < kExactBelow) return bucket;
  const int shift = static_cast<int>(bucket >> kSubBucketBits) - 1;
  const uint64_t mantissa = (bucket & (kSubBuckets - 1)) + kSubBuckets;
  const uint64_t lower = mantissa << shift;
  return lower + ((uint64_t{1} << shift) - 1);
}

void LatencyHistogram::Record(absl::Duration value) {
  const uint64_t nanos = ToNanos(value);
  ++buckets_[BucketOf(nanos)];
  ++count_;
  min_nanos_ = std::min(min_nanos_, nanos);
  max_nanos_ = std::max(max_nanos_, nanos);
  sum_nanos_ += static_cast<long double>(nanos);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBucketCount; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  min_nanos_ = std::min(min_nanos_, other.min_nanos_);
  max_nanos_ = std::max(max_nanos_, other.max_nanos_);
  sum_nanos_ += other.sum_nanos_;
}

absl::Duration LatencyHistogram::min() const {
  return count_ == 0 ? absl::ZeroDuration()
                     : absl::Nanoseconds(static_cast<int64_t>(min_nanos_));
}

absl::Duration LatencyHistogram::max() const {
  return count_ == 0 ? absl::ZeroDuration()
                     : absl::Nanoseconds(static_cast<int64_t>(max_nanos_));
}

absl::Duration LatencyHistogram::mean() const {
  if (count_ == 0) return absl::ZeroDuration();
  return absl::Nanoseconds(static_cast<double>(sum_nanos_ / count_));
}

absl::Duration LatencyHistogram::Percentile(double percent) const {
  if (count_ == 0) return absl::ZeroDuration();
  percent = std::clamp(percent, 0.0, 100.0);
  uint64_t rank =
      static_cast<uint64_t>(std::ceil(percent / 100.0 * count_ - 1e-9));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  // The smallest and the largest values are known exactly.
  if (rank == 1) return min();
  if (rank == count_) return max();
  uint64_t seen = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const uint64_t value =
          std::clamp(BucketUpperNanos(i), min_nanos_, max_nanos_);
      return absl::Nanoseconds(static_cast<int64_t>(value));
    }
  }
  return max();
}

std::vector<LatencyHistogram::Bucket> LatencyHistogram::Buckets(
    size_t count) const {
  std::vector<Bucket> bars;
  if (count_ == 0 || count == 0) return bars;
  const uint64_t span = max_nanos_ - min_nanos_;
  if (span == 0) count = 1;
  bars.resize(count);
  for (size_t i = 0; i < count; ++i) {
    // The last bar ends at max exactly.
    const uint64_t upper =
        i + 1 == count
            ? max_nanos_
            : min_nanos_ +
                  static_cast<uint64_t>(static_cast<long double>(span) *
                                        (i + 1) / count);
    bars[i].upper = absl::Nanoseconds(static_cast<int64_t>(upper));
  }
  for (size_t b = 0; b < kBucketCount; ++b) {
    if (buckets_[b] == 0) continue;
    const uint64_t value =
        std::clamp(BucketUpperNanos(b), min_nanos_, max_nanos_);
    // The first bar whose upper end is at or above the value: its range
    // (previous upper, upper] holds it. The last ends at max, so one does.
    const size_t bar = static_cast<size_t>(
        std::lower_bound(bars.begin(), bars.end(), value,
                         [](const Bucket& bucket, uint64_t v) {
                           return ToNanos(bucket.upper) < v;
                         }) -
        bars.begin());
    bars[bar].count += buckets_[b];
  }
  return bars;
}

// ---------------------------------------------------------------- names

absl::string_view BenchMethodName(BenchMethod method) {
  switch (method) {
    case BenchMethod::kRunBatch:
      return "RunBatch";
    case BenchMethod::kStreamBatch:
      return "StreamBatch";
    case BenchMethod::kProcess:
      return "Process";
  }
  return "?";
}

namespace {

// gRPC's codes have absl's numbering, hence absl's names.
std::string GrpcCodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

constexpr absl::string_view kOutcomeNames[] = {
    "UNSPECIFIED", "SUCCEEDED",         "FAILED",
    "CANCELLED",   "DEADLINE_EXCEEDED", "REJECTED"};

// A measured call that starts later than this after its scheduled time is a
// late start.
constexpr absl::Duration kLateStart = absl::Milliseconds(1);

}  // namespace

// ---------------------------------------------------------------- clock

absl::Time RealBenchClock::Now() {
  return absl::UnixEpoch() +
         absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

bool BenchClock::AwaitUntil(absl::Mutex& mu, const absl::Condition& condition,
                            absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) {
    mu.Await(condition);
    return true;
  }
  while (!condition.Eval()) {
    const absl::Duration left = deadline - Now();
    if (left <= absl::ZeroDuration()) return false;
    mu.AwaitWithTimeout(condition, std::min(left, absl::Milliseconds(10)));
  }
  return true;
}

void RealBenchClock::SleepUntil(absl::Time when) {
  for (absl::Duration left = when - Now(); left > absl::ZeroDuration();
       left = when - Now()) {
    absl::SleepFor(left);
  }
}

// ------------------------------------------------------------- the run

// LoadRun is one RunLoad(): the scheduling and the accounting. Shared by
// RunLoad()'s thread and every LoadCall, so that a call's last reaction may
// still touch it after RunLoad() has returned.
class LoadRun : public std::enable_shared_from_this<LoadRun> {
 public:
  LoadRun(const LoadOptions& options, CallLauncher& launcher, BenchClock& clock)
      : options_(options),
        launcher_(launcher),
        clock_(clock),
        start_(clock.Now()),
        window_start_(start_ + options.warmup),
        window_end_(window_start_ + options.duration) {
    report_.options = options;
    report_.window = options.duration;
  }

  LoadReport Run() {
    if (options_.concurrency > 0) {
      RunClosedLoop();
    } else {
      RunOpenLoop();
    }
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    clock_.AwaitUntil(
        mu_,
        absl::Condition(
            +[](uint64_t* in_flight) { return *in_flight == 0; }, &in_flight_),
        absl::InfiniteFuture());
    LoadReport report = report_;
    report.results_in_window = results_in_window_.load();
    const double seconds = absl::ToDoubleSeconds(options_.duration);
    report.results_after_window = results_after_window_.load();
    report.calls_per_second = report.calls_ended_in_window / seconds;
    report.jobs_per_second = report.results_in_window / seconds;
    return report;
  }

  void ResultsArrived(uint64_t count) {
    const absl::Time now = clock_.Now();
    if (InWindow(now)) {
      results_in_window_.fetch_add(count);
    } else if (now >= window_end_) {
      results_after_window_.fetch_add(count);
    }
  }

  void CallEnded(absl::Time scheduled, bool measured,
                 const OutcomeCounts& outcomes, uint64_t results,
                 const grpc::Status& status) {
    const absl::Time now = clock_.Now();
    bool restart = false;
    {
      absl::MutexLock lock(&mu_);
      if (InWindow(now)) {
        ++report_.calls_ended_in_window;
      } else if (now >= window_end_) {
        ++report_.calls_ended_after_window;
        report_.overrun = std::max(report_.overrun, now - window_end_);
      }
      if (measured) {
        ++report_.measured_calls;
        report_.latency.Record(now - scheduled);
        for (size_t i = 0; i < outcomes.size(); ++i) {
          report_.outcomes[i] += outcomes[i];
        }
        if (!status.ok()) {
          const std::string code = GrpcCodeName(status.error_code());
          ++report_.errors[code];
          report_.error_examples.try_emplace(code, status.error_message());
        } else if (results < options_.jobs_per_call) {
          report_.missing_results += options_.jobs_per_call - results;
        }
      }
      --in_flight_;
      if (options_.concurrency > 0 && !stopped_ && now < window_end_) {
        restart = true;
        ++in_flight_;
      }
    }
    if (restart) StartClosedLoopCall();
  }

 private:
  bool InWindow(absl::Time t) const {
    return t >= window_start_ && t < window_end_;
  }

  LoadCall* NewCall(absl::Time scheduled, bool measured) {
    return new LoadCall(shared_from_this(), scheduled, measured);
  }

  void RunClosedLoop() {
    {
      absl::MutexLock lock(&mu_);
      in_flight_ += options_.concurrency;
      report_.peak_in_flight = in_flight_;
    }
    for (uint32_t i = 0; i < options_.concurrency; ++i) StartClosedLoopCall();
    clock_.SleepUntil(window_end_);
  }

  // Starts one call of the closed loop, whose slot in_flight_ already
  // counts. A call that ends inside Launch() (a refused connection can) asks
  // for its successor from inside this loop: the loop starts it once
  // Launch() has returned, instead of recursing.
  void StartClosedLoopCall() {
    thread_local LoadRun* launching = nullptr;
    thread_local uint64_t deferred = 0;
    if (launching == this) {
      ++deferred;
      return;
    }
    LoadRun* const outer = launching;
    const uint64_t outer_deferred = deferred;
    launching = this;
    deferred = 1;
    while (deferred > 0) {
      --deferred;
      const absl::Time now = clock_.Now();
      launcher_.Launch(NewCall(now, InWindow(now)));
    }
    launching = outer;
    deferred = outer_deferred;
  }

  void RunOpenLoop() {
#if defined(__linux__)
    // The scheduler sleeps between calls; Linux's default 50 µs timer slack
    // would make every start late by up to that much.
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
#endif
    for (uint64_t i = 0;; ++i) {
      const absl::Time due = Due(i);
      if (due >= window_end_) break;
      clock_.SleepUntil(due);
      const bool measured = due >= window_start_;
      {
        absl::MutexLock lock(&mu_);
        // A call waiting here for a slot is still charged from `due`.
        if (!AwaitFreeSlot()) {
          GiveUpFrom(i);
          return;
        }
        ++in_flight_;
        report_.peak_in_flight =
            std::max<uint64_t>(report_.peak_in_flight, in_flight_);
        if (measured) {
          const absl::Duration lag = clock_.Now() - due;
          if (lag > kLateStart) ++report_.late_starts;
          report_.max_start_lag = std::max(report_.max_start_lag, lag);
        }
      }
      launcher_.Launch(NewCall(due, measured));
    }
  }

  // When the open loop's call `index` is due.
  absl::Time Due(uint64_t index) const {
    return start_ + absl::Seconds(static_cast<double>(index) / options_.rate);
  }

  bool HasFreeSlot() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return in_flight_ < std::max<uint32_t>(options_.max_in_flight, 1);
  }

  // Waits for a free slot; false when the window ended first.
  bool AwaitFreeSlot() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return clock_.AwaitUntil(mu_, absl::Condition(this, &LoadRun::HasFreeSlot),
                             window_end_);
  }

  // The window ended with every slot taken: calls `index` and later, due
  // before the end, never start. Waiting for slots would stretch the run
  // without bound when the server is much slower than the rate; dropping
  // them silently would hide the latency they stand for. So they are
  // counted, and charged at least the time from when they were due to now.
  void GiveUpFrom(uint64_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const absl::Time now = clock_.Now();
    for (absl::Time due = Due(index); due < window_end_; due = Due(++index)) {
      ++report_.unstarted;
      if (due >= window_start_) report_.latency.Record(now - due);
    }
  }

  const LoadOptions options_;
  CallLauncher& launcher_;
  BenchClock& clock_;  // Thread-safe.
  const absl::Time start_;
  const absl::Time window_start_;
  const absl::Time window_end_;
  std::atomic<uint64_t> results_in_window_{0};
  std::atomic<uint64_t> results_after_window_{0};

  absl::Mutex mu_;
  uint64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  // No call starts any more: the window is over.
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  LoadReport report_ ABSL_GUARDED_BY(mu_);
};

void LoadCall::AddResults(
    const google::protobuf::RepeatedPtrField<jobgroup::v1::JobResult>&
        results) {
  for (const jobgroup::v1::JobResult& result : results) {
    const int outcome = result.outcome();
    ++outcomes_[outcome > 0 && outcome < static_cast<int>(outcomes_.size())
                    ? outcome
                    : 0];
  }
  results_ += static_cast<uint64_t>(results.size());
  run_->ResultsArrived(static_cast<uint64_t>(results.size()));
}

void LoadCall::End(const grpc::Status& status) {
  const std::shared_ptr<LoadRun> run = run_;
  const absl::Time scheduled = scheduled_;
  const bool measured = measured_;
  const OutcomeCounts outcomes = outcomes_;
  const uint64_t results = results_;
  delete this;
  run->CallEnded(scheduled, measured, outcomes, results, status);
}

LoadReport RunLoad(const LoadOptions& options, CallLauncher& launcher,
                   BenchClock& clock) {
  auto run = std::make_shared<LoadRun>(options, launcher, clock);
  return run->Run();
}

// ------------------------------------------------------------- gRPC calls

namespace {

using ::jobgroup::v1::JobService;
using ::jobgroup::v1::ProcessRequest;
using ::jobgroup::v1::ProcessResponse;
using ::jobgroup::v1::StreamBatchResponse;

}  // namespace

// What every call of a GrpcCallLauncher reads; immutable once built except
// for the round-robin counter.
struct GrpcCallLauncher::Shared {
  CallSpec spec;
  std::string authorization;  // Empty: no token.
  std::vector<std::unique_ptr<JobService::Stub>> stubs;
  std::atomic<uint64_t> next_stub{0};
  jobgroup::v1::RunBatchRequest run_request;
  jobgroup::v1::StreamBatchRequest stream_request;
  // Process: the distinct messages, and the order a call writes them in.
  std::vector<ProcessRequest> process_messages;
  std::vector<const ProcessRequest*> process_sequence;

  JobService::Stub& NextStub() {
    return *stubs[next_stub.fetch_add(1, std::memory_order_relaxed) %
                  stubs.size()];
  }

  void Prepare(grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() +
                         absl::ToChronoNanoseconds(spec.deadline));
    if (!authorization.empty()) {
      context.AddMetadata("authorization", authorization);
    }
  }
};

namespace {

// One RunBatch call; the response lives on the call's arena, which makes
// parsing thousands of results cheaper. Deletes itself when it ends.
class RunBatchCall {
 public:
  static void Start(GrpcCallLauncher::Shared& shared, LoadCall* call);

 private:
  explicit RunBatchCall(LoadCall* call)
      : response_(google::protobuf::Arena::CreateMessage<
                  jobgroup::v1::RunBatchResponse>(&arena_)),
        call_(call) {}

  grpc::ClientContext context_;
  google::protobuf::Arena arena_;
  jobgroup::v1::RunBatchResponse* const response_;
  LoadCall* const call_;
};

void RunBatchCall::Start(GrpcCallLauncher::Shared& shared, LoadCall* call) {
  auto* self = new RunBatchCall(call);
  shared.Prepare(self->context_);
  shared.NextStub().async()->RunBatch(
      &self->context_, &shared.run_request, self->response_,
      [self](grpc::Status status) {
        LoadCall* const call = self->call_;
        if (status.ok()) call->AddResults(self->response_->results());
        delete self;
        call->End(status);
      });
}

// One StreamBatch call: reads until the server ends the stream.
class StreamBatchCall
    : public grpc::ClientReadReactor<jobgroup::v1::StreamBatchResponse> {
 public:
  StreamBatchCall(GrpcCallLauncher::Shared& shared, LoadCall* call)
      : call_(call) {
    shared.Prepare(context_);
    shared.NextStub().async()->StreamBatch(&context_, &shared.stream_request,
                                           this);
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    call_->AddResults(response_.results());
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    LoadCall* const call = call_;
    const grpc::Status copy = status;
    delete this;
    call->End(copy);
  }

 private:
  grpc::ClientContext context_;
  StreamBatchResponse response_;
  LoadCall* const call_;
};

// One Process call: writes the prebuilt messages one after another (gRPC's
// flow control paces them), half-closes, and reads results meanwhile.
class ProcessCall
    : public grpc::ClientBidiReactor<ProcessRequest, ProcessResponse> {
 public:
  ProcessCall(GrpcCallLauncher::Shared& shared, LoadCall* call)
      : sequence_(shared.process_sequence), call_(call) {
    shared.Prepare(context_);
    shared.NextStub().async()->Process(&context_, this);
    StartWrite(sequence_[0]);
    StartRead(&response_);
    StartCall();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return;  // The call is over; OnDone() says how.
    if (++written_ < sequence_.size()) {
      StartWrite(sequence_[written_]);
    } else {
      StartWritesDone();
    }
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    call_->AddResults(response_.results());
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    LoadCall* const call = call_;
    const grpc::Status copy = status;
    delete this;
    call->End(copy);
  }

 private:
  const std::vector<const ProcessRequest*>& sequence_;
  size_t written_ = 0;  // Touched by write reactions only, one at a time.
  grpc::ClientContext context_;
  ProcessResponse response_;
  LoadCall* const call_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcCallLauncher>> GrpcCallLauncher::Create(
    const ClientOptions& client, const CallSpec& spec) {
  if (client.target.empty()) {
    return absl::InvalidArgumentError(
        "empty target: give the server as HOST:PORT");
  }
  if (spec.jobs_per_call == 0 || spec.connections == 0 ||
      spec.jobs_per_message == 0) {
    return absl::InvalidArgumentError(
        "jobs per call, jobs per message and connections must be at least 1");
  }
  auto shared = std::make_unique<Shared>();
  shared->spec = spec;
  if (!client.bearer_token.empty()) {
    shared->authorization = absl::StrCat("Bearer ", client.bearer_token);
  }
  for (uint32_t i = 0; i < spec.connections; ++i) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        NewChannel(client, absl::StrCat("jobgroup-bench/", ClientVersion()),
                   /*own_connection=*/true);
    if (!channel.ok()) return channel.status();
    shared->stubs.push_back(JobService::NewStub(*channel));
  }

  switch (spec.method) {
    case BenchMethod::kRunBatch: {
      auto& request = shared->run_request;
      request.mutable_jobs()->Reserve(static_cast<int>(spec.jobs_per_call));
      for (uint64_t i = 0; i < spec.jobs_per_call; ++i) {
        *request.add_jobs() = spec.job;
      }
      *request.mutable_options() = spec.batch;
      break;
    }
    case BenchMethod::kStreamBatch: {
      auto& request = shared->stream_request;
      request.mutable_jobs()->Reserve(static_cast<int>(spec.jobs_per_call));
      for (uint64_t i = 0; i < spec.jobs_per_call; ++i) {
        *request.add_jobs() = spec.job;
      }
      *request.mutable_options() = spec.batch;
      break;
    }
    case BenchMethod::kProcess: {
      // At most three distinct messages: the first (with the options), full
      // ones and a shorter last one.
      const uint64_t per_message =
          std::min(spec.jobs_per_message, spec.jobs_per_call);
      const uint64_t messages =
          (spec.jobs_per_call + per_message - 1) / per_message;
      const uint64_t last_jobs =
          spec.jobs_per_call - (messages - 1) * per_message;
      auto make = [&](uint64_t jobs, bool options) {
        ProcessRequest message;
        if (options) *message.mutable_options() = spec.batch;
        for (uint64_t i = 0; i < jobs; ++i) *message.add_jobs() = spec.job;
        return message;
      };
      auto& m = shared->process_messages;
      m.reserve(3);
      m.push_back(make(messages == 1 ? last_jobs : per_message, true));
      if (messages > 1) m.push_back(make(per_message, false));
      if (messages > 1) m.push_back(make(last_jobs, false));
      auto& sequence = shared->process_sequence;
      sequence.reserve(messages);
      sequence.push_back(&m[0]);
      for (uint64_t i = 1; i + 1 < messages; ++i) sequence.push_back(&m[1]);
      if (messages > 1) sequence.push_back(&m[2]);
      break;
    }
  }
  return std::unique_ptr<GrpcCallLauncher>(
      new GrpcCallLauncher(std::move(shared)));
}

GrpcCallLauncher::GrpcCallLauncher(std::unique_ptr<Shared> shared)
    : shared_(std::move(shared)) {}

GrpcCallLauncher::~GrpcCallLauncher() = default;

void GrpcCallLauncher::Launch(LoadCall* call) {
  switch (shared_->spec.method) {
    case BenchMethod::kRunBatch:
      RunBatchCall::Start(*shared_, call);
      return;
    case BenchMethod::kStreamBatch:
      new StreamBatchCall(*shared_, call);
      return;
    case BenchMethod::kProcess:
      new ProcessCall(*shared_, call);
      return;
  }
}

// --------------------------------------------------------------- output

namespace {

// "412us", "16.21ms", "1.204s".
std::string FormatLatency(absl::Duration d) {
  const double us = absl::ToDoubleMicroseconds(d);
  if (us < 1000) return absl::StrFormat("%.0fus", us);
  if (us < 1e6) return absl::StrFormat("%.2fms", us / 1e3);
  return absl::StrFormat("%.3fs", us / 1e6);
}

std::string Ms(absl::Duration d) {
  return absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(d));
}

// A JSON string literal.
std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

// The latency histogram as ghz draws it: kHistogramBars ranges from the
// fastest call to the slowest, each with its count and a bar.
void AppendHistogram(const LatencyHistogram& h, std::string* out) {
  const std::vector<LatencyHistogram::Bucket> bars = h.Buckets(kHistogramBars);
  if (bars.empty()) return;
  constexpr uint64_t kBarWidth = 40;
  uint64_t most = 0;
  for (const auto& bar : bars) most = std::max(most, bar.count);
  absl::StrAppend(out, "  histogram (calls by latency, up to)\n");
  for (const auto& bar : bars) {
    const uint64_t width =
        bar.count == 0 ? 0
                       : std::max<uint64_t>(1, bar.count * kBarWidth / most);
    absl::StrAppendFormat(out, "    %10s %10d |%s\n", FormatLatency(bar.upper),
                          bar.count, std::string(width, '#'));
  }
}

std::string LoadShape(const LoadReport& report) {
  const LoadOptions& o = report.options;
  if (o.concurrency > 0) {
    return absl::StrCat("closed loop, ", o.concurrency,
                        o.concurrency == 1 ? " call" : " calls", " in flight");
  }
  return absl::StrFormat(
      "open loop, %g calls/s scheduled (at most %d in "
      "flight)",
      o.rate, o.max_in_flight);
}

}  // namespace

std::string FormatLoadReport(const LoadReport& report, const CallSpec& spec,
                             absl::string_view target) {
  const LatencyHistogram& h = report.latency;
  std::string out = absl::StrFormat(
      "%s to %s: %s, %d %s of kind %s per call\n"
      "measured for %s%s\n",
      BenchMethodName(spec.method), target, LoadShape(report),
      spec.jobs_per_call, spec.jobs_per_call == 1 ? "job" : "jobs",
      spec.job.kind(), absl::FormatDuration(report.window),
      report.options.warmup > absl::ZeroDuration()
          ? absl::StrCat(" after ", absl::FormatDuration(report.options.warmup),
                         " of warmup")
          : ", no warmup");
  absl::StrAppendFormat(&out, "  calls/s   %14.1f   (%d calls ended)\n",
                        report.calls_per_second, report.calls_ended_in_window);
  absl::StrAppendFormat(&out, "  jobs/s    %14.1f   (%d results)\n",
                        report.jobs_per_second, report.results_in_window);
  absl::StrAppendFormat(
      &out,
      "  latency   p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  "
      "(mean %s, %d calls)\n",
      FormatLatency(h.Percentile(50)), FormatLatency(h.Percentile(90)),
      FormatLatency(h.Percentile(99)), FormatLatency(h.Percentile(99.9)),
      FormatLatency(h.max()), FormatLatency(h.mean()), h.count());
  absl::StrAppend(&out, "  outcomes ");
  bool any_outcome = false;
  for (size_t i = 0; i < report.outcomes.size(); ++i) {
    if (report.outcomes[i] == 0) continue;
    absl::StrAppend(&out, " ", kOutcomeNames[i], " ", report.outcomes[i]);
    any_outcome = true;
  }
  if (!any_outcome) absl::StrAppend(&out, " none");
  absl::StrAppend(&out, "\n");
  if (report.missing_results > 0) {
    absl::StrAppend(&out, "  missing   ", report.missing_results,
                    " jobs of OK calls had no result\n");
  }
  if (report.errors.empty()) {
    absl::StrAppend(&out, "  errors    none\n");
  } else {
    // By gRPC code, most frequent first, with the first message of each.
    std::vector<std::pair<std::string, uint64_t>> codes(report.errors.begin(),
                                                        report.errors.end());
    std::stable_sort(
        codes.begin(), codes.end(),
        [](const auto& a, const auto& b) { return a.second > b.second; });
    absl::StrAppendFormat(&out, "  errors    %-20s %8s %7s  %s\n", "CODE",
                          "CALLS", "SHARE", "FIRST MESSAGE");
    for (const auto& [code, count] : codes) {
      auto example = report.error_examples.find(code);
      const std::string message =
          example == report.error_examples.end() ? "" : example->second;
      absl::StrAppendFormat(
          &out, "            %-20s %8d %6.1f%%  %s\n", code, count,
          100.0 * static_cast<double>(count) /
              static_cast<double>(std::max<uint64_t>(report.measured_calls, 1)),
          message.size() > 100 ? absl::StrCat(message.substr(0, 100), "...")
                               : message);
    }
  }
  AppendHistogram(h, &out);
  if (report.calls_ended_after_window > 0) {
    absl::StrAppendFormat(
        &out,
        "  after     %d calls ended after the window (%d results), the last "
        "%s after its end; not in the rates\n",
        report.calls_ended_after_window, report.results_after_window,
        FormatLatency(report.overrun));
  }
  if (report.options.concurrency == 0) {
    absl::StrAppendFormat(
        &out,
        "  schedule  %d calls started more than 1ms late (worst %s); "
        "latency counts from the scheduled start\n",
        report.late_starts, FormatLatency(report.max_start_lag));
    if (report.unstarted > 0) {
      absl::StrAppendFormat(
          &out,
          "  unstarted %d calls due in the window never started: all %d "
          "slots stayed taken to its end (the server is slower than the "
          "rate); latency counts each from its due time to the end\n",
          report.unstarted, report.options.max_in_flight);
    }
  }
  return out;
}

std::string LoadReportToJson(const LoadReport& report, const CallSpec& spec,
                             absl::string_view target) {
  const LoadOptions& o = report.options;
  const LatencyHistogram& h = report.latency;
  std::string out = absl::StrCat(
      "{\"method\":", JsonString(BenchMethodName(spec.method)),
      ",\"target\":", JsonString(target),
      ",\"kind\":", JsonString(spec.job.kind()),
      ",\"loop\":", o.concurrency > 0 ? "\"closed\"" : "\"open\"",
      ",\"concurrency\":", o.concurrency,
      ",\"rate\":", absl::StrFormat("%g", o.rate),
      ",\"max_in_flight\":", o.max_in_flight,
      ",\"jobs_per_call\":", spec.jobs_per_call,
      ",\"connections\":", spec.connections,
      ",\"warmup_s\":", absl::StrFormat("%g", absl::ToDoubleSeconds(o.warmup)),
      ",\"duration_s\":",
      absl::StrFormat("%g", absl::ToDoubleSeconds(report.window)));
  absl::StrAppend(
      &out, ",\"calls_ended\":", report.calls_ended_in_window,
      ",\"results\":", report.results_in_window,
      ",\"calls_per_s\":", absl::StrFormat("%.1f", report.calls_per_second),
      ",\"jobs_per_s\":", absl::StrFormat("%.1f", report.jobs_per_second),
      ",\"measured_calls\":", report.measured_calls);
  absl::StrAppend(
      &out, ",\"latency_ms\":{\"count\":", h.count(), ",\"min\":", Ms(h.min()),
      ",\"mean\":", Ms(h.mean()), ",\"p50\":", Ms(h.Percentile(50)),
      ",\"p90\":", Ms(h.Percentile(90)), ",\"p99\":", Ms(h.Percentile(99)),
      ",\"p99_9\":", Ms(h.Percentile(99.9)), ",\"max\":", Ms(h.max()), "}");
  absl::StrAppend(&out, ",\"errors\":{");
  bool first = true;
  for (const auto& [code, count] : report.errors) {
    absl::StrAppend(&out, first ? "" : ",", JsonString(code), ":", count);
    first = false;
  }
  absl::StrAppend(&out, "},\"error_examples\":{");
  first = true;
  for (const auto& [code, message] : report.error_examples) {
    absl::StrAppend(&out, first ? "" : ",", JsonString(code), ":",
                    JsonString(message));
    first = false;
  }
  absl::StrAppend(&out, "},\"outcomes\":{");
  for (size_t i = 1; i < report.outcomes.size(); ++i) {
    absl::StrAppend(&out, i == 1 ? "" : ",", JsonString(kOutcomeNames[i]), ":",
                    report.outcomes[i]);
  }
  absl::StrAppend(
      &out, "},\"unknown_outcomes\":", report.outcomes[0],
      ",\"missing_results\":", report.missing_results,
      ",\"late_starts\":", report.late_starts,
      ",\"max_start_lag_ms\":", Ms(report.max_start_lag),
      ",\"unstarted\":", report.unstarted,
      ",\"peak_in_flight\":", report.peak_in_flight,
      ",\"calls_ended_after_window\":", report.calls_ended_after_window,
      ",\"results_after_window\":", report.results_after_window,
      ",\"overrun_ms\":", Ms(report.overrun), ",\"histogram\":[");
  first = true;
  for (const auto& bar : h.Buckets(kHistogramBars)) {
    absl::StrAppend(&out, first ? "" : ",", "{\"upper_ms\":", Ms(bar.upper),
                    ",\"count\":", bar.count, "}");
    first = false;
  }
  absl::StrAppend(&out, "]}");
  return out;
}

namespace {

// A CSV field, quoted when it must be (RFC 4180).
std::string CsvField(absl::string_view text) {
  if (text.find_first_of(",\"\r\n") == absl::string_view::npos) {
    return std::string(text);
  }
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

std::string LoadReportToCsv(const LoadReport& report, const CallSpec& spec,
                            absl::string_view target) {
  const LoadOptions& o = report.options;
  const LatencyHistogram& h = report.latency;
  std::vector<std::string> errors;
  for (const auto& [code, count] : report.errors) {
    errors.push_back(absl::StrCat(code, "=", count));
  }
  const std::pair<const char*, std::string> columns[] = {
      {"method", std::string(BenchMethodName(spec.method))},
      {"target", std::string(target)},
      {"kind", spec.job.kind()},
      {"loop", o.concurrency > 0 ? "closed" : "open"},
      {"concurrency", absl::StrCat(o.concurrency)},
      {"rate", absl::StrFormat("%g", o.rate)},
      {"max_in_flight", absl::StrCat(o.max_in_flight)},
      {"jobs_per_call", absl::StrCat(spec.jobs_per_call)},
      {"connections", absl::StrCat(spec.connections)},
      {"warmup_s", absl::StrFormat("%g", absl::ToDoubleSeconds(o.warmup))},
      {"duration_s",
       absl::StrFormat("%g", absl::ToDoubleSeconds(report.window))},
      {"calls_ended", absl::StrCat(report.calls_ended_in_window)},
      {"results", absl::StrCat(report.results_in_window)},
      {"calls_per_s", absl::StrFormat("%.1f", report.calls_per_second)},
      {"jobs_per_s", absl::StrFormat("%.1f", report.jobs_per_second)},
      {"measured_calls", absl::StrCat(report.measured_calls)},
      {"latency_count", absl::StrCat(h.count())},
      {"latency_min_ms", Ms(h.min())},
      {"latency_mean_ms", Ms(h.mean())},
      {"latency_p50_ms", Ms(h.Percentile(50))},
      {"latency_p90_ms", Ms(h.Percentile(90))},
      {"latency_p99_ms", Ms(h.Percentile(99))},
      {"latency_p99_9_ms", Ms(h.Percentile(99.9))},
      {"latency_max_ms", Ms(h.max())},
      {"succeeded", absl::StrCat(report.outcomes[1])},
      {"failed", absl::StrCat(report.outcomes[2])},
      {"cancelled", absl::StrCat(report.outcomes[3])},
      {"deadline_exceeded", absl::StrCat(report.outcomes[4])},
      {"rejected", absl::StrCat(report.outcomes[5])},
      {"unknown_outcomes", absl::StrCat(report.outcomes[0])},
      {"missing_results", absl::StrCat(report.missing_results)},
      {"errors", absl::StrJoin(errors, ";")},
      {"late_starts", absl::StrCat(report.late_starts)},
      {"max_start_lag_ms", Ms(report.max_start_lag)},
      {"unstarted", absl::StrCat(report.unstarted)},
      {"peak_in_flight", absl::StrCat(report.peak_in_flight)},
      {"calls_ended_after_window",
       absl::StrCat(report.calls_ended_after_window)},
      {"results_after_window", absl::StrCat(report.results_after_window)},
      {"overrun_ms", Ms(report.overrun)},
  };
  std::string header, row;
  for (const auto& [name, value] : columns) {
    if (!header.empty()) {
      header += ',';
      row += ',';
    }
    header += name;
    row += CsvField(value);
  }
  return absl::StrCat(header, "\n", row, "\n");
}

}  // namespace jobgroup::client

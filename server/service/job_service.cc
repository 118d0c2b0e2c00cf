// Implementation of JobServiceImpl: one reactor per call.
#include "server/service/job_service.h"

#include <chrono>
#include <deque>
#include <iterator>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/util/time_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "server/core/batch_run.h"
#include "server/service/authenticator.h"

namespace jobgroup {
namespace {

constexpr const char kRetryAfterKey[] = "retry-after-ms";
constexpr const char kRetryAfterMs[] = "250";
// Results per stream message at most; more are sent in later messages.
constexpr int kResultsPerMessage = 1024;

// The gRPC status of `s`. An INVALID_ARGUMENT whose message names a field
// ("jobs[3].params.ms: ...", as every validation error does) also carries a
// google.rpc.BadRequest naming it, in the standard rich-error trailer.
grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  auto code = static_cast<grpc::StatusCode>(s.code());
  std::string message(s.message());
  size_t colon = message.find(": ");
  if (!absl::IsInvalidArgument(s) || colon == std::string::npos) {
    return grpc::Status(code, message);
  }
  google::rpc::BadRequest bad;
  google::rpc::BadRequest::FieldViolation* v = bad.add_field_violations();
  v->set_field(message.substr(0, colon));
  v->set_description(message.substr(colon + 2));
  google::rpc::Status details;
  details.set_code(static_cast<int>(s.code()));
  details.set_message(message);
  details.add_details()->PackFrom(bad);
  return grpc::Status(code, message, details.SerializeAsString());
}

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  int64_t nanos = absl::ToInt64Nanoseconds(d);
  out->set_seconds(nanos / 1'000'000'000);
  out->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
}

v1::JobOutcome ToProto(JobOutcome o) {
  switch (o) {
    case JobOutcome::kSucceeded:
      return v1::JOB_OUTCOME_SUCCEEDED;
    case JobOutcome::kFailed:
      return v1::JOB_OUTCOME_FAILED;
    case JobOutcome::kCancelled:
      return v1::JOB_OUTCOME_CANCELLED;
    case JobOutcome::kDeadlineExceeded:
      return v1::JOB_OUTCOME_DEADLINE_EXCEEDED;
    case JobOutcome::kRejected:
      return v1::JOB_OUTCOME_REJECTED;
  }
  return v1::JOB_OUTCOME_UNSPECIFIED;
}

void FillResult(JobResult& r, absl::string_view id, v1::JobResult* out) {
  out->set_index(r.index);
  if (id.empty()) {
    out->set_id(absl::StrCat(r.index));
  } else {
    out->set_id(std::string(id));
  }
  out->set_outcome(ToProto(r.outcome));
  if (r.outcome == JobOutcome::kSucceeded) {
    // An empty output is the field's default: setting it would only cost
    // a string on the call's arena.
    if (!r.output.empty()) out->set_output(std::move(r.output));
  } else {
    out->mutable_error()->set_code(static_cast<int>(r.error.code()));
    out->mutable_error()->set_message(std::string(r.error.message()));
  }
  out->set_attempts(r.attempts);
  out->set_served_by(r.served_by);
  if (r.queue_time > absl::ZeroDuration()) {
    SetDuration(r.queue_time, out->mutable_queue_time());
  }
  if (r.run_time > absl::ZeroDuration()) {
    SetDuration(r.run_time, out->mutable_run_time());
  }
}

void FillSummary(const BatchSummary& s, v1::BatchSummary* out) {
  out->set_total(s.total);
  out->set_succeeded(s.count(JobOutcome::kSucceeded));
  out->set_failed(s.count(JobOutcome::kFailed));
  out->set_cancelled(s.count(JobOutcome::kCancelled));
  out->set_deadline_exceeded(s.count(JobOutcome::kDeadlineExceeded));
  out->set_rejected(s.count(JobOutcome::kRejected));
  SetDuration(s.elapsed, out->mutable_elapsed());
  out->set_deadline_hit(s.deadline_hit);
}

// The window a call reserves on admission: the jobs it may hold at once.
uint64_t WindowOf(const BatchRun::Options& o, uint64_t jobs) {
  uint64_t w = jobs;
  if (o.batch_size > 0) w = std::min<uint64_t>(w, o.batch_size);
  if (o.max_concurrency > 0) w = std::min<uint64_t>(w, o.max_concurrency);
  return std::max<uint64_t>(w, 1);
}

// Refuses the call unless it carries a valid bearer token, when tokens are
// configured (--auth_tokens_file). The one check every JobService call
// makes before anything else; counted as a rejection when it fails.
absl::Status Authenticate(const ServiceContext& ctx,
                          const grpc::CallbackServerContext& context) {
  const Authenticator* authenticator = ctx.options->authenticator.get();
  if (authenticator == nullptr) return absl::OkStatus();
  // Exactly one authorization entry; none or several is a refusal.
  auto [first, last] = context.client_metadata().equal_range("authorization");
  absl::string_view authorization;
  if (first != last && std::next(first) == last) {
    authorization =
        absl::string_view(first->second.data(), first->second.size());
  }
  absl::Status s = authenticator->Check(authorization);
  if (!s.ok()) ctx.metrics->Rejected("unauthenticated");
  return s;
}

// Bookkeeping every job-running call shares: authentication, admission, the
// drain registry, the effective deadline, metrics and the call's log line.
class CallBook {
 public:
  CallBook(const ServiceContext& ctx, grpc::CallbackServerContext* context,
           Method method)
      : ctx_(ctx),
        context_(context),
        method_(method),
        started_(absl::Now()),
        peer_(context->peer()) {
    ctx_.metrics->CallStarted(method);
  }

  // The call's deadline for its jobs: the client's, less a margin so the
  // reply reaches the client in time, capped by --max_deadline; the server
  // default when the client set none. The margin is --deadline_margin plus
  // 2 µs per job (settling, encoding and sending each result), at most a
  // quarter of the budget.
  absl::Time Deadline(uint64_t jobs = 0) const {
    const ServerOptions& o = *ctx_.options;
    auto client = context_->deadline();
    bool none = client >= std::chrono::system_clock::now() +
                              std::chrono::hours(24 * 365 * 10);
    absl::Time cap = started_ + o.max_deadline;
    if (none) return std::min(started_ + o.default_deadline, cap);
    absl::Time at = absl::FromChrono(client);
    absl::Duration budget = at - started_;
    absl::Duration margin =
        std::min(o.deadline_margin + absl::Microseconds(2) * jobs, budget / 4);
    return std::min(at - margin, cap);
  }

  // The gate of a call that brings all its jobs up front (RunBatch,
  // StreamBatch): authenticates, validates the jobs and options, and
  // admits the call's window. Returns the run's options (deadline and
  // observer set) or the status to refuse the call with.
  absl::StatusOr<BatchRun::Options> AcceptBatch(
      const google::protobuf::RepeatedPtrField<v1::Job>& jobs,
      const v1::BatchOptions& proto_options) {
    absl::Status s = Authenticate();
    if (!s.ok()) return s;
    s = ctx_.validator->ValidateJobs(jobs);
    absl::StatusOr<BatchRun::Options> options =
        s.ok() ? ctx_.validator->ToBatchOptions(proto_options)
               : absl::StatusOr<BatchRun::Options>(s);
    if (!options.ok()) {
      if (absl::IsInvalidArgument(options.status())) {
        ctx_.metrics->Rejected("invalid_argument");
      }
      return options.status();
    }
    uint64_t n = jobs.size();
    s = Admit(WindowOf(*options, n), n);
    if (!s.ok()) return s;
    options->deadline = Deadline(n);
    options->task_observer = ctx_.metrics;
    return options;
  }

  // This call's Authenticate(): first thing in every job-running call.
  absl::Status Authenticate() const {
    return jobgroup::Authenticate(ctx_, *context_);
  }

  // Refuses calls while draining or past the admission limit; otherwise
  // reserves `window` jobs and `jobs` in the in-flight gauge.
  absl::Status Admit(uint64_t window, uint64_t jobs) {
    if (ctx_.draining->load()) {
      ctx_.metrics->Rejected("draining");
      return absl::UnavailableError(
          "server is draining; retry on another replica");
    }
    if (!ctx_.admission->TryAcquire(window)) {
      ctx_.metrics->Rejected("inflight_limit");
      context_->AddTrailingMetadata(kRetryAfterKey, kRetryAfterMs);
      return absl::ResourceExhaustedError(
          absl::StrCat("server is at its limit of ", ctx_.admission->limit(),
                       " jobs in flight (", ctx_.admission->used(),
                       " in use, this call needs ", window, "); retry after ",
                       kRetryAfterMs, " ms"));
    }
    window_ = window;
    AddJobs(static_cast<int64_t>(jobs));
    return absl::OkStatus();
  }
  void AddJobs(int64_t n) { ctx_.jobs_in_flight->fetch_add(n); }
  void JobDone(absl::string_view kind, const JobResult& r) {
    ctx_.jobs_in_flight->fetch_sub(1);
    ctx_.metrics->JobFinished(kind, r);
  }

  void Register(std::shared_ptr<BatchRun> run) {
    registry_id_ = ctx_.calls->Add(std::move(run));
  }

  // The call ended with `status`; `summary` is null when no job ran.
  void End(const absl::Status& status, const BatchSummary* summary) {
    if (window_ > 0) ctx_.admission->Release(window_);
    window_ = 0;
    if (registry_id_ != 0) ctx_.calls->Remove(registry_id_);
    registry_id_ = 0;
    absl::Duration took = absl::Now() - started_;
    ctx_.metrics->CallHandled(method_, static_cast<int>(status.code()), took);
    Logger::Fields f = {{"method", MethodName(method_)},
                        {"peer", peer_},
                        {"code", absl::StatusCodeToString(status.code())}};
    if (summary != nullptr) {
      ctx_.metrics->BatchFinished(method_, *summary);
      f.push_back({"jobs", absl::StrCat(summary->total)});
      f.push_back(
          {"succeeded", absl::StrCat(summary->count(JobOutcome::kSucceeded))});
      f.push_back(
          {"failed", absl::StrCat(summary->count(JobOutcome::kFailed))});
      f.push_back(
          {"cancelled", absl::StrCat(summary->count(JobOutcome::kCancelled))});
      f.push_back({"deadline_exceeded", absl::StrCat(summary->count(
                                            JobOutcome::kDeadlineExceeded))});
      f.push_back(
          {"rejected", absl::StrCat(summary->count(JobOutcome::kRejected))});
      f.push_back({"deadline_hit", summary->deadline_hit ? "true" : "false"});
    }
    f.push_back({"elapsed_ms", absl::StrCat(absl::ToDoubleMilliseconds(took))});
    if (!status.ok()) f.push_back({"error", std::string(status.message())});
    ctx_.logger->Info("call_finished", "", f);
  }

  const ServiceContext& ctx() const { return ctx_; }
  Method method() const { return method_; }

 private:
  const ServiceContext& ctx_;
  grpc::CallbackServerContext* const context_;
  const Method method_;
  const absl::Time started_;
  const std::string peer_;
  uint64_t window_ = 0;
  uint64_t registry_id_ = 0;
};

// Counts a refused request in metrics.
void CountInvalid(const ServiceContext& ctx, const absl::Status& s) {
  if (absl::IsInvalidArgument(s)) ctx.metrics->Rejected("invalid_argument");
}

// Hands every job of a request to `run` (each made into its JobSpec only
// when it starts) and closes its input. `jobs` must outlive the run.
void RunAllJobs(BatchRun& run, const RequestValidator& validator,
                const google::protobuf::RepeatedPtrField<v1::Job>& jobs) {
  const RequestValidator* v = &validator;
  const google::protobuf::RepeatedPtrField<v1::Job>* all = &jobs;
  run.AddJobs(jobs.size(), [v, all](uint64_t i) {
    return v->ToJobSpec(all->Get(static_cast<int>(i)), i);
  });
  run.CloseInput();
}

// ---------------------------------------------------------------- RunBatch

class RunBatchCall final : public grpc::ServerUnaryReactor {
 public:
  RunBatchCall(const ServiceContext& ctx, grpc::CallbackServerContext* context,
               const v1::RunBatchRequest* request,
               v1::RunBatchResponse* response)
      : book_(ctx, context, Method::kRunBatch),
        request_(request),
        response_(response),
        sink_(this) {}

  void Start() {
    const ServiceContext& ctx = book_.ctx();
    absl::StatusOr<BatchRun::Options> options =
        book_.AcceptBatch(request_->jobs(), request_->options());
    if (!options.ok()) return Fail(options.status());
    uint64_t n = request_->jobs_size();
    // Every result has its slot up front; sinks fill them from any thread.
    auto* results = response_->mutable_results();
    results->Reserve(static_cast<int>(n));
    for (uint64_t i = 0; i < n; ++i) results->Add();
    run_ = BatchRun::Create(ctx.dispatcher, *options, &sink_);
    book_.Register(run_);
    RunAllJobs(*run_, *ctx.validator, request_->jobs());
  }

  void OnCancel() override {
    if (run_)
      run_->Cancel(absl::CancelledError("the client cancelled the call"));
  }
  void OnDone() override { delete this; }

 private:
  class Sink : public ResultSink {
   public:
    explicit Sink(RunBatchCall* call) : call_(call) {}
    bool OnResult(JobResult r) override {
      const v1::Job& job = call_->request_->jobs(static_cast<int>(r.index));
      call_->book_.JobDone(job.kind(), r);
      FillResult(r, job.id(),
                 call_->response_->mutable_results(static_cast<int>(r.index)));
      return true;
    }
    void OnDone(const BatchSummary& summary) override {
      FillSummary(summary, call_->response_->mutable_summary());
      call_->book_.End(absl::OkStatus(), &summary);
      call_->Finish(grpc::Status::OK);
    }

   private:
    RunBatchCall* const call_;
  };

  void Fail(const absl::Status& s) {
    book_.End(s, nullptr);
    Finish(ToGrpc(s));
  }

  CallBook book_;
  const v1::RunBatchRequest* const request_;
  v1::RunBatchResponse* const response_;
  Sink sink_;
  std::shared_ptr<BatchRun> run_;
};

// ------------------------------------------------- streaming result writer

// The write half shared by StreamBatch and Process: results queue up as
// they finish and go out many to a message, one write at a time; a result
// frees its window slot only once written, so a client that reads slowly
// stops the call from starting more jobs. The summary goes in the last
// message, then the call finishes.
template <class ReactorBase, class Response>
class StreamingCall : public ReactorBase {
 protected:
  StreamingCall(const ServiceContext& ctx, grpc::CallbackServerContext* context,
                Method method)
      : book_(ctx, context, method), sink_(this) {}

  // Kind and id of the job at `index`, for the result message and metrics.
  virtual std::pair<std::string, std::string> KindAndId(const JobResult& r) = 0;
  // A written batch of results freed window slots.
  virtual void OnWindowFreed() {}

  void OnWriteDone(bool ok) override {
    uint64_t written;
    bool finish = false;
    bool start = false;
    {
      absl::MutexLock lock(&mu_);
      written = in_message_;
      in_message_ = 0;
      if (!ok) broken_ = true;
      if (ok) book_.ctx().metrics->MessagesSent(book_.method(), 1);
      if (summary_sent_ || (broken_ && summary_ready_)) {
        finish = true;
      } else if (!broken_) {
        start = PrepareLocked();
      }
      if (!start && !finish) writing_ = false;
    }
    if (!ok && run_) {
      run_->Cancel(absl::CancelledError("the client stopped reading"));
    }
    if (written > 0 && run_) run_->Ack(written);
    if (written > 0) OnWindowFreed();
    if (finish) return FinishCall();
    if (start) this->StartWrite(&message_);
  }

  // Starts the run; `options` carry the deadline and observer already.
  void StartRun(const BatchRun::Options& options) {
    run_ = BatchRun::Create(book_.ctx().dispatcher, options, &sink_);
    book_.Register(run_);
  }

  void FailBeforeRun(const absl::Status& s) {
    book_.End(s, nullptr);
    this->Finish(ToGrpc(s));
  }

  CallBook book_;
  std::shared_ptr<BatchRun> run_;

 private:
  class Sink : public ResultSink {
   public:
    explicit Sink(StreamingCall* call) : call_(call) {}
    bool OnResult(JobResult r) override {
      auto [kind, id] = call_->KindAndId(r);
      call_->book_.JobDone(kind, r);
      v1::JobResult proto;
      FillResult(r, id, &proto);
      bool start;
      {
        absl::MutexLock lock(&call_->mu_);
        call_->pending_.push_back(std::move(proto));
        start = !call_->writing_ && !call_->broken_ && call_->PrepareLocked();
      }
      if (start) call_->StartWrite(&call_->message_);
      return false;  // Acked once written.
    }
    void OnDone(const BatchSummary& summary) override {
      bool start = false, finish = false;
      {
        absl::MutexLock lock(&call_->mu_);
        call_->summary_ = summary;
        call_->summary_ready_ = true;
        if (!call_->writing_) {
          if (call_->broken_) {
            finish = true;
          } else {
            start = call_->PrepareLocked();
          }
        }
      }
      if (finish) return call_->FinishCall();
      if (start) call_->StartWrite(&call_->message_);
    }

   private:
    StreamingCall* const call_;
  };

  // Fills message_ with pending results (and the summary when it is the
  // last message). Returns true when there is something to write; the
  // caller then starts the write outside the lock.
  bool PrepareLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (pending_.empty() && !summary_ready_) return false;
    message_.Clear();
    int n = 0;
    while (!pending_.empty() && n < kResultsPerMessage) {
      *message_.add_results() = std::move(pending_.front());
      pending_.pop_front();
      ++n;
    }
    in_message_ = n;
    if (pending_.empty() && summary_ready_) {
      FillSummary(summary_, message_.mutable_summary());
      summary_sent_ = true;
    }
    writing_ = true;
    return true;
  }

  void FinishCall() {
    BatchSummary summary;
    bool broken;
    {
      absl::MutexLock lock(&mu_);
      summary = summary_;
      broken = broken_;
    }
    absl::Status status = broken ? absl::CancelledError("the client went away")
                                 : absl::OkStatus();
    book_.End(status, &summary);
    this->Finish(ToGrpc(status));
  }

  Sink sink_;
  absl::Mutex mu_;
  std::deque<v1::JobResult> pending_ ABSL_GUARDED_BY(mu_);
  Response message_;  // Owned by gRPC while a write is under way.
  uint64_t in_message_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool summary_ready_ ABSL_GUARDED_BY(mu_) = false;
  bool summary_sent_ ABSL_GUARDED_BY(mu_) = false;
  BatchSummary summary_ ABSL_GUARDED_BY(mu_);
};

// ------------------------------------------------------------- StreamBatch

class StreamBatchCall final
    : public StreamingCall<grpc::ServerWriteReactor<v1::StreamBatchResponse>,
                           v1::StreamBatchResponse> {
 public:
  StreamBatchCall(const ServiceContext& ctx,
                  grpc::CallbackServerContext* context,
                  const v1::StreamBatchRequest* request)
      : StreamingCall(ctx, context, Method::kStreamBatch), request_(request) {}

  void Start() {
    const ServiceContext& ctx = book_.ctx();
    absl::StatusOr<BatchRun::Options> options =
        book_.AcceptBatch(request_->jobs(), request_->options());
    if (!options.ok()) return FailBeforeRun(options.status());
    StartRun(*options);
    RunAllJobs(*run_, *ctx.validator, request_->jobs());
  }

  void OnCancel() override {
    if (run_)
      run_->Cancel(absl::CancelledError("the client cancelled the call"));
  }
  void OnDone() override { delete this; }

 private:
  std::pair<std::string, std::string> KindAndId(const JobResult& r) override {
    const v1::Job& job = request_->jobs(static_cast<int>(r.index));
    return {job.kind(), job.id()};
  }

  const v1::StreamBatchRequest* const request_;
};

// ----------------------------------------------------------------- Process

class ProcessCall final
    : public StreamingCall<
          grpc::ServerBidiReactor<v1::ProcessRequest, v1::ProcessResponse>,
          v1::ProcessResponse> {
 public:
  ProcessCall(const ServiceContext& ctx, grpc::CallbackServerContext* context)
      : StreamingCall(ctx, context, Method::kProcess) {}

  void Start() {
    if (absl::Status s = book_.Authenticate(); !s.ok()) {
      refused_ = true;  // Nothing is read.
      return FailBeforeRun(s);
    }
    {
      absl::MutexLock lock(&input_mu_);
      read_outstanding_ = true;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // Half-close (or the client is gone): no more jobs.
      if (!EnsureRun()) return;
      {
        absl::MutexLock lock(&input_mu_);
        input_closed_ = true;
      }
      run_->CloseInput();
      return;
    }
    book_.ctx().metrics->MessagesReceived(Method::kProcess, 1);
    if (!EnsureRun()) return;
    const ServiceContext& ctx = book_.ctx();
    uint64_t added = 0;
    {
      absl::MutexLock lock(&input_mu_);
      for (const v1::Job& job : request_.jobs()) {
        uint64_t index = next_index_++;
        std::string field = absl::StrCat("jobs[", index, "]");
        absl::Status s = ctx.validator->ValidateJob(job, field);
        std::shared_ptr<JobSpec> spec;
        if (s.ok()) {
          spec = ctx.validator->ToJobSpec(job, index);
        } else {
          // A bad job is REJECTED; the stream and the other jobs go on.
          spec = std::make_shared<JobSpec>();
          spec->id = job.id().empty() ? absl::StrCat(index) : job.id();
          spec->kind = ctx.kinds->Find(job.kind()) ? job.kind() : "";
          spec->rejected = s;
        }
        live_.emplace(index, spec);
        ++added;
      }
    }
    if (added > 0) {
      ProcessCall* self = this;
      // Counted before they can finish; given back when the run has ended
      // and takes them no more.
      book_.AddJobs(added);
      bool taken = run_->AddJobs(added, [self](uint64_t index) {
        absl::MutexLock lock(&self->input_mu_);
        return std::shared_ptr<const JobSpec>(self->live_.at(index));
      });
      if (!taken) book_.AddJobs(-static_cast<int64_t>(added));
    }
    {
      // Only now may another read reuse request_.
      absl::MutexLock lock(&input_mu_);
      read_outstanding_ = false;
    }
    ReadMoreIfRoom();
  }

  void OnCancel() override {
    if (run_)
      run_->Cancel(absl::CancelledError("the client cancelled the call"));
  }
  void OnDone() override { delete this; }

 private:
  // Creates the run from the first message's options. False when the call
  // was refused (and finished).
  bool EnsureRun() {
    if (run_ || refused_) return !refused_;
    const ServiceContext& ctx = book_.ctx();
    absl::StatusOr<BatchRun::Options> options =
        ctx.validator->ToBatchOptions(request_.options());
    absl::Status s = options.status();
    if (s.ok()) {
      window_ = options->max_concurrency > 0 ? options->max_concurrency
                                             : ctx.options->process_window;
      if (options->batch_size > 0) {
        window_ = std::min<uint64_t>(window_, options->batch_size);
      }
      options->max_concurrency = static_cast<uint32_t>(window_);
      s = book_.Admit(window_, 0);
    } else {
      CountInvalid(ctx, s);
    }
    if (!s.ok()) {
      refused_ = true;
      FailBeforeRun(s);
      return false;
    }
    options->deadline = book_.Deadline();
    options->task_observer = ctx.metrics;
    StartRun(*options);
    return true;
  }

  // Reads the next message unless the call holds a full window of jobs
  // plus a small buffer: then HTTP/2 flow control slows the producer. At
  // most one read is outstanding, and request_ is reused only after
  // OnReadDone() has finished with it.
  void ReadMoreIfRoom() {
    {
      absl::MutexLock lock(&input_mu_);
      if (input_closed_ || read_outstanding_ || refused_) return;
      uint64_t held = run_->pending() + run_->in_window();
      if (held >= window_ + window_ / 4 + 16) return;  // Paused.
      read_outstanding_ = true;
    }
    StartRead(&request_);
  }

  void OnWindowFreed() override { ReadMoreIfRoom(); }

  std::pair<std::string, std::string> KindAndId(const JobResult& r) override {
    absl::MutexLock lock(&input_mu_);
    auto it = live_.find(r.index);
    if (it == live_.end()) return {"", ""};
    std::pair<std::string, std::string> out = {it->second->kind,
                                               it->second->id};
    live_.erase(it);
    return out;
  }

  v1::ProcessRequest request_;
  bool refused_ = false;
  uint64_t window_ = 0;
  absl::Mutex input_mu_;
  uint64_t next_index_ ABSL_GUARDED_BY(input_mu_) = 0;
  bool input_closed_ ABSL_GUARDED_BY(input_mu_) = false;
  bool read_outstanding_ ABSL_GUARDED_BY(input_mu_) = false;
  // Jobs received whose result has not been sent: index -> spec.
  absl::flat_hash_map<uint64_t, std::shared_ptr<JobSpec>> live_
      ABSL_GUARDED_BY(input_mu_);
};

}  // namespace

grpc::ServerUnaryReactor* JobServiceImpl::RunBatch(
    grpc::CallbackServerContext* context, const v1::RunBatchRequest* request,
    v1::RunBatchResponse* response) {
  auto* call = new RunBatchCall(ctx_, context, request, response);
  call->Start();
  return call;
}

grpc::ServerWriteReactor<v1::StreamBatchResponse>* JobServiceImpl::StreamBatch(
    grpc::CallbackServerContext* context,
    const v1::StreamBatchRequest* request) {
  auto* call = new StreamBatchCall(ctx_, context, request);
  call->Start();
  return call;
}

grpc::ServerBidiReactor<v1::ProcessRequest, v1::ProcessResponse>*
JobServiceImpl::Process(grpc::CallbackServerContext* context) {
  auto* call = new ProcessCall(ctx_, context);
  call->Start();
  return call;
}

grpc::ServerUnaryReactor* JobServiceImpl::GetServerInfo(
    grpc::CallbackServerContext* context, const v1::GetServerInfoRequest*,
    v1::GetServerInfoResponse* response) {
  absl::Time start = absl::Now();
  ctx_.metrics->CallStarted(Method::kGetServerInfo);
  if (absl::Status s = Authenticate(ctx_, *context); !s.ok()) {
    ctx_.metrics->CallHandled(Method::kGetServerInfo,
                              static_cast<int>(s.code()), absl::Now() - start);
    auto* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  response->set_version(ctx_.version);
  for (const JobKind* k : ctx_.kinds->List()) {
    v1::KindInfo* info = response->add_kinds();
    info->set_name(k->info.name);
    info->set_backend(k->info.backend);
    info->set_description(k->info.description);
  }
  for (const Semaphore* b : ctx_.backends->List()) {
    v1::BackendInfo* info = response->add_backends();
    info->set_name(b->name());
    info->set_capacity(b->capacity());
    info->set_in_use(b->in_use());
    info->set_waiting(b->waiting());
  }
  response->mutable_queue()->set_capacity(ctx_.workers->queue_capacity());
  response->mutable_queue()->set_depth(ctx_.workers->queue_depth());
  response->mutable_workers()->set_total(ctx_.workers->workers());
  response->mutable_workers()->set_busy(ctx_.workers->busy());
  const ServerOptions& o = *ctx_.options;
  v1::Limits* limits = response->mutable_limits();
  limits->set_max_jobs_per_call(o.max_jobs_per_call);
  limits->set_max_payload_bytes(o.max_payload_bytes);
  SetDuration(o.default_deadline, limits->mutable_default_deadline());
  SetDuration(o.max_deadline, limits->mutable_max_deadline());
  limits->set_max_inflight_jobs(ctx_.admission->limit());
  limits->set_inflight_jobs(ctx_.jobs_in_flight->load());
  limits->set_max_concurrency(o.max_concurrency);
  ctx_.metrics->CallHandled(Method::kGetServerInfo, 0, absl::Now() - start);
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace jobgroup

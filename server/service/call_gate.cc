#include "server/service/call_gate.h"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "server/service/authenticator.h"
#include "server/service/call_id.h"
#include "server/service/proto_mapping.h"
#include "server/service/request_shape.h"

namespace jobgroup {
namespace {

// The retry hint of a refusal that may succeed later: gRPC's own
// (https://github.com/grpc/proposal/blob/master/A6-client-retries.md, which
// a client's retry policy follows), and the older name jobgroup sent first.
constexpr const char kRetryPushbackKey[] = "grpc-retry-pushback-ms";
constexpr const char kRetryAfterKey[] = "retry-after-ms";
constexpr const char kRetryAfterMs[] = "250";

// Server faults, logged as warnings and never left out by sampling; every
// other ending is the client's or the load's doing.
bool IsServerFault(absl::StatusCode code) {
  return code == absl::StatusCode::kInternal ||
         code == absl::StatusCode::kUnknown ||
         code == absl::StatusCode::kDataLoss ||
         code == absl::StatusCode::kUnimplemented;
}

}  // namespace

absl::string_view OneValue(const grpc::CallbackServerContext& context,
                           const char* key) {
  auto [first, last] = context.client_metadata().equal_range(key);
  if (first == last || std::next(first) != last) return {};
  return absl::string_view(first->second.data(), first->second.size());
}

uint64_t WindowOf(const TaskGroup::Options& o, uint64_t jobs) {
  uint64_t w = jobs;
  if (o.batch_size > 0) w = std::min<uint64_t>(w, o.batch_size);
  if (o.max_concurrency > 0) w = std::min<uint64_t>(w, o.max_concurrency);
  return std::max<uint64_t>(w, 1);
}

absl::Status Authenticate(const ServiceContext& ctx,
                          const grpc::CallbackServerContext& context,
                          std::string* token) {
  const Authenticator* authenticator = ctx.options->authenticator.get();
  if (authenticator == nullptr) return absl::OkStatus();
  // Exactly one authorization entry; none or several is a refusal.
  absl::StatusOr<std::string> name =
      authenticator->Identify(OneValue(context, "authorization"));
  if (!name.ok()) {
    ctx.metrics->Rejected("unauthenticated");
    return name.status();
  }
  if (token != nullptr) *token = *std::move(name);
  return absl::OkStatus();
}

void CountInvalid(const ServiceContext& ctx, const absl::Status& s) {
  if (absl::IsInvalidArgument(s)) ctx.metrics->Rejected("invalid_argument");
}

void RunAllJobs(TaskGroup& run, const RequestValidator& validator,
                const google::protobuf::RepeatedPtrField<v1::Job>& jobs,
                const std::shared_ptr<const std::string>& traceparent,
                uint64_t request_bytes, JobSpecs* specs,
                absl::FunctionRef<void()> drop_request) {
  // Sized before the first job is added: the run reads and writes the
  // specs of the jobs it starts while later ones are made, never the same.
  const uint64_t n = jobs.size();
  specs->assign(n, nullptr);
  if (request_bytes > kSpecsFirstOverBytes) {
    for (uint64_t i = 0; i < n; ++i) {
      (*specs)[i] =
          validator.ToJobSpec(jobs.Get(static_cast<int>(i)), i, traceparent);
    }
    drop_request();
    run.AddJobs(n, [specs](uint64_t i) { return (*specs)[i]; });
  } else {
    run.AddJobs(n, [specs, v = &validator, jobs = &jobs,
                    tp = traceparent](uint64_t i) {
      return (*specs)[i] = v->ToJobSpec(jobs->Get(static_cast<int>(i)), i, tp);
    });
  }
  run.CloseInput();
}

JobName TakeJobName(JobSpecs& specs,
                    const google::protobuf::RepeatedPtrField<v1::Job>* jobs,
                    uint64_t index) {
  std::shared_ptr<const JobSpec> spec = std::move(specs[index]);
  if (spec == nullptr) {
    const v1::Job& job = jobs->Get(static_cast<int>(index));
    return {job.kind(), job.id(), nullptr};
  }
  const absl::string_view kind = spec->kind, id = spec->id;
  return {kind, id, std::move(spec)};
}

CallGate::CallGate(const ServiceContext& ctx,
                   grpc::CallbackServerContext* context, Method method)
    : ctx_(ctx),
      context_(context),
      live_(std::make_shared<LiveCall>(
          LiveCall::Identity{CallIdFor(OneValue(*context, kRequestIdKey)),
                             method, context->peer(), "", absl::Now()})) {
  if (absl::string_view tp = OneValue(*context, kTraceparentKey);
      IsValidTraceparent(tp)) {
    traceparent_ = std::make_shared<const std::string>(tp);
  }
  context->AddInitialMetadata(kRequestIdKey, id().call_id);
  ctx_.open_calls->fetch_add(1);
  ctx_.metrics->CallStarted(method);
  if (ctx_.logger->Enabled(LogLevel::kDebug)) {
    Logger::Fields f = {{"call_id", id().call_id},
                        {"method", MethodName(id().method)},
                        {"peer", id().peer}};
    if (traceparent_) f.push_back({"traceparent", *traceparent_});
    ctx_.logger->Log(LogLevel::kDebug, "call_started", "", f);
  }
}

CallGate::~CallGate() {
  ReleaseRequest();
  if (uint64_t held = held_bytes_.load(); held > 0) ctx_.memory->Release(held);
  if (stream_open_) ctx_.streams->Close();
  ctx_.open_calls->fetch_sub(1);
}

absl::Time CallGate::Deadline(uint64_t jobs) {
  const ServerOptions& o = *ctx_.options;
  const absl::Time started = id().started;
  auto client = context_->deadline();
  bool none = client >= std::chrono::system_clock::now() +
                            std::chrono::hours(24 * 365 * 10);
  absl::Time cap = started + o.max_deadline;
  absl::Time deadline;
  if (none) {
    deadline = std::min(started + o.default_deadline, cap);
    deadline_capped_ = false;
  } else {
    absl::Time at = absl::FromChrono(client);
    absl::Duration budget = at - started;
    absl::Duration margin =
        std::min(o.deadline_margin + absl::Microseconds(2) * jobs, budget / 4);
    deadline = std::min(at - margin, cap);
    deadline_capped_ = at - margin > cap;
  }
  deadline_ = deadline - started;
  live_->set_deadline(deadline);
  return deadline;
}

void CallGate::FillSummary(const BatchSummary& s, uint64_t jobs_read,
                           v1::BatchSummary* out) const {
  jobgroup::FillSummary(s, jobs_read, out);
  out->set_call_id(id().call_id);
  if (deadline_ > absl::ZeroDuration()) {
    SetDuration(deadline_, out->mutable_deadline());
  }
  out->set_deadline_capped(deadline_capped_);
}

void CallGate::PushBack() {
  context_->AddTrailingMetadata(kRetryPushbackKey, kRetryAfterMs);
  context_->AddTrailingMetadata(kRetryAfterKey, kRetryAfterMs);
}

absl::StatusOr<TaskGroup::Options> CallGate::AcceptBatch(
    const google::protobuf::RepeatedPtrField<v1::Job>& jobs,
    const v1::BatchOptions& proto_options) {
  absl::Status s = ctx_.validator->ValidateJobs(jobs);
  absl::StatusOr<TaskGroup::Options> options =
      s.ok() ? ctx_.validator->ToBatchOptions(proto_options)
             : absl::StatusOr<TaskGroup::Options>(s);
  if (!options.ok()) {
    CountInvalid(ctx_, options.status());
    return options.status();
  }
  uint64_t n = jobs.size();
  s = Admit(WindowOf(*options, n), n);
  if (!s.ok()) return s;
  options->deadline = Deadline(n);
  options->attempt_observer = ctx_.metrics;
  return options;
}

absl::Status CallGate::Authenticate() {
  std::string token;
  absl::Status s = jobgroup::Authenticate(ctx_, *context_, &token);
  if (s.ok()) live_->set_token(std::move(token));
  return s;
}

absl::Status CallGate::CheckAdaptiveLimit() {
  const AdaptiveLimit* adaptive = ctx_.adaptive;
  if (adaptive == nullptr || ctx_.draining->load()) return absl::OkStatus();
  const uint64_t used = ctx_.admission->used();
  if (adaptive->Admits(used)) return absl::OkStatus();
  ctx_.metrics->Rejected("adaptive_limit");
  PushBack();
  return absl::ResourceExhaustedError(absl::StrCat(
      "server is at its adaptive limit of ", adaptive->limit(),
      " jobs in flight (", used,
      " in use; --adaptive_limit follows the queueing delay); retry after ",
      kRetryAfterMs, " ms"));
}

absl::Status CallGate::OpenStream() {
  if (ctx_.streams->TryOpen()) {
    stream_open_ = true;
    return absl::OkStatus();
  }
  ctx_.metrics->Rejected("open_streams");
  PushBack();
  return absl::ResourceExhaustedError(
      absl::StrCat("the server has its limit of ", ctx_.streams->limit(),
                   " streams open (--max_open_streams); retry after ",
                   kRetryAfterMs, " ms"));
}

absl::Status CallGate::ReadRequest(grpc::ByteBuffer& raw, int jobs_field,
                                   google::protobuf::Message& request) {
  absl::Status s = Authenticate();
  if (s.ok()) s = CheckAdaptiveLimit();
  if (s.ok()) s = OpenStream();
  if (s.ok()) s = ReserveRequest(raw, jobs_field);
  if (!s.ok()) {
    raw.Clear();
    return s;
  }
  // Deserialize() empties `raw` once parsed, or failing.
  if (!grpc::GenericDeserialize<grpc::ProtoBufferReader,
                                google::protobuf::Message>(&raw, &request)
           .ok()) {
    s = absl::InvalidArgumentError(absl::StrCat(
        "the request is not a valid ", request.GetTypeName(),
        " (for example a string that is not UTF-8, or truncated bytes); "
        "nothing was run"));
    CountInvalid(ctx_, s);
  }
  return s;
}

absl::StatusOr<bool> CallGate::TryReserveRequest(const grpc::ByteBuffer& raw,
                                                 int jobs_field) {
  absl::StatusOr<RequestShape> shape =
      ScanJobsRequest(raw, jobs_field, *ctx_.options);
  if (!shape.ok()) {
    CountInvalid(ctx_, shape.status());
    return shape.status();
  }
  uint64_t bytes = shape->ParsedBytesAtMost();
  MemoryBudget& budget = *ctx_.memory;
  if (budget.TryReserve(bytes)) {
    request_bytes_.fetch_add(bytes);
    return true;
  }
  if (bytes <= budget.limit()) return false;
  ctx_.metrics->Rejected("memory_budget");
  return absl::ResourceExhaustedError(absl::StrCat(
      "the request would take up to ", bytes, " bytes parsed (",
      shape->job_messages, " jobs and fallbacks, ", shape->wire_bytes,
      " bytes), over the ", budget.limit(),
      " bytes the server gives calls (3/4 of --memory_budget_bytes); "
      "send fewer jobs per call"));
}

absl::Status CallGate::ReserveRequest(const grpc::ByteBuffer& raw,
                                      int jobs_field) {
  absl::StatusOr<bool> reserved = TryReserveRequest(raw, jobs_field);
  if (!reserved.ok()) return reserved.status();
  if (*reserved) return absl::OkStatus();
  return RefuseForMemoryInUse();
}

absl::Status CallGate::RefuseForMemoryInUse() {
  ctx_.metrics->Rejected("memory_budget");
  PushBack();
  const MemoryBudget& budget = *ctx_.memory;
  return absl::ResourceExhaustedError(absl::StrCat(
      "the server's memory for calls is in use (", budget.used(), " of ",
      budget.limit(),
      " bytes held by requests, streams' jobs and outputs not yet sent); "
      "retry after ",
      kRetryAfterMs, " ms"));
}

void CallGate::HoldBytes(uint64_t bytes) {
  ctx_.memory->Hold(bytes);
  held_bytes_.fetch_add(bytes, std::memory_order_relaxed);
}

void CallGate::ReleaseBytes(uint64_t bytes) {
  held_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
  ctx_.memory->Release(bytes);
}

void CallGate::ReleaseRequest() {
  if (uint64_t bytes = request_bytes_.exchange(0); bytes > 0) {
    ctx_.memory->Release(bytes);
  }
}

absl::Status CallGate::Admit(uint64_t window, uint64_t jobs) {
  if (ctx_.draining->load()) {
    ctx_.metrics->Rejected("draining");
    return absl::UnavailableError(
        "server is draining; retry on another replica");
  }
  if (window > ctx_.admission->limit()) {
    ctx_.metrics->Rejected("inflight_limit");
    return absl::FailedPreconditionError(absl::StrCat(
        "this call needs ", window,
        " jobs in flight at once, more than the server's limit of ",
        ctx_.admission->limit(),
        " (--max_inflight_jobs): it can never be admitted; set "
        "options.max_concurrency or options.batch_size to at most ",
        ctx_.admission->limit(), ", or send fewer jobs per call"));
  }
  if (!ctx_.admission->TryAcquire(window)) {
    ctx_.metrics->Rejected("inflight_limit");
    PushBack();
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

void CallGate::AddJobs(int64_t n) { ctx_.jobs_in_flight->fetch_add(n); }

bool CallGate::JobDone(absl::string_view kind, JobResult& r, DoneBatch& batch) {
  bool over = r.outcome == JobOutcome::kSucceeded &&
              r.output.size() > ctx_.options->max_output_bytes;
  if (over) {
    r.outcome = JobOutcome::kFailed;
    r.error = absl::ResourceExhaustedError(absl::StrCat(
        "the job's output of ", r.output.size(),
        " bytes is over the server's limit of ", ctx_.options->max_output_bytes,
        " bytes (--max_output_bytes)"));
    std::string().swap(r.output);
    outputs_over_limit_.fetch_add(1, std::memory_order_relaxed);
  }
  ++batch.jobs;
  batch.output_bytes += r.output.size();
  ctx_.metrics->JobFinished(kind, r);
  // One sample a call (a compare per job): jobs that never started
  // (kind null) waited for nothing.
  if (r.index == 0 && r.kind != nullptr && ctx_.adaptive != nullptr) {
    ctx_.adaptive->Observe(r.queue_time, ctx_.admission->used(), absl::Now());
  }
  return over;
}

void CallGate::JobsDone(const DoneBatch& batch) {
  if (batch.jobs == 0) return;
  // The outputs' bytes in, the jobs' freed bytes out: one update, and a
  // release (which may wake waiting streams) only when it frees more.
  if (batch.output_bytes > batch.freed_bytes) {
    HoldBytes(batch.output_bytes - batch.freed_bytes);
  } else if (batch.freed_bytes > batch.output_bytes) {
    ReleaseBytes(batch.freed_bytes - batch.output_bytes);
  }
  ctx_.jobs_in_flight->fetch_sub(static_cast<int64_t>(batch.jobs));
}

BatchSummary CallGate::Summary(const BatchSummary& run) const {
  BatchSummary s = run;
  uint64_t over = outputs_over_limit_.load(std::memory_order_relaxed);
  over = std::min(over, s.counts[static_cast<int>(JobOutcome::kSucceeded)]);
  s.counts[static_cast<int>(JobOutcome::kSucceeded)] -= over;
  s.counts[static_cast<int>(JobOutcome::kFailed)] += over;
  return s;
}

void CallGate::Cancelled() { cancelled_.store(true); }

void CallGate::Register(std::shared_ptr<TaskGroup> run) {
  registry_id_ = ctx_.calls->Add(live_, std::move(run));
}

absl::Status CallGate::End(absl::Status status, const BatchSummary* summary,
                           const uint64_t* jobs_read) {
  if (status.ok() && cancelled_.load()) {
    // The client learns nothing from this status (gRPC already ended the
    // call for it); the count and the log say what happened.
    status = context_->deadline() <= std::chrono::system_clock::now()
                 ? absl::DeadlineExceededError("the client's deadline passed")
                 : absl::CancelledError("the client cancelled the call");
  }
  if (window_ > 0) ctx_.admission->Release(window_);
  window_ = 0;
  ReleaseRequest();
  if (registry_id_ != 0) ctx_.calls->Remove(registry_id_);
  registry_id_ = 0;
  absl::Duration took = absl::Now() - id().started;
  ctx_.metrics->CallHandled(id().method, static_cast<int>(status.code()), took);
  if (summary != nullptr) ctx_.metrics->BatchFinished(id().method, *summary);
  LogEnd(status, summary, jobs_read, took);
  return status;
}

void CallGate::LogEnd(const absl::Status& status, const BatchSummary* summary,
                      const uint64_t* jobs_read, absl::Duration took) const {
  const bool fault = IsServerFault(status.code());
  const LogLevel level = fault ? LogLevel::kWarn : LogLevel::kInfo;
  uint64_t unlogged = 0;
  if (!ctx_.logger->Enabled(level) ||
      (!fault && !ctx_.call_log->Admit(absl::Now(), &unlogged))) {
    return;
  }
  Logger::Fields f;
  f.reserve(20);  // Every field a line can have: no regrowth.
  f.push_back({"call_id", id().call_id});
  f.push_back({"method", std::string(MethodName(id().method))});
  f.push_back({"peer", id().peer});
  f.push_back({"code", absl::StatusCodeToString(status.code())});
  if (traceparent_) f.push_back({"traceparent", *traceparent_});
  if (summary != nullptr) {
    f.push_back({"jobs", absl::StrCat(summary->total)});
    f.push_back(
        {"succeeded", absl::StrCat(summary->count(JobOutcome::kSucceeded))});
    f.push_back({"failed", absl::StrCat(summary->count(JobOutcome::kFailed))});
    f.push_back(
        {"cancelled", absl::StrCat(summary->count(JobOutcome::kCancelled))});
    f.push_back({"deadline_exceeded",
                 absl::StrCat(summary->count(JobOutcome::kDeadlineExceeded))});
    f.push_back(
        {"rejected", absl::StrCat(summary->count(JobOutcome::kRejected))});
    f.push_back({"deadline_hit", summary->deadline_hit ? "true" : "false"});
    if (summary->cancel_cause != CancelCause::kNone) {
      f.push_back({"cancel_cause",
                   std::string(CancelCauseName(summary->cancel_cause))});
      f.push_back(
          {"cancel_reason", std::string(summary->cancel_reason.message().substr(
                                0, kMaxCancelReasonBytes))});
    }
  }
  if (deadline_ > absl::ZeroDuration()) {
    f.push_back(
        {"deadline_ms", absl::StrCat(absl::ToInt64Milliseconds(deadline_))});
  }
  if (deadline_capped_) f.push_back({"deadline_capped", "true"});
  if (jobs_read != nullptr) {
    f.push_back({"jobs_read", absl::StrCat(*jobs_read)});
  }
  f.push_back({"elapsed_ms", absl::StrCat(absl::ToDoubleMilliseconds(took))});
  if (!status.ok()) f.push_back({"error", std::string(status.message())});
  // Calls left out by --log_calls_per_second since the previous line.
  if (unlogged > 0) f.push_back({"unlogged_calls", absl::StrCat(unlogged)});
  ctx_.logger->Log(level, "call_finished", "", f);
}

}  // namespace jobgroup

// Process: jobs read from a client stream as they come, results streamed
// back as they finish (StreamingCall). Reading pauses while the call holds
// a full window of jobs, so HTTP/2 flow control slows the producer.
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "server/service/job_calls.h"
#include "server/service/result_stream.h"

namespace jobgroup {
namespace {

class ProcessCall final
    : public StreamingCall<
          grpc::ServerBidiReactor<v1::ProcessRequest, v1::ProcessResponse>,
          v1::ProcessResponse> {
 public:
  ProcessCall(const ServiceContext& ctx, grpc::CallbackServerContext* context)
      : StreamingCall(ctx, context, Method::kProcess) {}

  void Start() {
    if (absl::Status s = gate_.Authenticate(); !s.ok()) {
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
    gate_.ctx().metrics->MessagesReceived(Method::kProcess, 1);
    if (!EnsureRun()) return;
    const ServiceContext& ctx = gate_.ctx();
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
      gate_.AddJobs(added);
      bool taken = run_->AddJobs(added, [self](uint64_t index) {
        absl::MutexLock lock(&self->input_mu_);
        return std::shared_ptr<const JobSpec>(self->live_.at(index));
      });
      if (!taken) gate_.AddJobs(-static_cast<int64_t>(added));
    }
    {
      // Only now may another read reuse request_.
      absl::MutexLock lock(&input_mu_);
      read_outstanding_ = false;
    }
    ReadMoreIfRoom();
  }

  void OnCancel() override {
    gate_.Cancelled();
    if (run_) run_->Cancel(CancelCause::kClient);
  }
  void OnDone() override { delete this; }

 private:
  // Creates the run from the first message's options. False when the call
  // was refused (and finished).
  bool EnsureRun() {
    if (run_ || refused_) return !refused_;
    const ServiceContext& ctx = gate_.ctx();
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
      s = gate_.Admit(window_, 0);
    } else {
      CountInvalid(ctx, s);
    }
    if (!s.ok()) {
      refused_ = true;
      FailBeforeRun(s);
      return false;
    }
    options->deadline = gate_.Deadline();
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

grpc::ServerBidiReactor<v1::ProcessRequest, v1::ProcessResponse>*
StartProcessCall(const ServiceContext& ctx,
                 grpc::CallbackServerContext* context) {
  auto* call = new ProcessCall(ctx, context);
  call->Start();
  return call;
}

}  // namespace jobgroup

// StreamingCall: the write half shared by StreamBatch and Process. Results
// queue up as they finish and go out many to a message, one write at a
// time; a result frees its window slot only once written, so a client that
// reads slowly stops the call from starting more jobs. The summary goes in
// the last message, then the call finishes.
//
// Thread-safety: the sink's callbacks run on worker and timer threads,
// OnWriteDone on gRPC's; the write queue is guarded by mu_.
#ifndef JOBGROUP_SERVER_SERVICE_RESULT_STREAM_H_
#define JOBGROUP_SERVER_SERVICE_RESULT_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "jobgroup/v1/jobgroup.pb.h"
#include "server/core/batch_run.h"
#include "server/service/call_gate.h"
#include "server/service/proto_mapping.h"

namespace jobgroup {

// Results per stream message at most; more are sent in later messages.
inline constexpr int kResultsPerMessage = 1024;

template <class ReactorBase, class Response>
class StreamingCall : public ReactorBase {
 protected:
  StreamingCall(const ServiceContext& ctx, grpc::CallbackServerContext* context,
                Method method)
      : gate_(ctx, context, method), sink_(this) {}

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
      if (ok) gate_.ctx().metrics->MessagesSent(gate_.method(), 1);
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
    run_ = BatchRun::Create(gate_.ctx().dispatcher, options, &sink_);
    gate_.Register(run_);
  }

  void FailBeforeRun(const absl::Status& s) {
    this->Finish(ToGrpc(gate_.End(s, nullptr)));
  }

  CallGate gate_;
  std::shared_ptr<BatchRun> run_;

 private:
  class Sink : public ResultSink {
   public:
    explicit Sink(StreamingCall* call) : call_(call) {}
    bool OnResult(JobResult r) override {
      auto [kind, id] = call_->KindAndId(r);
      call_->gate_.JobDone(kind, r);
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
    this->Finish(ToGrpc(gate_.End(status, &summary)));
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
}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_RESULT_STREAM_H_

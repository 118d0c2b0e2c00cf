// StreamingCall: the write half shared by StreamBatch and Process. Results
// queue up as they finish and go out many to a message, one write at a
// time; a result frees its window slot only once written, so a client that
// reads slowly stops the call from starting more jobs. The summary goes in
// the last message, then the call finishes with the status EndStatus()
// gives.
//
// Messages are cut by size: at most kResultsPerMessage results and about
// kMessageBytes bytes (by ResultBytesAtMost(), an upper bound; at most half
// of --max_message_bytes), so never over the limit; a result larger than
// that goes alone.
// One result always fits a message, since --max_output_bytes is kept
// kMessageRoomBytes under the limit.
//
// Each result's output is held in the memory budget (CallGate::JobDone())
// until the message carrying it has been written; results never written
// (the client went away) are given back with the gate.
//
// Results wait as the core's JobResult and become protobuf messages only
// when their message is built, on a protobuf Arena of the stream's that is
// emptied once the message is written: a result costs no malloc of its own
// (nor do its durations), and a message's results are freed at once.
//
// Thread-safety: the sink's callbacks run on worker and timer threads,
// OnWriteDone on gRPC's; the write queue is guarded by mu_. One thread at a
// time is the writer (writing_), which alone builds and sends the message.
#ifndef JOBGROUP_SERVER_SERVICE_RESULT_STREAM_H_
#define JOBGROUP_SERVER_SERVICE_RESULT_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "google/protobuf/arena.h"
#include "jobgroup/v1/jobgroup.pb.h"
#include "server/core/task_group.h"
#include "server/service/arena_messages.h"
#include "server/service/call_gate.h"
#include "server/service/proto_mapping.h"

namespace jobgroup {

// Results per stream message at most; more are sent in later messages.
inline constexpr int kResultsPerMessage = 1024;
// Bytes per stream message, about: small enough for a client with gRPC's
// default 4 MiB receive limit, large enough that a message's cost is
// spread over many results.
inline constexpr uint64_t kMessageBytes = 1 << 20;

template <class ReactorBase, class Response>
class StreamingCall : public ReactorBase {
 protected:
  StreamingCall(const ServiceContext& ctx, grpc::CallbackServerContext* context,
                Method method)
      : gate_(ctx, context, method),
        message_bytes_(
            std::min(kMessageBytes, ctx.options->max_message_bytes / 2)),
        sink_(this),
        arena_(CallArenaOptions()) {}

  // Kind and id of the job of each of `results`, into `names` (as many),
  // for the result messages and metrics; adds to `freed` the bytes the call
  // held for those jobs until their results (given back by JobsDone(),
  // netted against the outputs they hold). One call per batch of results.
  virtual void NamesOf(absl::Span<const JobResult> results, JobName* names,
                       uint64_t* freed) = 0;
  // A written batch of results freed window slots.
  virtual void OnWindowFreed() {}
  // The run was cancelled (ResultSink::OnCancelled()). Any thread, no lock
  // held; must not block.
  virtual void OnRunCancelled(const Cancellation& why) {}
  // The status the call ends with once its summary is written; the jobs
  // the call read, for the summary and the log. Called once, from the
  // run's OnDone().
  virtual absl::Status EndStatus(const BatchSummary& summary) {
    return absl::OkStatus();
  }
  virtual uint64_t JobsRead(const BatchSummary& summary) {
    return summary.total;
  }
  // True for Process, whose log line names the jobs read.
  virtual bool LogsJobsRead() const { return false; }

  void OnWriteDone(bool ok) override {
    uint64_t written;
    uint64_t written_bytes;
    bool finish = false;
    bool start = false;
    {
      absl::MutexLock lock(&mu_);
      written = in_message_;
      written_bytes = in_message_output_bytes_;
      in_message_ = 0;
      in_message_output_bytes_ = 0;
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
    // The message is gone (or will never be sent): its outputs' bytes go
    // back to the budget.
    if (written_bytes > 0) gate_.ReleaseBytes(written_bytes);
    if (written > 0 && run_) run_->Ack(written);
    if (written > 0) OnWindowFreed();
    if (finish) return FinishCall();
    if (start) WriteMessage();
  }

  // Starts the run; `options` carry the deadline and observer already.
  void StartRun(const TaskGroup::Options& options) {
    policy_ = options.policy;
    run_ = TaskGroup::Create(gate_.ctx().executor, options, &sink_);
    gate_.Register(run_);
  }

  void FailBeforeRun(const absl::Status& s) {
    this->Finish(ToGrpc(gate_.End(s, nullptr)));
  }

  CallGate gate_;
  std::shared_ptr<TaskGroup> run_;

 private:
  struct Pending {
    JobResult result;
    std::string id;
    uint64_t bytes;  // ResultBytesAtMost(result, id).
  };

  class Sink : public ResultSink {
   public:
    explicit Sink(StreamingCall* call) : call_(call) {}
    bool OnResult(JobResult r) override {
      OnResults(absl::MakeSpan(&r, 1));
      return false;  // Acked once written.
    }
    // A batch of results: the shared counters and the call's lock once
    // for all of them.
    uint64_t OnResults(absl::Span<JobResult> results) override {
      CallGate::DoneBatch done;
      absl::InlinedVector<JobName, Lease::kMaxBatch> names(results.size());
      call_->NamesOf(results, names.data(), &done.freed_bytes);
      std::vector<Pending> ready;
      ready.reserve(results.size());
      for (size_t i = 0; i < results.size(); ++i) {
        JobResult& r = results[i];
        JobName& name = names[i];
        if (call_->gate_.JobDone(name.kind, r, done) &&
            call_->policy_ == FailurePolicy::kFailFast) {
          // The run counted it as a success: its failure cancels the others
          // here, as any failure does under FAIL_FAST.
          call_->run_->Cancel(CancelCause::kFailFast,
                              absl::CancelledError(absl::StrCat(
                                  "cancelled because job ", r.index,
                                  " failed: ", r.error.message())));
        }
        const uint64_t bytes = ResultBytesAtMost(r, name.id);
        ready.push_back(Pending{std::move(r), std::string(name.id), bytes});
        name = JobName();  // Its spec goes now, not with the batch.
      }
      call_->gate_.JobsDone(done);
      bool start;
      {
        absl::MutexLock lock(&call_->mu_);
        for (Pending& p : ready) call_->pending_.push_back(std::move(p));
        start = !call_->writing_ && !call_->broken_ && call_->PrepareLocked();
      }
      if (start) call_->WriteMessage();
      return 0;  // Acked once written.
    }
    void OnCancelled(const Cancellation& why) override {
      call_->OnRunCancelled(why);
    }
    void OnDone(const BatchSummary& run_summary) override {
      BatchSummary summary = call_->gate_.Summary(run_summary);
      absl::Status status = call_->EndStatus(summary);
      uint64_t jobs_read = call_->JobsRead(summary);
      bool start = false, finish = false;
      {
        absl::MutexLock lock(&call_->mu_);
        call_->summary_ = summary;
        call_->jobs_read_ = jobs_read;
        call_->end_status_ = status;
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
      if (start) call_->WriteMessage();
    }

   private:
    StreamingCall* const call_;
  };

  // Takes the pending results of the next message into to_write_ (and the
  // summary, when it is the last message), making the caller the writer.
  // Returns true when there is something to write; the caller then calls
  // WriteMessage() outside the lock.
  bool PrepareLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (pending_.empty() && !summary_ready_) return false;
    int n = 0;
    uint64_t bytes = 0;
    uint64_t output_bytes = 0;
    while (!pending_.empty() && n < kResultsPerMessage &&
           (n == 0 || bytes + pending_.front().bytes <= message_bytes_)) {
      bytes += pending_.front().bytes;
      // Held in the memory budget since CallGate::JobDone().
      output_bytes += pending_.front().result.output.size();
      to_write_.push_back(std::move(pending_.front()));
      pending_.pop_front();
      ++n;
    }
    in_message_ = n;
    in_message_output_bytes_ = output_bytes;
    write_summary_ = pending_.empty() && summary_ready_;
    if (write_summary_) {
      summary_to_write_ = summary_;
      jobs_read_to_write_ = jobs_read_;
      summary_sent_ = true;
    }
    writing_ = true;
    return true;
  }

  // The writer builds the message PrepareLocked() chose, on an emptied
  // arena (the last message was written), and starts its write.
  void WriteMessage() {
    arena_.Reset();
    message_ = google::protobuf::Arena::CreateMessage<Response>(&arena_);
    auto* results = message_->mutable_results();
    results->Reserve(static_cast<int>(to_write_.size()));
    for (Pending& p : to_write_) FillResult(p.result, p.id, results->Add());
    to_write_.clear();
    if (write_summary_) {
      gate_.FillSummary(summary_to_write_, jobs_read_to_write_,
                        message_->mutable_summary());
    }
    this->StartWrite(message_);
  }

  void FinishCall() {
    BatchSummary summary;
    absl::Status status;
    uint64_t jobs_read;
    {
      absl::MutexLock lock(&mu_);
      summary = summary_;
      jobs_read = jobs_read_;
      status =
          broken_ ? absl::CancelledError("the client went away") : end_status_;
    }
    status = gate_.End(status, &summary, LogsJobsRead() ? &jobs_read : nullptr);
    this->Finish(ToGrpc(status));
  }

  const uint64_t message_bytes_;  // Per message, about; see kMessageBytes.
  FailurePolicy policy_ = FailurePolicy::kFailFast;  // Set by StartRun().
  Sink sink_;
  absl::Mutex mu_;
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);
  // The writer's (see writing_): the next message's results and summary,
  // chosen by PrepareLocked(), and the message, on arena_, owned by gRPC
  // while its write is under way.
  std::vector<Pending> to_write_;
  bool write_summary_ = false;
  BatchSummary summary_to_write_;
  uint64_t jobs_read_to_write_ = 0;
  google::protobuf::Arena arena_;
  Response* message_ = nullptr;
  uint64_t in_message_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t in_message_output_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool summary_ready_ ABSL_GUARDED_BY(mu_) = false;
  bool summary_sent_ ABSL_GUARDED_BY(mu_) = false;
  BatchSummary summary_ ABSL_GUARDED_BY(mu_);
  uint64_t jobs_read_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status end_status_ ABSL_GUARDED_BY(mu_);
};
}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_RESULT_STREAM_H_

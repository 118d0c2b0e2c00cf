// Process: jobs read from a client stream as they come, results streamed
// back as they finish (StreamingCall). Reading pauses while the call holds
// a full window of jobs, so HTTP/2 flow control slows the producer.
//
// Messages are read raw (grpc::ByteBuffer) and parsed here: gRPC's typed
// reads report a message that does not parse (a string that is not UTF-8,
// say) exactly as they report the client's half-close, OnReadDone(false),
// which would take a bad message for the end of the input.
//
// How the call ends (see jobgroup.proto, Process): after the client's
// half-close, OK. When the server ends it first (fail-fast, deadline,
// drain, a message that does not parse), the call reads no more, the run
// ends once every job read has its outcome, the summary says how many jobs
// were read, and the status is not OK (EndStatus()).
//
// Bounded from its start: a stream whose first message has not come by
// --stream_idle_timeout (or by the call's deadline, when that is sooner)
// is ended DEADLINE_EXCEEDED, nothing run, and counted as `stream_idle`;
// once a message has come, the run's deadline (from the call's start, not
// from that message) ends it.
#include <grpcpp/alarm.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include <atomic>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "server/core/caller_runs.h"
#include "server/service/arena_messages.h"
#include "server/service/job_calls.h"
#include "server/service/result_stream.h"

namespace jobgroup {
namespace {

class ProcessCall final
    : public StreamingCall<
          grpc::ServerBidiReactor<grpc::ByteBuffer, v1::ProcessResponse>,
          v1::ProcessResponse> {
 public:
  ProcessCall(const ServiceContext& ctx, grpc::CallbackServerContext* context)
      : StreamingCall(ctx, context, Method::kProcess) {}

  void Start() {
    absl::Status s = gate_.Authenticate();
    if (s.ok()) s = gate_.CheckAdaptiveLimit();
    if (s.ok()) s = gate_.OpenStream();
    if (!s.ok()) {
      refused_ = true;  // Nothing is read.
      return FailBeforeRun(s);
    }
    {
      absl::MutexLock lock(&input_mu_);
      read_outstanding_ = true;
    }
    const absl::Duration idle = gate_.ctx().options->stream_idle_timeout;
    const absl::Time deadline = gate_.Deadline();
    idle_by_deadline_ = deadline < absl::Now() + idle;
    // The alarm's callback owns a reference until it has run (fired, or
    // cancelled by the first read or a cancellation).
    refs_.fetch_add(1);
    first_message_alarm_.Set(
        absl::ToChronoTime(std::min(deadline, absl::Now() + idle)),
        [this](bool fired) { OnFirstMessageAlarm(fired); });
    StartRead(&buffer_);
  }

  void OnReadDone(bool ok) override {
    if (!FirstReadDone()) return;  // The stream was ended for idling.
    if (!ok) {
      // Half-close (or the client is gone): no more jobs.
      if (!EnsureRun()) return;
      EndInput(InputEnd::kHalfClose);
      return;
    }
    gate_.ctx().metrics->MessagesReceived(Method::kProcess, 1);
    ++messages_read_;
    // The message's first quick jobs run on this thread (CallerRuns), the
    // rest on the workers, while the next message is read.
    CallerRuns caller_runs;
    TakeMessage();
  }

  void OnCancel() override {
    gate_.Cancelled();
    first_message_alarm_.Cancel();
    if (run_) run_->Cancel(CancelCause::kClient);
  }
  void OnDone() override { Unref(); }

 private:
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  // Takes the message in buffer_: reserves its parse, parses it and hands
  // its jobs to the run, or refuses it. Each message's parse is bounded like
  // a RunBatch request's: its shape is checked and its parsed size reserved
  // before it is parsed, until its jobs are made into specs. When the memory
  // budget has no room for it now, a stream whose run has started waits
  // (WaitForBytes(): no more is read meanwhile); a first message is refused
  // as a RunBatch request would be.
  void TakeMessage() {
    absl::StatusOr<bool> reserved =
        gate_.TryReserveRequest(buffer_, kJobsField);
    while (reserved.ok() && !*reserved) {
      if (!run_) {
        reserved = gate_.RefuseForMemoryInUse();
        break;
      }
      if (WaitForBytes(reserved)) return;
    }
    absl::Status fits = reserved.status();
    if (!fits.ok() || !Parse()) {
      absl::string_view after =
          messages_read_ == 1
              ? "nothing was run"
              : "the jobs of the messages before it have their outcomes, "
                "and no later message was read";
      absl::Status bad =
          fits.ok()
              ? absl::InvalidArgumentError(absl::StrCat(
                    "message ", messages_read_,
                    " of the stream is not a valid jobgroup.v1.ProcessRequest "
                    "(for example a string that is not UTF-8); ",
                    after))
              : absl::Status(fits.code(),
                             absl::StrCat("message ", messages_read_,
                                          " of the stream: ", fits.message(),
                                          "; ", after));
      if (auto field = fits.GetPayload(kBadRequestPayload)) {
        bad.SetPayload(kBadRequestPayload, *field);
      }
      buffer_.Clear();
      gate_.ReleaseRequest();
      if (!run_) {
        refused_ = true;
        // ReserveRequest() counted its own refusals.
        if (fits.ok()) CountInvalid(gate_.ctx(), bad);
        return FailBeforeRun(bad);
      }
      {
        absl::MutexLock lock(&input_mu_);
        unparseable_ = bad;
      }
      EndInput(InputEnd::kUnparseable);
      return;
    }
    if (!EnsureRun()) return;
    const ServiceContext& ctx = gate_.ctx();
    uint64_t added = 0;
    uint64_t held = 0;  // HeldBytes() of the specs, until their results.
    {
      absl::MutexLock lock(&input_mu_);
      if (input_closed_) {
        // The server ended the call while this message was on its way:
        // it is not read, and its jobs are among those the client learns
        // were not run.
        read_outstanding_ = false;
        return;
      }
      for (const v1::Job& job : request_->jobs()) {
        uint64_t index = next_index_++;
        absl::Status s = ctx.validator->ValidateJob(job, {index});
        if (s.ok()) s = CheckIdIsFree(job, index);
        std::shared_ptr<JobSpec> spec;
        if (s.ok()) {
          spec = ctx.validator->ToJobSpec(job, index, gate_.traceparent());
          live_ids_.emplace(spec->id, index);
        } else {
          // A bad job is REJECTED; the stream and the other jobs go on.
          spec = std::make_shared<JobSpec>();
          spec->id = job.id().empty() ? absl::StrCat(index) : job.id();
          spec->kind = ctx.kinds->Find(job.kind()) ? job.kind() : "";
          spec->rejected = s;
        }
        uint64_t bytes = HeldBytes(*spec);
        held += bytes;
        live_.emplace(index, LiveJob{std::move(spec), bytes});
        ++added;
      }
      // EndInput() waits for these jobs to be in the run before closing
      // its input.
      adding_ = added > 0;
    }
    // Held before the parse's reservation goes, and before any of these
    // jobs can finish and give its share back (CallGate::JobsDone()).
    if (held > 0) gate_.HoldBytes(held);
    if (added > 0) {
      ProcessCall* self = this;
      // Counted before they can finish; given back when the run has ended
      // and takes them no more.
      gate_.AddJobs(added);
      bool taken = run_->AddJobs(added, [self](uint64_t index) {
        absl::MutexLock lock(&self->input_mu_);
        return std::shared_ptr<const JobSpec>(self->live_.at(index).spec);
      });
      if (!taken) gate_.AddJobs(-static_cast<int64_t>(added));
    }
    // The jobs are specs now: the parsed message goes, and its reservation.
    request_arena_.Reset();
    request_ = NewRequest();
    gate_.ReleaseRequest();
    bool close = false;
    {
      // Only now may another read reuse buffer_ and request_.
      absl::MutexLock lock(&input_mu_);
      read_outstanding_ = false;
      adding_ = false;
      close = input_closed_ && close_when_added_;
    }
    if (close) return run_->CloseInput();
    ReadMoreIfRoom();
  }

  // buffer_ holds a message the memory budget has no room for now: waits
  // for bytes to come back (no more is read meanwhile), then takes it
  // (TakeMessage() again), or drops it when the input ends meanwhile
  // (DropWaitingMessage()). True when the message is left to the wait, or
  // dropped; false when `reserved` holds a new look at the budget to go on
  // with: bytes came back while the wait was being put in place.
  bool WaitForBytes(absl::StatusOr<bool>& reserved) {
    MemoryBudget& memory = *gate_.ctx().memory;
    refs_.fetch_add(1);  // The callback's, until it has run or is taken back.
    {
      // Under the lock, so that whoever ends the wait knows its id. The
      // callback only sets an alarm: it takes no lock of this call.
      absl::MutexLock lock(&input_mu_);
      wait_ = Wait::kArming;
      wait_id_ = memory.WhenReleased([this] { OnBytesReleased(); });
    }
    gate_.ctx().metrics->StreamPausedForMemory();
    // Look again now that the wait is in place (MemoryBudget's rule); a
    // reservation made here is kept for TakeMessage().
    reserved = gate_.TryReserveRequest(buffer_, kJobsField);
    const bool room = !reserved.ok() || *reserved;
    bool taken_back = false;
    bool drop = false;
    {
      absl::MutexLock lock(&input_mu_);
      if (wait_ == Wait::kArming && !room && !input_closed_) {
        wait_ = Wait::kWaiting;
        return true;
      }
      // Room now, the input ended, or the callback came already (kNone).
      if (wait_ == Wait::kArming) taken_back = memory.CancelWait(wait_id_);
      wait_ = Wait::kNone;
      drop = input_closed_;
    }
    if (taken_back) Unref();  // Else the callback's run unrefs.
    if (drop) {
      gate_.ReleaseRequest();
      DropMessage();
    }
    return drop;
  }

  // The budget gave bytes back while a message waits (WaitForBytes()). On
  // the releasing thread, which may hold another call's locks: hands the
  // message to a gRPC thread through an alarm of its own, deleted once run.
  void OnBytesReleased() {
    auto* alarm = new grpc::Alarm;
    alarm->Set(absl::ToChronoTime(absl::Now()), [this, alarm](bool) {
      ResumeAfterWait();
      delete alarm;
    });
  }

  void ResumeAfterWait() {
    bool ours, closed;
    {
      absl::MutexLock lock(&input_mu_);
      ours = wait_ == Wait::kWaiting;
      // kArming: WaitForBytes() sees the bytes came back, and looks again.
      wait_ = Wait::kNone;
      closed = input_closed_;
    }
    if (ours && closed) DropMessage();
    if (ours && !closed) TakeMessage();
    Unref();  // The callback's reference.
  }

  // The input ended (EndInput()): a message waiting for bytes is not read,
  // and its jobs are among those the client learns were not run.
  void DropWaitingMessage() {
    bool taken_back;
    {
      absl::MutexLock lock(&input_mu_);
      if (wait_ != Wait::kWaiting) return;  // kArming: WaitForBytes() drops.
      wait_ = Wait::kNone;
      taken_back = gate_.ctx().memory->CancelWait(wait_id_);
    }
    DropMessage();
    if (taken_back) Unref();  // Else the callback's run unrefs.
  }

  void DropMessage() {
    buffer_.Clear();
    absl::MutexLock lock(&input_mu_);
    read_outstanding_ = false;
  }

  // A read completed: the stream is no longer waiting for its first
  // message. False when the alarm ended the stream first: the read is
  // then ignored.
  bool FirstReadDone() {
    {
      absl::MutexLock lock(&input_mu_);
      if (ended_idle_) return false;
      if (first_read_done_) return true;
      first_read_done_ = true;
    }
    first_message_alarm_.Cancel();
    return true;
  }

  // The first-message alarm fired (`fired`) or was cancelled.
  void OnFirstMessageAlarm(bool fired) {
    bool end = false;
    if (fired) {
      absl::MutexLock lock(&input_mu_);
      end = !first_read_done_;
      ended_idle_ = end;
    }
    if (end) {
      refused_ = true;
      gate_.ctx().metrics->Rejected("stream_idle");
      absl::Duration idle = gate_.ctx().options->stream_idle_timeout;
      FailBeforeRun(absl::DeadlineExceededError(
          idle_by_deadline_
              ? std::string("the call's deadline passed before the stream's "
                            "first message; nothing was run")
              : absl::StrCat("the stream sent no message within ",
                             absl::FormatDuration(idle),
                             " of its start (--stream_idle_timeout); "
                             "nothing was run")));
    }
    Unref();
  }

  enum class InputEnd {
    kOpen,         // Still reading.
    kHalfClose,    // The client half-closed (or went away).
    kUnparseable,  // A message did not parse.
    kServerEnded,  // The run was cancelled with the input open.
  };

  static constexpr int kJobsField = 2;  // ProcessRequest.jobs

  v1::ProcessRequest* NewRequest() {
    return google::protobuf::Arena::CreateMessage<v1::ProcessRequest>(
        &request_arena_);
  }

  // Parses buffer_ into request_ (and empties buffer_).
  bool Parse() {
    return grpc::SerializationTraits<v1::ProcessRequest>::Deserialize(&buffer_,
                                                                      request_)
        .ok();
  }

  // Creates the run from the first message's options. False when the call
  // was refused (and finished).
  bool EnsureRun() {
    if (run_ || refused_) return !refused_;
    const ServiceContext& ctx = gate_.ctx();
    absl::StatusOr<TaskGroup::Options> options =
        ctx.validator->ToBatchOptions(request_->options());
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
    options->attempt_observer = ctx.metrics;
    StartRun(*options);
    return true;
  }

  // Ends the call's input for `why`: no more reads, and the run ends once
  // every job read has its outcome. The first end counts. When a read is
  // adding its jobs to the run right now, its OnReadDone() closes the run's
  // input once they are in, so that every job counted as read is run.
  void EndInput(InputEnd why) {
    {
      absl::MutexLock lock(&input_mu_);
      if (input_closed_) return;
      input_closed_ = true;
      input_end_ = why;
      if (adding_) {
        close_when_added_ = true;
        return;
      }
    }
    DropWaitingMessage();
    run_->CloseInput();
  }

  // The server ends the call at a cancellation (fail-fast, deadline,
  // drain) unless the input has ended already.
  void OnRunCancelled(const Cancellation& why) override {
    EndInput(InputEnd::kServerEnded);
  }

  absl::Status EndStatus(const BatchSummary& summary) override {
    InputEnd end;
    absl::Status unparseable;
    {
      absl::MutexLock lock(&input_mu_);
      if (!input_closed_) {
        // The run ended by itself with the input open (a core that ends a
        // cancelled run without waiting for CloseInput()): read no more.
        input_closed_ = true;
        input_end_ = InputEnd::kServerEnded;
      }
      end = input_end_;
      unparseable = unparseable_;
    }
    DropWaitingMessage();
    if (end == InputEnd::kHalfClose) return absl::OkStatus();
    if (end == InputEnd::kUnparseable) return unparseable;
    // The server ended the call before the client's half-close: the code
    // says why, so that the client knows what to do with the jobs not run.
    std::string read = absl::StrCat(
        "the server read ", summary.total,
        " jobs (summary.jobs_read), each has its outcome; the jobs sent "
        "after those were not run");
    switch (summary.cancel_cause) {
      case CancelCause::kFailFast:
        return absl::AbortedError(absl::StrCat(
            summary.failed_job_index.has_value()
                ? absl::StrCat("job ", *summary.failed_job_index, " failed")
                : std::string(summary.cancel_reason.message()),
            " under FAIL_FAST, so the server ended the call before its "
            "input did: ",
            read));
      case CancelCause::kDeadline:
        return absl::DeadlineExceededError(absl::StrCat(
            "the call's deadline passed with its input still open: ", read));
      case CancelCause::kDrain:
      case CancelCause::kShutdown:
        return absl::UnavailableError(
            absl::StrCat("the server is shutting down: ", read,
                         "; send them to another replica"));
      case CancelCause::kOperator:
        return absl::CancelledError(
            absl::StrCat(summary.cancel_reason.message(), ": ", read));
      case CancelCause::kClient:
      case CancelCause::kNone:
        break;
    }
    return absl::CancelledError(absl::StrCat("the call was cancelled: ", read));
  }

  bool LogsJobsRead() const override { return true; }

  // The duplicate-id error of job `index` when its id (its index when it
  // has none) is that of a job of this call whose result has not been
  // sent. Ids are checked among those jobs only: a stream has no end, and
  // remembering every id it ever carried would grow without bound, while
  // the jobs in flight are bounded by the window (live_). A result's id
  // then names one job among those the client is still waiting for.
  absl::Status CheckIdIsFree(const v1::Job& job, uint64_t index)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(input_mu_) {
    // The default id in AlphaNum's own buffer: no allocation per job.
    const absl::AlphaNum default_id(index);
    const absl::string_view id =
        job.id().empty() ? default_id.Piece() : absl::string_view(job.id());
    auto it = live_ids_.find(id);
    if (it == live_ids_.end()) return absl::OkStatus();
    if (job.id().empty()) {
      return InvalidField(
          absl::StrCat("jobs[", index, "].id"),
          absl::StrCat("no id given, and the default one, \"", index,
                       "\", is the id of jobs[", it->second,
                       "], whose result has not been sent; give this job an "
                       "id"));
    }
    return InvalidField(
        absl::StrCat("jobs[", index, "].id"),
        absl::StrCat("duplicate id ", Quote(job.id()), " (the id of jobs[",
                     it->second, "], whose result has not been sent)"));
  }

  // Reads the next message unless the call holds a full window of jobs
  // plus a small buffer: then HTTP/2 flow control slows the producer. At
  // most one read is outstanding, and buffer_ and request_ are reused only
  // after OnReadDone() has finished with them.
  void ReadMoreIfRoom() {
    {
      absl::MutexLock lock(&input_mu_);
      if (input_closed_ || read_outstanding_ || refused_) return;
      uint64_t held = run_->pending() + run_->in_window();
      if (held >= window_ + window_ / 4 + 16) return;  // Paused.
      read_outstanding_ = true;
    }
    StartRead(&buffer_);
  }

  void OnWindowFreed() override { ReadMoreIfRoom(); }

  void NamesOf(absl::Span<const JobResult> results, JobName* names,
               uint64_t* freed) override {
    absl::MutexLock lock(&input_mu_);
    for (const JobResult& r : results) {
      JobName& name = *names++;
      auto it = live_.find(r.index);
      if (it == live_.end()) continue;
      // The spec keeps its kind and id alive while the sink takes the
      // result.
      std::shared_ptr<JobSpec> spec = std::move(it->second.spec);
      *freed += it->second.held_bytes;
      // A rejected duplicate is not the owner of its id.
      if (auto id = live_ids_.find(spec->id);
          id != live_ids_.end() && id->second == r.index) {
        live_ids_.erase(id);
      }
      live_.erase(it);
      name = {spec->kind, spec->id, std::move(spec)};
    }
  }

  // The message being read, raw, and parsed. Used by one OnReadDone() at a
  // time (read_outstanding_).
  grpc::ByteBuffer buffer_;
  // request_ is on request_arena_, emptied once its jobs are specs: a
  // message's jobs and their strings cost no malloc each and go at once.
  google::protobuf::Arena request_arena_{CallArenaOptions()};
  v1::ProcessRequest* request_ = NewRequest();
  uint64_t messages_read_ = 0;  // By OnReadDone() only.
  bool refused_ = false;
  uint64_t window_ = 0;
  // The reactor is deleted when both gRPC (OnDone) and the first-message
  // alarm's callback are done with it.
  std::atomic<int> refs_{1};
  grpc::Alarm first_message_alarm_;
  bool idle_by_deadline_ = false;  // Set by Start() before the alarm.
  absl::Mutex input_mu_;
  bool first_read_done_ ABSL_GUARDED_BY(input_mu_) = false;
  // The alarm ended the stream before its first message.
  bool ended_idle_ ABSL_GUARDED_BY(input_mu_) = false;
  uint64_t next_index_ ABSL_GUARDED_BY(input_mu_) = 0;
  bool input_closed_ ABSL_GUARDED_BY(input_mu_) = false;
  InputEnd input_end_ ABSL_GUARDED_BY(input_mu_) = InputEnd::kOpen;
  bool read_outstanding_ ABSL_GUARDED_BY(input_mu_) = false;
  // A read message's wait for the memory budget (WaitForBytes()), by the
  // budget's callback wait_id_: being put in place, or in place. Whoever
  // moves it from kWaiting to kNone takes the message.
  enum class Wait { kNone, kArming, kWaiting };
  Wait wait_ ABSL_GUARDED_BY(input_mu_) = Wait::kNone;
  uint64_t wait_id_ ABSL_GUARDED_BY(input_mu_) = 0;
  // A read is handing its jobs to the run; EndInput() then leaves the
  // run's input to it (close_when_added_).
  bool adding_ ABSL_GUARDED_BY(input_mu_) = false;
  bool close_when_added_ ABSL_GUARDED_BY(input_mu_) = false;
  absl::Status unparseable_ ABSL_GUARDED_BY(input_mu_);  // kUnparseable.
  // A job received whose result has not been sent, and the bytes it holds
  // of the budget (HeldBytes() of its spec, counted once).
  struct LiveJob {
    std::shared_ptr<JobSpec> spec;
    uint64_t held_bytes;
  };
  absl::flat_hash_map<uint64_t, LiveJob> live_ ABSL_GUARDED_BY(input_mu_);
  // The ids of the jobs of live_ that were not rejected -> their index;
  // each key is the id held by its job's spec in live_.
  absl::flat_hash_map<absl::string_view, uint64_t> live_ids_
      ABSL_GUARDED_BY(input_mu_);
};
}  // namespace

grpc::ServerBidiReactor<grpc::ByteBuffer, v1::ProcessResponse>*
StartProcessCall(const ServiceContext& ctx,
                 grpc::CallbackServerContext* context) {
  auto* call = new ProcessCall(ctx, context);
  call->Start();
  return call;
}

}  // namespace jobgroup

// CallGate: what every job-running call (RunBatch, StreamBatch, Process)
// passes through and is accounted by: authentication, the request's shape
// and memory before it is parsed, validation of a whole batch, admission
// (drain, the in-flight limit, the adaptive limit), the call's effective
// deadline, the drain registry, the in-flight gauge, metrics and the one
// `call_finished` log line.
//
// One CallGate per call, owned by its reactor. Not thread-safe by itself:
// the reactor calls Accept*/Admit/Register before the call's jobs start and
// End() once after they have all ended; JobDone() and Cancelled() may run
// on any thread (they only touch atomics and thread-safe counters).
#ifndef JOBGROUP_SERVER_SERVICE_CALL_GATE_H_
#define JOBGROUP_SERVER_SERVICE_CALL_GATE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "grpcpp/support/byte_buffer.h"
#include "jobgroup/v1/jobgroup.pb.h"
#include "server/core/task_group.h"
#include "server/service/live_call.h"
#include "server/service/service_context.h"

namespace jobgroup {

// The window a call reserves on admission: the jobs it may hold at once.
uint64_t WindowOf(const TaskGroup::Options& o, uint64_t jobs);

// The value of metadata `key`, or empty when the client sent none (or more
// than one).
absl::string_view OneValue(const grpc::CallbackServerContext& context,
                           const char* key);

// Refuses the call unless it carries a valid bearer token, when tokens are
// configured (--auth_tokens_file). The one check every JobService call
// makes before anything else; counted as a rejection when it fails. Sets
// `token` (may be null) to the token's name (Authenticator::Identify()).
absl::Status Authenticate(const ServiceContext& ctx,
                          const grpc::CallbackServerContext& context,
                          std::string* token = nullptr);

// Counts a refused request in metrics.
void CountInvalid(const ServiceContext& ctx, const absl::Status& s);

// The specs of a whole batch's jobs (RunBatch, StreamBatch), in request
// order.
using JobSpecs = std::vector<std::shared_ptr<const JobSpec>>;

// RunAllJobs()
//
// Hands every job of a validated request to `run`, each made into its
// JobSpec in `specs` (with the call's `traceparent`, may be null), and
// closes its input. A request whose parse took `request_bytes` up to
// kSpecsFirstOverBytes is read as its jobs start (the first start at once,
// while later ones are still being made). A larger one is made into specs
// before any job starts, and then `drop_request` is called: the call need
// not hold the parsed request, about twice its specs' memory, until its
// last result (100,000 sleeps in one call peak at 115 MB, not 156). The
// run shares each spec when the job starts, and the caller may drop its own
// share once the job has its result. On the first path a job a cancelled
// run settles without starting has no spec (its request is still held);
// `specs`, and the request until `drop_request`, must outlive the run.
inline constexpr uint64_t kSpecsFirstOverBytes = 16 << 20;
void RunAllJobs(TaskGroup& run, const RequestValidator& validator,
                const google::protobuf::RepeatedPtrField<v1::Job>& jobs,
                const std::shared_ptr<const std::string>& traceparent,
                uint64_t request_bytes, JobSpecs* specs,
                absl::FunctionRef<void()> drop_request);

// The kind and id of a job whose result has come. `holder` keeps the two
// views alive while the sink takes the result (null when the call keeps
// them alive itself); the result then keeps a copy of the id only, so that
// a job's spec is not held past its result (its bytes are given back then).
struct JobName {
  absl::string_view kind;
  absl::string_view id;
  std::shared_ptr<const JobSpec> holder;
};

// TakeJobName()
//
// The name of job `index` of a batch that RunAllJobs() handed to its run,
// taking the call's share of the job's spec from `specs` into the name's
// holder. A job that a cancelled run settled before it started has no
// spec: its name then comes from `jobs`, the request, which RunAllJobs()
// keeps in that case (`jobs` may be null once the request is dropped).
JobName TakeJobName(JobSpecs& specs,
                    const google::protobuf::RepeatedPtrField<v1::Job>* jobs,
                    uint64_t index);

class CallGate {
 public:
  CallGate(const ServiceContext& ctx, grpc::CallbackServerContext* context,
           Method method);
  ~CallGate();  // The call is over (ServiceContext::open_calls).
  CallGate(const CallGate&) = delete;
  CallGate& operator=(const CallGate&) = delete;

  // The call's deadline for its jobs: the client's, less a margin so the
  // reply reaches the client in time, capped by --max_deadline; the server
  // default when the client set none. The margin is --deadline_margin plus
  // 2 µs per job (settling, encoding and sending each result), at most a
  // quarter of the budget. Remembered for the summary (FillSummary()) and
  // the log: the time it gives, and whether --max_deadline capped the
  // client's.
  absl::Time Deadline(uint64_t jobs = 0);

  // CallGate::FillSummary()
  //
  // jobgroup::FillSummary(), plus what the gate knows of the call: its id,
  // the time its jobs were given and whether that was capped.
  void FillSummary(const BatchSummary& s, uint64_t jobs_read,
                   v1::BatchSummary* out) const;

  // The call's id (call_id.h): the client's x-request-id, or a new one;
  // sent back in the initial metadata by the constructor.
  const std::string& call_id() const { return id().call_id; }
  // The client's W3C traceparent, or null.
  const std::shared_ptr<const std::string>& traceparent() const {
    return traceparent_;
  }

  // CallGate::ReadRequest()
  //
  // The first step of a call that brings all its jobs up front (RunBatch,
  // StreamBatch), whose request gRPC hands over unparsed: authenticates
  // from the metadata alone, then CheckAdaptiveLimit(), OpenStream() and
  // ReserveRequest(), then parses `raw` into `request` and empties `raw`.
  // The status to refuse the call with: UNAUTHENTICATED before a byte is
  // looked at, RESOURCE_EXHAUSTED past the adaptive limit or
  // --max_open_streams, INVALID_ARGUMENT naming
  // the field and the limit (or saying the bytes are not a `request`),
  // RESOURCE_EXHAUSTED for the memory budget.
  absl::Status ReadRequest(grpc::ByteBuffer& raw, int jobs_field,
                           google::protobuf::Message& request);

  // CallGate::ReserveRequest()
  //
  // Scans the unparsed `raw` (ScanJobsRequest()) and reserves the memory
  // its parse may take from the budget, held until ReleaseRequest() or
  // End(). INVALID_ARGUMENT when it is over a per-call limit;
  // RESOURCE_EXHAUSTED when it does not fit the budget (with the
  // retry hint unless it never could).
  absl::Status ReserveRequest(const grpc::ByteBuffer& raw, int jobs_field);
  // ReserveRequest() for a stream that can wait for bytes: false (nothing
  // counted, nothing reserved) when `raw` would fit the budget but not what
  // is left of it now; the other refusals as ReserveRequest().
  absl::StatusOr<bool> TryReserveRequest(const grpc::ByteBuffer& raw,
                                         int jobs_field);
  // Gives back what ReserveRequest() reserved.
  void ReleaseRequest();
  // The refusal of a request that would fit the budget but not what is
  // left of it now (TryReserveRequest() false): RESOURCE_EXHAUSTED with the
  // retry hint, counted as `memory_budget`.
  absl::Status RefuseForMemoryInUse();

  // CallGate::HoldBytes()
  //
  // Counts `bytes` the call holds (jobs a stream has read, outputs not yet
  // sent) in the server's memory budget until ReleaseBytes() or the
  // destructor. Never refused. Any thread.
  void HoldBytes(uint64_t bytes);
  void ReleaseBytes(uint64_t bytes);

  // The gate of a call that brings all its jobs up front, once
  // ReadRequest() has parsed them: validates the jobs and options, and
  // admits the call's window. Returns the run's options (deadline and
  // observer set) or the status to refuse the call with.
  absl::StatusOr<TaskGroup::Options> AcceptBatch(
      const google::protobuf::RepeatedPtrField<v1::Job>& jobs,
      const v1::BatchOptions& proto_options);

  // This call's Authenticate(): first thing in every job-running call.
  absl::Status Authenticate();

  // CallGate::CheckAdaptiveLimit()
  //
  // With --adaptive_limit, refuses the call when the jobs in flight are at
  // the adaptive limit now (AdaptiveLimit::Admits()): RESOURCE_EXHAUSTED
  // with the retry hint, counted as `adaptive_limit`. Right after
  // Authenticate(), before the request is parsed, so that a refusal costs
  // the server as little as it can. OK without the flag, and while
  // draining (Admit() then refuses, naming the drain).
  absl::Status CheckAdaptiveLimit();

  // CallGate::OpenStream()
  //
  // Takes one of the server's open-stream slots (--max_open_streams) for
  // the call's lifetime (given back by the destructor). RESOURCE_EXHAUSTED
  // with the retry hint, counted as `open_streams`, when every
  // slot is taken. Once per call, after Authenticate().
  absl::Status OpenStream();

  // Refuses calls while draining (UNAVAILABLE) or past the admission limit
  // (RESOURCE_EXHAUSTED with the retry hint; FAILED_PRECONDITION, no hint,
  // when `window` is over the limit itself: it could never be admitted);
  // otherwise reserves `window` jobs and `jobs` in the in-flight gauge.
  absl::Status Admit(uint64_t window, uint64_t jobs);
  // Adds `n` (which may be negative) to the in-flight gauge.
  void AddJobs(int64_t n);

  // What JobDone() leaves to JobsDone() for a batch of results: the
  // in-flight gauge and the memory budget are updated once per batch, not
  // per job (shared counters, which the threads running a big call would
  // otherwise take turns at).
  struct DoneBatch {
    uint64_t jobs = 0;
    uint64_t output_bytes = 0;  // Held from now on.
    // Given back: bytes the call held for the jobs until now (a stream's
    // read specs), netted against their outputs in the same update.
    uint64_t freed_bytes = 0;
  };
  // CallGate::JobDone()
  //
  // One job of kind `kind` ended with `r`: bounds its output, adds it to
  // `batch` (its output's bytes to hold, a stream gives them back once the
  // result is written) and puts it into metrics. A SUCCEEDED result whose
  // output is over --max_output_bytes becomes FAILED (RESOURCE_EXHAUSTED
  // naming the size and the limit, the output dropped); JobDone() then
  // returns true, and Summary() counts it as failed. Any thread.
  // The call's first job (index 0), if it started, is the adaptive limit's
  // sample of the call: the time it waited for a permit and a worker.
  bool JobDone(absl::string_view kind, JobResult& r, DoneBatch& batch);
  // CallGate::JobsDone()
  //
  // Holds and gives back the bytes of `batch` and takes its jobs off the
  // gauge: once after every batch of JobDone()s.
  void JobsDone(const DoneBatch& batch);

  // CallGate::Summary()
  //
  // `run`'s summary with the results JobDone() turned into failures counted
  // as failed. Call once every JobDone() has returned.
  BatchSummary Summary(const BatchSummary& run) const;

  // CallGate::Cancelled()
  //
  // gRPC cancelled the call (the reactor's OnCancel): the client cancelled
  // it, went away or let its deadline pass. End() then counts an OK ending
  // as CANCELLED (DEADLINE_EXCEEDED when the client's deadline has passed).
  // Any thread.
  void Cancelled();

  // Puts the call's run in the drain registry until End().
  void Register(std::shared_ptr<TaskGroup> run);

  // CallGate::End()
  //
  // The call ended with `status`; `summary` is null when no job ran, and
  // `jobs_read` is the jobs a Process call read (null for the others).
  // Gives back the admitted window and the request's memory (what the call
  // holds goes with the gate, when the reply is gone), leaves the
  // registry, counts and logs.
  // Returns the status the call was counted and logged with, which the
  // reactor must finish with: `status`, unless gRPC cancelled the call
  // (Cancelled()) and `status` is OK.
  absl::Status End(absl::Status status, const BatchSummary* summary,
                   const uint64_t* jobs_read = nullptr);

  const ServiceContext& ctx() const { return ctx_; }
  Method method() const { return id().method; }
  // What the admin API shows of the call.
  const std::shared_ptr<LiveCall>& live() const { return live_; }

 private:
  // Adds the retry hint of a refusal that may succeed later to the
  // trailers: grpc-retry-pushback-ms and retry-after-ms, 250 ms.
  void PushBack();
  // The call_finished line (at WARN for server faults; sampled by
  // --log_calls_per_second otherwise).
  void LogEnd(const absl::Status& status, const BatchSummary* summary,
              const uint64_t* jobs_read, absl::Duration took) const;

  // The call's id, method, peer and start, which the admin API shows too.
  const LiveCall::Identity& id() const { return live_->id(); }

  const ServiceContext& ctx_;
  grpc::CallbackServerContext* const context_;
  const std::shared_ptr<LiveCall> live_;
  // Set by the constructor only; null when the client sent none (or one
  // that is not well-formed).
  std::shared_ptr<const std::string> traceparent_;
  // What the last Deadline() gave the jobs, from the start; zero before.
  absl::Duration deadline_ = absl::ZeroDuration();
  bool deadline_capped_ = false;
  uint64_t window_ = 0;
  uint64_t registry_id_ = 0;
  // Reserved from ctx_.memory; atomic as a stream's read may reserve while
  // End() gives back.
  std::atomic<uint64_t> request_bytes_{0};
  std::atomic<uint64_t> held_bytes_{0};  // HoldBytes(), in ctx_.memory.
  bool stream_open_ = false;             // Holds a slot of ctx_.streams.
  std::atomic<bool> cancelled_{false};
  // Results JobDone() turned into failures (rare: no cost per job).
  std::atomic<uint64_t> outputs_over_limit_{0};
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_CALL_GATE_H_

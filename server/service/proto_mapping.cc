#include "server/service/proto_mapping.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/any.pb.h"
#include "google/rpc/status.pb.h"
#include "server/service/validation.h"

namespace jobgroup {

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  auto code = static_cast<grpc::StatusCode>(s.code());
  std::string message(s.message());
  auto bad_request = s.GetPayload(kBadRequestPayload);
  if (!bad_request.has_value()) return grpc::Status(code, message);
  // The payload is the serialized google.rpc.BadRequest itself.
  google::rpc::Status details;
  details.set_code(static_cast<int>(s.code()));
  details.set_message(message);
  google::protobuf::Any* any = details.add_details();
  any->set_type_url(std::string(kBadRequestPayload));
  any->set_value(std::string(*bad_request));
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

void FillSummary(const BatchSummary& s, uint64_t jobs_read,
                 v1::BatchSummary* out) {
  out->set_total(s.total);
  out->set_jobs_read(jobs_read);
  out->set_succeeded(s.count(JobOutcome::kSucceeded));
  out->set_failed(s.count(JobOutcome::kFailed));
  out->set_cancelled(s.count(JobOutcome::kCancelled));
  out->set_deadline_exceeded(s.count(JobOutcome::kDeadlineExceeded));
  out->set_rejected(s.count(JobOutcome::kRejected));
  SetDuration(s.elapsed, out->mutable_elapsed());
  out->set_deadline_hit(s.deadline_hit);
  out->set_cancel_cause(ToProto(s.cancel_cause));
  if (s.cancel_cause != CancelCause::kNone) {
    out->set_cancel_reason(std::string(
        s.cancel_reason.message().substr(0, kMaxCancelReasonBytes)));
  }
}

v1::CancelCause ToProto(CancelCause cause) {
  switch (cause) {
    case CancelCause::kNone:
      return v1::CANCEL_CAUSE_UNSPECIFIED;
    case CancelCause::kClient:
      return v1::CANCEL_CAUSE_CLIENT;
    case CancelCause::kFailFast:
      return v1::CANCEL_CAUSE_FAIL_FAST;
    case CancelCause::kDeadline:
      return v1::CANCEL_CAUSE_DEADLINE;
    case CancelCause::kDrain:
      return v1::CANCEL_CAUSE_DRAIN;
    case CancelCause::kShutdown:
      return v1::CANCEL_CAUSE_SHUTDOWN;
    case CancelCause::kOperator:
      return v1::CANCEL_CAUSE_OPERATOR;
  }
  return v1::CANCEL_CAUSE_UNSPECIFIED;
}
}  // namespace jobgroup

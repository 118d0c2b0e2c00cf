// Implementation of RequestValidator.
#include "server/service/validation.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/time_util.h"

namespace jobgroup {
namespace {

// The longest prefix of `s` of at most `n` bytes that ends at a UTF-8
// character boundary.
absl::string_view Utf8Prefix(absl::string_view s, size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// `s` cut to at most `n` bytes; a cut one says so, with its length.
std::string Bounded(absl::string_view s, size_t n) {
  if (s.size() <= n) return std::string(s);
  return absl::StrCat(Utf8Prefix(s, n - 32), "… (", s.size(), " bytes)");
}

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return InvalidField(field, what);
}

// The error of a kind's ParamValidator for the job at `field`. By the kind
// API's convention (job_kind.h) its message is "params.NAME: WHAT"; a
// validator may also name the field itself with a BadRequest payload.
absl::Status KindParamError(absl::string_view field, const absl::Status& s) {
  if (!absl::IsInvalidArgument(s)) {
    return absl::Status(
        s.code(),
        absl::StrCat(field, ": ", Bounded(s.message(), kMaxDescriptionBytes)));
  }
  if (std::optional<google::rpc::BadRequest> bad = BadRequestOf(s);
      bad.has_value() && bad->field_violations_size() > 0) {
    const auto& v = bad->field_violations(0);
    return Invalid(absl::StrCat(field, ".", v.field()), v.description());
  }
  absl::string_view message = s.message();
  size_t colon = message.find(": ");
  if (absl::StartsWith(message, "params.") && colon != message.npos) {
    return Invalid(absl::StrCat(field, ".", message.substr(0, colon)),
                   message.substr(colon + 2));
  }
  return Invalid(field, message);
}

absl::StatusOr<absl::Duration> ToDuration(const google::protobuf::Duration& d,
                                          absl::string_view field) {
  if (d.seconds() < 0 || d.nanos() < 0 || d.nanos() > 999'999'999 ||
      d.seconds() > 315'576'000'000LL) {
    return Invalid(field, "must be a non-negative duration");
  }
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

}  // namespace

std::string Quote(absl::string_view value) {
  if (value.size() <= kQuotedPrefixBytes)
    return absl::StrCat("\"", value, "\"");
  return absl::StrCat("\"", Utf8Prefix(value, kQuotedPrefixBytes), "…\" (",
                      value.size(), " bytes)");
}

absl::Status InvalidField(absl::string_view field_in,
                          absl::string_view what_in) {
  const std::string field = Bounded(field_in, kMaxFieldBytes);
  const std::string what = Bounded(what_in, kMaxDescriptionBytes);
  absl::Status s = absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
  google::rpc::BadRequest bad;
  google::rpc::BadRequest::FieldViolation* v = bad.add_field_violations();
  v->set_field(std::string(field));
  v->set_description(std::string(what));
  s.SetPayload(kBadRequestPayload, absl::Cord(bad.SerializeAsString()));
  return s;
}

std::optional<google::rpc::BadRequest> BadRequestOf(const absl::Status& s) {
  auto payload = s.GetPayload(kBadRequestPayload);
  if (!payload.has_value()) return std::nullopt;
  google::rpc::BadRequest bad;
  if (!bad.ParseFromString(std::string(*payload))) return std::nullopt;
  return bad;
}

absl::Status RequestValidator::ValidateJobs(
    const google::protobuf::RepeatedPtrField<v1::Job>& jobs) const {
  if (jobs.empty()) return Invalid("jobs", "at least one job is required");
  if (static_cast<uint64_t>(jobs.size()) > options_->max_jobs_per_call) {
    return Invalid("jobs",
                   absl::StrCat(jobs.size(), " jobs is over the limit of ",
                                options_->max_jobs_per_call,
                                " per call; split the batch"));
  }
  absl::flat_hash_map<absl::string_view, int> ids;
  ids.reserve(jobs.size());
  for (int i = 0; i < jobs.size(); ++i) {
    const v1::Job& job = jobs[i];
    absl::Status s = ValidateJob(job, {static_cast<uint64_t>(i)});
    if (!s.ok()) return s;
    if (!job.id().empty()) {
      auto [it, inserted] = ids.emplace(job.id(), i);
      if (!inserted) {
        return Invalid(absl::StrCat("jobs[", i, "].id"),
                       absl::StrCat("duplicate id ", Quote(job.id()),
                                    " (also jobs[", it->second, "].id)"));
      }
    }
  }
  // A job without an id has its index for id: an explicit id equal to it
  // would give two results one id.
  for (int i = 0; i < jobs.size(); ++i) {
    if (!jobs[i].id().empty()) continue;
    auto it = ids.find(absl::StrCat(i));
    if (it != ids.end()) {
      return Invalid(
          absl::StrCat("jobs[", it->second, "].id"),
          absl::StrCat("duplicate id \"", i, "\" (the default id of jobs[", i,
                       "], which has no id)"));
    }
  }
  return absl::OkStatus();
}

std::string RequestValidator::JobPath::Name() const {
  return fallback < 0
             ? absl::StrCat("jobs[", index, "]")
             : absl::StrCat("jobs[", index, "].fallbacks[", fallback, "]");
}

absl::Status RequestValidator::ValidateJob(const v1::Job& job,
                                           JobPath path) const {
  if (job.kind().empty()) {
    return Invalid(absl::StrCat(path.Name(), ".kind"), "is required");
  }
  if (job.kind().size() > options_->max_kind_bytes) {
    return Invalid(
        absl::StrCat(path.Name(), ".kind"),
        absl::StrCat(job.kind().size(), " bytes is over the limit of ",
                     options_->max_kind_bytes));
  }
  if (job.backend().size() > options_->max_backend_bytes) {
    return Invalid(
        absl::StrCat(path.Name(), ".backend"),
        absl::StrCat(job.backend().size(), " bytes is over the limit of ",
                     options_->max_backend_bytes));
  }
  if (job.id().size() > options_->max_id_bytes) {
    return Invalid(absl::StrCat(path.Name(), ".id"),
                   absl::StrCat(job.id().size(), " bytes is over the limit of ",
                                options_->max_id_bytes));
  }
  const JobKind* kind = kinds_->Find(job.kind());
  if (kind == nullptr) {
    std::vector<std::string> names;
    for (const JobKind* k : kinds_->List()) names.push_back(k->info.name);
    return Invalid(absl::StrCat(path.Name(), ".kind"),
                   absl::StrCat("unknown kind ", Quote(job.kind()),
                                " (known: ", absl::StrJoin(names, ", "), ")"));
  }
  if (!job.backend().empty() && backends_->Find(job.backend()) == nullptr) {
    std::vector<std::string> names;
    for (const Semaphore* b : backends_->List()) names.push_back(b->name());
    return Invalid(
        absl::StrCat(path.Name(), ".backend"),
        absl::StrCat("unknown backend ", Quote(job.backend()),
                     " (configured: ", absl::StrJoin(names, ", "), ")"));
  }
  if (!job.backend().empty() && kind_backends_ != nullptr &&
      !kind_backends_->Allows(kind, backends_->Find(job.backend()))) {
    return Invalid(
        absl::StrCat(path.Name(), ".backend"),
        absl::StrCat("jobs of kind ", Quote(job.kind()),
                     " may not use backend ", Quote(job.backend()),
                     " (allowed: ",
                     absl::StrJoin(kind_backends_->AllowedNames(kind), ", "),
                     "; the operator decides with --kind_backends)"));
  }
  if (job.payload().size() > options_->max_payload_bytes) {
    return Invalid(
        absl::StrCat(path.Name(), ".payload"),
        absl::StrCat(job.payload().size(), " bytes is over the limit of ",
                     options_->max_payload_bytes));
  }
  if (static_cast<uint64_t>(job.params().size()) > options_->max_params) {
    return Invalid(
        absl::StrCat(path.Name(), ".params"),
        absl::StrCat(job.params().size(), " params is over the limit of ",
                     options_->max_params));
  }
  for (const auto& [k, v] : job.params()) {
    if (k.size() + v.size() > options_->max_param_bytes) {
      return Invalid(absl::StrCat(path.Name(), ".params.", k.substr(0, 64)),
                     absl::StrCat("over the limit of ",
                                  options_->max_param_bytes, " bytes"));
    }
  }
  if (job.has_timeout()) {
    auto d = ToDuration(job.timeout(), absl::StrCat(path.Name(), ".timeout"));
    if (!d.ok()) return d.status();
    if (*d <= absl::ZeroDuration()) {
      return Invalid(absl::StrCat(path.Name(), ".timeout"),
                     "must be positive when set");
    }
  }
  if (job.fallbacks_size() > 0) {
    if (path.fallback >= 0) {
      return Invalid(absl::StrCat(path.Name(), ".fallbacks"),
                     "a fallback cannot have fallbacks of its own");
    }
    if (static_cast<uint32_t>(job.fallbacks_size()) > options_->max_fallbacks) {
      return Invalid(
          absl::StrCat(path.Name(), ".fallbacks"),
          absl::StrCat(job.fallbacks_size(), " fallbacks is over the limit of ",
                       options_->max_fallbacks));
    }
    for (int k = 0; k < job.fallbacks_size(); ++k) {
      absl::Status s = ValidateJob(job.fallbacks(k), JobPath{path.index, k});
      if (!s.ok()) return s;
    }
  }
  if (kind->validate) {
    JobSpec spec;
    spec.kind = job.kind();
    for (const auto& [k, v] : job.params()) spec.params.emplace_back(k, v);
    absl::Status s = kind->validate(spec);
    if (!s.ok()) return KindParamError(path.Name(), s);
  }
  return absl::OkStatus();
}

absl::StatusOr<TaskGroup::Options> RequestValidator::ToBatchOptions(
    const v1::BatchOptions& o) const {
  TaskGroup::Options out;
  out.batch_size = o.batch_size();
  if (o.max_concurrency() > options_->max_concurrency) {
    return Invalid(
        "options.max_concurrency",
        absl::StrCat(o.max_concurrency(), " is over the server's limit of ",
                     options_->max_concurrency));
  }
  out.max_concurrency = o.max_concurrency();
  switch (o.failure_policy()) {
    case v1::FAILURE_POLICY_UNSPECIFIED:
    case v1::FAILURE_POLICY_FAIL_FAST:
      out.policy = FailurePolicy::kFailFast;
      break;
    case v1::FAILURE_POLICY_COLLECT_ALL:
      out.policy = FailurePolicy::kCollectAll;
      break;
    default:
      return Invalid("options.failure_policy",
                     absl::StrCat("unknown value ", o.failure_policy()));
  }
  switch (o.fallback_mode()) {
    case v1::FALLBACK_MODE_UNSPECIFIED:
    case v1::FALLBACK_MODE_SEQUENTIAL:
      out.fallback_mode = FallbackMode::kSequential;
      break;
    case v1::FALLBACK_MODE_RACE:
      out.fallback_mode = FallbackMode::kRace;
      break;
    default:
      return Invalid("options.fallback_mode",
                     absl::StrCat("unknown value ", o.fallback_mode()));
  }
  if (o.has_retry()) {
    const v1::RetryPolicy& r = o.retry();
    if (r.max_attempts() > options_->max_attempts) {
      return Invalid("options.retry.max_attempts",
                     absl::StrCat(r.max_attempts(), " is over the limit of ",
                                  options_->max_attempts));
    }
    out.retry.max_attempts = std::max<uint32_t>(r.max_attempts(), 1);
    if (r.has_initial_backoff()) {
      auto d = ToDuration(r.initial_backoff(), "options.retry.initial_backoff");
      if (!d.ok()) return d.status();
      out.retry.initial_backoff = *d;
    }
    if (r.has_max_backoff()) {
      auto d = ToDuration(r.max_backoff(), "options.retry.max_backoff");
      if (!d.ok()) return d.status();
      out.retry.max_backoff = *d;
    }
    // Written so that NaN is refused too.
    if (!(r.backoff_multiplier() >= 0 && r.backoff_multiplier() <= 100)) {
      return Invalid("options.retry.backoff_multiplier",
                     "must be in [0, 100] (0 means 2)");
    }
    out.retry.multiplier =
        r.backoff_multiplier() > 0 ? r.backoff_multiplier() : 2.0;
    if (!(r.jitter() >= 0 && r.jitter() <= 1)) {
      return Invalid("options.retry.jitter", "must be in [0, 1]");
    }
    out.retry.jitter = r.jitter();
    out.retry.timeout_ends_job = r.timeout_ends_job();
  }
  return out;
}

void RequestValidator::Resolve(const v1::Job& job, JobSpec& spec) const {
  spec.resolved_kind = kinds_->Find(job.kind());
  spec.resolved_backend = backends_->Find(
      job.backend().empty() ? spec.resolved_kind->info.backend : job.backend());
}

std::shared_ptr<JobSpec> RequestValidator::ToJobSpec(
    const v1::Job& job, uint64_t index,
    const std::shared_ptr<const std::string>& traceparent) const {
  auto spec = std::make_shared<JobSpec>();
  spec->traceparent = traceparent;
  spec->id = job.id().empty() ? absl::StrCat(index) : job.id();
  spec->kind = job.kind();
  spec->payload = job.payload();
  spec->backend = job.backend();
  if (!job.params().empty()) {
    spec->params.reserve(job.params().size());
    for (const auto& [k, v] : job.params()) spec->params.emplace_back(k, v);
  }
  if (job.has_timeout()) {
    spec->timeout = absl::Seconds(job.timeout().seconds()) +
                    absl::Nanoseconds(job.timeout().nanos());
  }
  Resolve(job, *spec);
  for (const v1::Job& f : job.fallbacks()) {
    std::shared_ptr<JobSpec> fs = ToJobSpec(f, index, traceparent);
    spec->fallbacks.push_back(std::move(*fs));
  }
  return spec;
}

}  // namespace jobgroup

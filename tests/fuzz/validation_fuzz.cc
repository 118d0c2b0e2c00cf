// libFuzzer target: request validation. Any bytes are parsed as a
// RunBatchRequest; validation must answer OK or a clear INVALID_ARGUMENT
// naming a field, never crash, and every request it accepts must convert
// to JobSpecs with their kind and backend resolved.
#include <cstddef>
#include <cstdint>

#include "jobgroup/v1/jobgroup.pb.h"
#include "server/core/backends.h"
#include "server/core/job_kind.h"
#include "server/kinds/builtin_kinds.h"
#include "server/service/server_options.h"
#include "server/service/validation.h"

namespace {

struct Env {
  Env() {
    options.max_jobs_per_call = 1000;
    options.max_payload_bytes = 4096;
    options.max_concurrency = 500;
    (void)backends.Add({"local", 1000});
    (void)backends.Add({"cpu", 2});
    (void)backends.Add({"db", 10});
    (void)jobgroup::RegisterBuiltinKinds(kinds);
  }
  jobgroup::ServerOptions options;
  jobgroup::BackendSet backends;
  jobgroup::KindRegistry kinds;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Env* env = new Env;
  static jobgroup::RequestValidator* validator = new jobgroup::RequestValidator(
      &env->options, &env->kinds, &env->backends);
  jobgroup::v1::RunBatchRequest req;
  if (!req.ParseFromArray(data, static_cast<int>(size))) return 0;
  absl::Status s = validator->ValidateJobs(req.jobs());
  if (s.ok()) {
    auto options = validator->ToBatchOptions(req.options());
    if (!options.ok() && !absl::IsInvalidArgument(options.status())) {
      __builtin_trap();
    }
    for (int i = 0; i < req.jobs_size(); ++i) {
      auto spec = validator->ToJobSpec(req.jobs(i), i);
      if (spec->resolved_kind == nullptr || spec->resolved_backend == nullptr) {
        __builtin_trap();  // Accepted but unresolved.
      }
      for (const auto& f : spec->fallbacks) {
        if (f.resolved_kind == nullptr || f.resolved_backend == nullptr) {
          __builtin_trap();
        }
      }
    }
  } else if (!absl::IsInvalidArgument(s) || s.message().empty() ||
             s.message().find(':') == absl::string_view::npos) {
    __builtin_trap();  // Errors must be INVALID_ARGUMENT naming a field.
  }
  return 0;
}

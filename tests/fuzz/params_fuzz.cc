// libFuzzer target: job param parsing. Arbitrary params go through every
// built-in kind's validator and IntParam; errors must be INVALID_ARGUMENT
// naming "params.<name>", and accepted values must be in range.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "server/core/job.h"
#include "server/core/job_kind.h"
#include "server/kinds/builtin_kinds.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static jobgroup::KindRegistry* kinds = [] {
    auto* k = new jobgroup::KindRegistry;
    (void)jobgroup::RegisterBuiltinKinds(*k);
    return k;
  }();
  // Input: key \0 value \0 key \0 value ...
  std::string in(reinterpret_cast<const char*>(data), size);
  jobgroup::JobSpec job;
  size_t pos = 0;
  while (pos < in.size() && job.params.size() < 8) {
    size_t k_end = in.find('\0', pos);
    if (k_end == std::string::npos) k_end = in.size();
    size_t v_end = k_end < in.size() ? in.find('\0', k_end + 1) : in.size();
    if (v_end == std::string::npos) v_end = in.size();
    std::string key = in.substr(pos, k_end - pos);
    std::string value =
        k_end < in.size() ? in.substr(k_end + 1, v_end - k_end - 1) : "";
    job.params.emplace_back(key, value);
    pos = v_end + 1;
  }
  for (const jobgroup::JobKind* kind : kinds->List()) {
    if (!kind->validate) continue;
    absl::Status s = kind->validate(job);
    if (!s.ok() && (!absl::IsInvalidArgument(s) ||
                    !absl::StartsWith(s.message(), "params."))) {
      __builtin_trap();
    }
  }
  for (const char* name : {"ms", "rounds"}) {
    auto v = jobgroup::IntParam(job, name, 7, 0, 1000);
    if (v.ok() && (*v < 0 || *v > 1000)) __builtin_trap();
    if (!v.ok() && !absl::StartsWith(v.status().message(),
                                     std::string("params.") + name)) {
      __builtin_trap();
    }
  }
  return 0;
}

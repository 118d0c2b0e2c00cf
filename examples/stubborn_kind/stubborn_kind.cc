// Implementation of the stubborn kind.
#include "examples/stubborn_kind/stubborn_kind.h"

#include <string>

#include "absl/time/clock.h"
#include "server/kinds/builtin_kinds.h"

namespace jobgroup::examples {

absl::Status RegisterStubbornKind(KindRegistry& registry) {
  return registry.Register(
      {"stubborn", "local",
       "Blocks its worker for params.ms milliseconds, ignoring cancellation "
       "(a test of a badly behaved handler)."},
      [](JobContext& ctx) -> absl::StatusOr<std::string> {
        int64_t ms = *IntParam(ctx.job(), "ms", 0, 0, 600'000);
        absl::SleepFor(absl::Milliseconds(ms));  // Deliberately deaf.
        return std::string("done");
      },
      [](const JobSpec& job) {
        return IntParam(job, "ms", 0, 0, 600'000).status();
      });
}

}  // namespace jobgroup::examples

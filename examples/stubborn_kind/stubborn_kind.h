// The `stubborn` job kind: an example of a badly behaved synchronous
// handler, kept to prove that one cannot wedge the server. It blocks its
// worker thread for params.ms milliseconds and ignores cancellation. Its job
// still gets its outcome at the deadline; the worker shows as abandoned in
// jobgroup_handlers_abandoned until the handler returns, and it does not
// hold shutdown past --drain_timeout.
#ifndef JOBGROUP_EXAMPLES_STUBBORN_KIND_STUBBORN_KIND_H_
#define JOBGROUP_EXAMPLES_STUBBORN_KIND_STUBBORN_KIND_H_

#include "absl/status/status.h"
#include "server/core/job_kind.h"

namespace jobgroup::examples {

// Registers `stubborn` (backend "local").
absl::Status RegisterStubbornKind(KindRegistry& registry);

}  // namespace jobgroup::examples

#endif  // JOBGROUP_EXAMPLES_STUBBORN_KIND_STUBBORN_KIND_H_

// The `occupancy` job kind: an example of a kind registered from outside the
// built-ins, and a probe for backend limits.
//
// An occupancy job enters its backend, counts how many occupancy jobs are
// inside the same backend at that moment (itself included), parks for
// params.ms milliseconds (no thread held; cancellation stops it at once),
// and returns the count it saw as its output (decimal). The largest output
// of a batch is the most jobs that were ever inside the backend together —
// counted from inside the handlers, not from the server's own bookkeeping.
#ifndef JOBGROUP_EXAMPLES_OCCUPANCY_KIND_OCCUPANCY_KIND_H_
#define JOBGROUP_EXAMPLES_OCCUPANCY_KIND_OCCUPANCY_KIND_H_

#include "absl/status/status.h"
#include "server/core/job_kind.h"

namespace jobgroup::examples {

// Registers `occupancy` (default backend "local").
absl::Status RegisterOccupancyKind(KindRegistry& registry);

}  // namespace jobgroup::examples

#endif  // JOBGROUP_EXAMPLES_OCCUPANCY_KIND_OCCUPANCY_KIND_H_

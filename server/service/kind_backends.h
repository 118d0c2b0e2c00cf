// KindBackends: which backends the jobs of each kind may name
// (--kind_backends), so that an operator who reserves a backend for a kind
// (--backend=cpu=1 for compute) is not bypassed by a job naming another.
//
// A kind with an entry (`--kind_backends=sleep:db,local`) may name exactly
// the backends listed. A kind without one may name its own backend and the
// backends configured with --backend; never another kind's built-in
// backend (compute may not name `local`, echo may not name `cpu`, unless
// --backend configures them). A job that names no backend uses its kind's
// own, always allowed.
//
// Built once at start-up, read-only afterwards: thread-safe.
#ifndef JOBGROUP_SERVER_SERVICE_KIND_BACKENDS_H_
#define JOBGROUP_SERVER_SERVICE_KIND_BACKENDS_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/backends.h"
#include "server/core/job_kind.h"
#include "server/core/semaphore.h"

namespace jobgroup {

// One --kind_backends entry: KIND:BACKEND[,BACKEND...].
struct KindBackendsSpec {
  std::string kind;
  std::vector<std::string> backends;
};

// Parses the values of --kind_backends as split at commas (flags repeat,
// and each value is a comma-separated list): a part "KIND:BACKEND" starts
// an entry, and a part without ':' adds a backend to the entry before it,
// so "sleep:db,local,compute:cpu" is two entries. INVALID_ARGUMENT naming
// the part when one is empty, or a backend comes before any kind.
absl::StatusOr<std::vector<KindBackendsSpec>> ParseKindBackends(
    const std::vector<std::string>& parts);

class KindBackends {
 public:
  // KindBackends::Create()
  //
  // The rule for every kind of `kinds`: `specs` for the kinds they name,
  // the default for the others (`configured`: the names given with
  // --backend). INVALID_ARGUMENT when a spec names an unknown kind or
  // backend, or a kind twice.
  static absl::StatusOr<KindBackends> Create(
      const KindRegistry& kinds, const BackendSet& backends,
      const std::vector<std::string>& configured,
      const std::vector<KindBackendsSpec>& specs);

  // True when jobs of `kind` may run on `backend`.
  bool Allows(const JobKind* kind, const Semaphore* backend) const;
  // The backends `kind` may name, sorted, for an error message.
  std::vector<std::string> AllowedNames(const JobKind* kind) const;

 private:
  absl::flat_hash_map<const JobKind*, absl::flat_hash_set<const Semaphore*>>
      allowed_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_KIND_BACKENDS_H_

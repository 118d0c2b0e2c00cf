// BackendSet: the named backend resources (database, CPU, ...) and the
// semaphore that caps the jobs inside each.
//
// Filled before the server starts (Add) and read-only afterwards; reads are
// then thread-safe, and the semaphores themselves are thread-safe.
#ifndef JOBGROUP_SERVER_CORE_BACKENDS_H_
#define JOBGROUP_SERVER_CORE_BACKENDS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/last_hit.h"
#include "server/core/semaphore.h"

namespace jobgroup {

struct BackendSpec {
  std::string name;
  int64_t capacity = 0;
};

// Parses "NAME=CAPACITY" (CAPACITY a positive integer); errors name the text.
absl::StatusOr<BackendSpec> ParseBackendSpec(absl::string_view text);

class BackendSet {
 public:
  BackendSet() = default;
  BackendSet(const BackendSet&) = delete;
  BackendSet& operator=(const BackendSet&) = delete;

  // BackendSet::Add()
  //
  // Adds a backend, or changes the capacity of one not yet used.
  absl::Status Add(const BackendSpec& spec);

  // The backend named `name`, or nullptr.
  Semaphore* Find(absl::string_view name) const;
  // Every backend, sorted by name.
  std::vector<Semaphore*> List() const;

 private:
  // The table's id for FindRememberingLastHit() (last_hit.h); a new one
  // when Add() replaces a backend.
  uint64_t id_ = NewTableId();
  absl::flat_hash_map<std::string, std::unique_ptr<Semaphore>> backends_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_BACKENDS_H_

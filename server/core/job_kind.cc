// Implementation of KindRegistry.
#include "server/core/job_kind.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"

namespace jobgroup {

namespace {
std::atomic<uint64_t> next_registry_id{1};
}  // namespace

KindRegistry::KindRegistry() : id_(next_registry_id.fetch_add(1)) {}

absl::Status KindRegistry::Register(KindInfo info, SyncHandler handler,
                                    ParamValidator validate) {
  if (!handler) return absl::InvalidArgumentError("kind handler is empty");
  auto kind = std::make_unique<JobKind>();
  kind->info = std::move(info);
  kind->sync = std::move(handler);
  kind->validate = std::move(validate);
  return Add(std::move(kind));
}

absl::Status KindRegistry::RegisterAsync(KindInfo info, AsyncHandler handler,
                                         ParamValidator validate) {
  if (!handler) return absl::InvalidArgumentError("kind handler is empty");
  auto kind = std::make_unique<JobKind>();
  kind->info = std::move(info);
  kind->async = std::move(handler);
  kind->validate = std::move(validate);
  return Add(std::move(kind));
}

absl::Status KindRegistry::Add(std::unique_ptr<JobKind> kind) {
  const std::string& name = kind->info.name;
  if (name.empty()) return absl::InvalidArgumentError("kind name is empty");
  if (kind->info.backend.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("kind ", name, ": backend is empty"));
  }
  if (kinds_.contains(name)) {
    return absl::AlreadyExistsError(
        absl::StrCat("kind ", name, " is already registered"));
  }
  kinds_.emplace(name, std::move(kind));
  return absl::OkStatus();
}

const JobKind* KindRegistry::Find(absl::string_view name) const {
  // A call names one or two kinds for all its jobs, and each job is looked
  // up more than once: each thread remembers its last hit, which a compare
  // of the name confirms for less than the hash costs. Kinds are never
  // removed, so a hit stays valid as long as its registry lives.
  struct LastHit {
    uint64_t registry = 0;
    const JobKind* kind = nullptr;
  };
  thread_local LastHit last;
  if (last.registry == id_ && last.kind->info.name == name) return last.kind;
  auto it = kinds_.find(name);
  if (it == kinds_.end()) return nullptr;
  last = {id_, it->second.get()};
  return last.kind;
}

std::vector<const JobKind*> KindRegistry::List() const {
  std::vector<const JobKind*> out;
  for (const auto& [name, kind] : kinds_) out.push_back(kind.get());
  std::sort(out.begin(), out.end(), [](const JobKind* a, const JobKind* b) {
    return a->info.name < b->info.name;
  });
  return out;
}

}  // namespace jobgroup

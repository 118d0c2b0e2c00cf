// Implementation of KindRegistry.
#include "server/core/job_kind.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/core/last_hit.h"

namespace jobgroup {

KindRegistry::KindRegistry() : id_(NewTableId()) {}

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
  // Kinds are never removed.
  return FindRememberingLastHit<const JobKind>(
      kinds_, id_, name,
      [](const JobKind& k) -> const std::string& { return k.info.name; });
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

#include "server/service/kind_backends.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace jobgroup {

absl::StatusOr<std::vector<KindBackendsSpec>> ParseKindBackends(
    const std::vector<std::string>& parts) {
  auto bad = [](absl::string_view part, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--kind_backends: \"", part, "\": ", why,
        " (expected KIND:BACKEND[,BACKEND...], e.g. sleep:db,local)"));
  };
  std::vector<KindBackendsSpec> specs;
  for (absl::string_view part : parts) {
    absl::string_view backend = absl::StripAsciiWhitespace(part);
    if (size_t colon = part.find(':'); colon != absl::string_view::npos) {
      KindBackendsSpec spec;
      spec.kind =
          std::string(absl::StripAsciiWhitespace(part.substr(0, colon)));
      if (spec.kind.empty()) return bad(part, "no kind before ':'");
      specs.push_back(std::move(spec));
      backend = absl::StripAsciiWhitespace(part.substr(colon + 1));
    } else if (specs.empty()) {
      return bad(part, "a backend before any KIND:");
    }
    if (backend.empty()) return bad(part, "an empty backend name");
    specs.back().backends.emplace_back(backend);
  }
  return specs;
}

absl::StatusOr<KindBackends> KindBackends::Create(
    const KindRegistry& kinds, const BackendSet& backends,
    const std::vector<std::string>& configured,
    const std::vector<KindBackendsSpec>& specs) {
  KindBackends out;
  for (const KindBackendsSpec& spec : specs) {
    const JobKind* kind = kinds.Find(spec.kind);
    if (kind == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--kind_backends names kind \"", spec.kind, "\", which is unknown"));
    }
    if (out.allowed_.contains(kind)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--kind_backends names kind \"", spec.kind, "\" twice"));
    }
    absl::flat_hash_set<const Semaphore*>& set = out.allowed_[kind];
    for (const std::string& name : spec.backends) {
      const Semaphore* b = backends.Find(name);
      if (b == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--kind_backends=", spec.kind, ":... names backend \"", name,
            "\", which is not configured (add --backend=", name, "=N)"));
      }
      set.insert(b);
    }
  }
  for (const JobKind* kind : kinds.List()) {
    if (out.allowed_.contains(kind)) continue;
    absl::flat_hash_set<const Semaphore*>& set = out.allowed_[kind];
    if (const Semaphore* own = backends.Find(kind->info.backend)) {
      set.insert(own);
    }
    for (const std::string& name : configured) {
      if (const Semaphore* b = backends.Find(name)) set.insert(b);
    }
  }
  return out;
}

bool KindBackends::Allows(const JobKind* kind, const Semaphore* backend) const {
  auto it = allowed_.find(kind);
  return it != allowed_.end() && it->second.contains(backend);
}

std::vector<std::string> KindBackends::AllowedNames(const JobKind* kind) const {
  std::vector<std::string> names;
  auto it = allowed_.find(kind);
  if (it == allowed_.end()) return names;
  for (const Semaphore* b : it->second) names.push_back(b->name());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace jobgroup

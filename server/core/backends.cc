// Implementation of BackendSet.
#include "server/core/backends.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace jobgroup {

absl::StatusOr<BackendSpec> ParseBackendSpec(absl::string_view text) {
  size_t eq = text.rfind('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("backend \"", text, "\": want NAME=CAPACITY, e.g. db=10"));
  }
  BackendSpec spec;
  spec.name = std::string(text.substr(0, eq));
  if (!absl::SimpleAtoi(text.substr(eq + 1), &spec.capacity) ||
      spec.capacity <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "backend \"", text, "\": capacity must be a positive integer"));
  }
  for (char c : spec.name) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
          c == '.' || c == ':')) {
      return absl::InvalidArgumentError(absl::StrCat(
          "backend \"", text, "\": name may hold letters, digits and _-.:"));
    }
  }
  return spec;
}

absl::Status BackendSet::Add(const BackendSpec& spec) {
  if (spec.name.empty() || spec.capacity <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("backend ", spec.name, ": bad name or capacity"));
  }
  auto& backend = backends_[spec.name];
  // A replaced backend's lookups remembered by threads are forgotten.
  if (backend != nullptr) id_ = NewTableId();
  backend = std::make_unique<Semaphore>(spec.name, spec.capacity);
  return absl::OkStatus();
}

Semaphore* BackendSet::Find(absl::string_view name) const {
  return FindRememberingLastHit<Semaphore>(
      backends_, id_, name,
      [](const Semaphore& s) -> const std::string& { return s.name(); });
}

std::vector<Semaphore*> BackendSet::List() const {
  std::vector<Semaphore*> out;
  for (const auto& [name, sem] : backends_) out.push_back(sem.get());
  std::sort(out.begin(), out.end(),
            [](Semaphore* a, Semaphore* b) { return a->name() < b->name(); });
  return out;
}

}  // namespace jobgroup

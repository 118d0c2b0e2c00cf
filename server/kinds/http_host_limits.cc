// Implementation of HttpHostLimits.
#include "server/kinds/http_host_limits.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace jobgroup {

HttpHostLimits::HttpHostLimits(int64_t per_host,
                               std::map<std::string, int64_t> overrides,
                               size_t max_hosts)
    : per_host_(per_host),
      overrides_(std::move(overrides)),
      max_hosts_(max_hosts) {}

int64_t HttpHostLimits::CapacityOf(absl::string_view host) const {
  auto it = overrides_.find(std::string(host));
  return it == overrides_.end() ? per_host_ : it->second;
}

std::shared_ptr<Semaphore> HttpHostLimits::For(absl::string_view host) {
  MutexLock lock(&mu_);
  auto it = hosts_.find(host);
  if (it != hosts_.end()) return it->second;
  if (hosts_.size() >= max_hosts_) DropIdleLocked();
  auto sem = std::make_shared<Semaphore>(absl::StrCat("http:", host),
                                         CapacityOf(host));
  hosts_.emplace(std::string(host), sem);
  return sem;
}

void HttpHostLimits::DropIdleLocked() {
  // use_count() == 1: only the map holds it, so nobody holds or waits for
  // a permit, and nobody can get hold of it without mu_.
  absl::erase_if(
      hosts_, [](const auto& entry) { return entry.second.use_count() == 1; });
}

std::vector<std::shared_ptr<Semaphore>> HttpHostLimits::List() const {
  std::vector<std::shared_ptr<Semaphore>> out;
  {
    MutexLock lock(&mu_);
    for (const auto& [host, sem] : hosts_) out.push_back(sem);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a->name() < b->name(); });
  return out;
}

}  // namespace jobgroup

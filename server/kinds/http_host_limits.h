// HttpHostLimits: one semaphore per host, "http:HOST", capping the http
// requests in flight to that host (--http_max_per_host, or the host's own
// --http_host_limit=HOST=N).
//
// Semaphores are made on first use. Hosts are bounded by --http_allow, but
// a wildcard pattern lets in any number of names, so once more than
// `max_hosts` semaphores exist, the idle ones (held by nobody: no permit in
// use, no waiter) are dropped. A caller keeps the shared_ptr for as long as
// it holds or waits for a permit, which is what keeps a busy semaphore from
// being dropped and replaced by a second one for the same host.
//
// Thread-safe.
#ifndef JOBGROUP_SERVER_KINDS_HTTP_HOST_LIMITS_H_
#define JOBGROUP_SERVER_KINDS_HTTP_HOST_LIMITS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "server/core/mutex.h"
#include "server/core/semaphore.h"

namespace jobgroup {

class HttpHostLimits {
 public:
  // `overrides` maps host names (as NormalizeHost() spells them) to their
  // capacity; every capacity must be > 0.
  HttpHostLimits(int64_t per_host, std::map<std::string, int64_t> overrides,
                 size_t max_hosts = 4096);
  HttpHostLimits(const HttpHostLimits&) = delete;
  HttpHostLimits& operator=(const HttpHostLimits&) = delete;

  // HttpHostLimits::For()
  //
  // The semaphore of `host` (normalized), made now if there is none.
  std::shared_ptr<Semaphore> For(absl::string_view host);

  // The capacity a semaphore for `host` has or would have.
  int64_t CapacityOf(absl::string_view host) const;

  // Every semaphore that exists now, sorted by name.
  std::vector<std::shared_ptr<Semaphore>> List() const;

 private:
  // Drops semaphores nobody holds.
  void DropIdleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int64_t per_host_;
  const std::map<std::string, int64_t> overrides_;
  const size_t max_hosts_;
  mutable Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Semaphore>> hosts_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_KINDS_HTTP_HOST_LIMITS_H_

// The http job kind: one HTTP request per job, made on libcurl's multi
// interface by HttpClient's single I/O thread, so a request in flight holds
// no worker thread. Params and checks: http_params.h; output: http_output.h;
// who may be reached: host_policy.h; the story: docs/HTTP_KIND.md.
//
// One attempt of a job:
//  1. The core grants a permit of the job's backend, "http" (capacity
//     --http_max_inflight), and starts the handler on a worker.
//  2. The handler reserves the job's max_response_bytes of the response
//     body budget (--http_max_body_bytes, all jobs together), waiting
//     without a thread while it does not fit; the reservation is also held
//     against the server's memory budget, and kept until the attempt ends.
//     Then it asks for a permit of the URL host's own semaphore,
//     "http:HOST" (HttpHostLimits), without blocking: it parks as a waiter
//     (Semaphore::AcquireOrWait) and the worker returns at once.
//  3. With the host permit, the request goes to the I/O thread, with the
//     job's remaining time (JobContext::deadline()) as its timeout. The
//     host permit comes back when the transfer ends.
//  4. A redirect, when the job follows them, is checked against the policy
//     and goes back to step 2 for the new host (at most 5 hops).
//  5. The status decides: in `accept` -> SUCCEEDED with the JSON output.
//     Otherwise the job FAILS, and the call's retry policy retries it: 5xx
//     are UNAVAILABLE, 429 RESOURCE_EXHAUSTED, other codes
//     FAILED_PRECONDITION, connection errors UNAVAILABLE, addresses the
//     policy refuses PERMISSION_DENIED, time out DEADLINE_EXCEEDED.
//     A 429 or 503 carrying Retry-After is first waited out (parked on the
//     timer, holding the "http" permit but no host permit and no thread),
//     when the wait ends before the deadline and is no longer than
//     max_retry_after_ms; then the attempt fails, and the core's backoff
//     adds its own wait before the retry. A longer Retry-After fails at once
//     and says so.
// Cancellation (ctx->OnCancel) at any step: a wait for body bytes or a
// parked host waiter is withdrawn (CancelWait), a transfer is aborted on the
// I/O thread (its connection closed), a Retry-After wait is dropped; the host
// permit comes back and the handler finishes at once. The body bytes come back
// when the attempt's exchange is freed, just after it finishes.
//
// HttpKind is thread-safe. It must outlive every job it runs: the registered
// handler holds a shared_ptr to it, so the KindRegistry keeps it alive.
#ifndef JOBGROUP_SERVER_KINDS_HTTP_KIND_H_
#define JOBGROUP_SERVER_KINDS_HTTP_KIND_H_

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/core/backends.h"
#include "server/core/job_kind.h"
#include "server/core/memory_budget.h"
#include "server/kinds/host_policy.h"
#include "server/kinds/http_client.h"
#include "server/kinds/http_host_limits.h"
#include "server/kinds/http_options.h"

namespace jobgroup {

inline constexpr char kHttpKindName[] = "http";
inline constexpr char kHttpBackendName[] = "http";

class HttpKind : public std::enable_shared_from_this<HttpKind> {
 public:
  // HttpKind::Create()
  //
  // Checks `options` (INVALID_ARGUMENT naming the flag) and starts the
  // I/O thread. `server_memory` (may be null; must outlive the kind) is the
  // server's memory budget: response bodies in flight are counted in it.
  static absl::StatusOr<std::shared_ptr<HttpKind>> Create(
      HttpOptions options, MemoryBudget* server_memory = nullptr);

  // HttpKind::Register()
  //
  // Adds backend "http" with capacity max_inflight, unless `backends`
  // already has one (a --backend=http=N wins), and registers kind "http"
  // with its ParamValidator. Before the server starts.
  absl::Status Register(KindRegistry& kinds, BackendSet& backends);

  // HttpKind::Validate()
  //
  // The kind's ParamValidator: INVALID_ARGUMENT naming "params.<name>".
  absl::Status Validate(const JobSpec& job) const;

  const HttpOptions& options() const { return options_; }
  const HostPolicy& policy() const { return policy_; }
  HttpClient& client() { return *client_; }
  HttpHostLimits& host_limits() { return host_limits_; }
  // Response body bytes reserved by the jobs in flight, against
  // options().max_body_bytes.
  MemoryBudget& body_bytes() { return body_bytes_; }
  MemoryBudget* server_memory() const { return server_memory_; }

  HttpKind(HttpOptions options, HostPolicy policy, MemoryBudget* server_memory);
  HttpKind(const HttpKind&) = delete;
  HttpKind& operator=(const HttpKind&) = delete;

 private:
  // The async handler.
  void Run(std::shared_ptr<JobContext> ctx);

  const HttpOptions options_;
  const HostPolicy policy_;
  HttpHostLimits host_limits_;
  MemoryBudget body_bytes_;
  MemoryBudget* const server_memory_;
  std::unique_ptr<HttpClient> client_;
};

// RegisterHttpKind()
//
// HttpKind::Create() and Register() in one: what jobgroupd calls.
absl::Status RegisterHttpKind(KindRegistry& kinds, BackendSet& backends,
                              const HttpOptions& options,
                              MemoryBudget* server_memory = nullptr);

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_KINDS_HTTP_KIND_H_

// ServerProcess: a real jobgroupd started for a test on a free loopback
// port, with a stub to call it, its thread count, and a clean stop.
#ifndef JOBGROUP_TESTS_INTEGRATION_SERVER_PROCESS_H_
#define JOBGROUP_TESTS_INTEGRATION_SERVER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "jobgroup/v1/jobgroup.grpc.pb.h"

namespace jobgroup::testing {

class ServerProcess {
 public:
  // Starts `binary` with `args` plus --listen/--metrics_listen on 127.0.0.1
  // port 0; waits until it logs its ports. Fails the test on error.
  ServerProcess(std::string binary, std::vector<std::string> args);
  ~ServerProcess();  // SIGKILL if still running.

  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  pid_t pid() const { return pid_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }

  std::shared_ptr<grpc::Channel> NewChannel() const;
  std::unique_ptr<v1::JobService::Stub> NewStub() const;

  // Threads of the server process now (from /proc).
  int Threads() const;
  // Resident memory in bytes (from /proc).
  long RssBytes() const;
  // Everything the server wrote to stderr so far.
  std::string Log() const;
  // The server's /metrics page now (curl on the metrics port); empty when
  // it does not answer.
  std::string Metrics() const;
  // The value of the series `series` (its name and labels, as exposed:
  // `jobgroup_rejected_total{reason="memory_budget"}`) on /metrics now; -1
  // when it is not there.
  double MetricValue(const std::string& series) const;

  // Sends `sig`, waits up to `timeout_s` for exit; returns the exit code,
  // or -1 when it did not exit (it is then killed).
  int Stop(int sig, double timeout_s = 15);

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  int metrics_port_ = 0;
  std::string log_path_;
};

// True when this test (and so the server, built with the same flags) runs
// under AddressSanitizer, whose quarantine and redzones make resident
// memory meaningless: memory bounds are checked in the plain build only.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kUnderAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kUnderAsan = true;
#else
inline constexpr bool kUnderAsan = false;
#endif
#else
inline constexpr bool kUnderAsan = false;
#endif

// A job of `kind` with `params`.
v1::Job MakeJob(const std::string& kind,
                std::vector<std::pair<std::string, std::string>> params = {},
                const std::string& backend = "");

// Sets a client deadline `ms` from now.
void SetDeadlineMs(grpc::ClientContext* ctx, int ms);

// Polls GetServerInfo until the server holds at least `jobs` jobs in
// flight (Limits.inflight_jobs), for up to `timeout_ms`; false if it never
// did. For a test that must act while its call runs: it waits for the call
// to be there instead of sleeping and hoping. `bearer_token`, when not
// empty, is sent as the authorization.
bool WaitForInflightJobs(v1::JobService::Stub& stub, uint64_t jobs,
                         int timeout_ms = 20000,
                         const std::string& bearer_token = "");

}  // namespace jobgroup::testing

#endif  // JOBGROUP_TESTS_INTEGRATION_SERVER_PROCESS_H_

// How the jobgroup CLI shows results: JSON Lines of JobResults, the summary
// table of a batch, and the server description of `jobgroup info`.
// ResultTally is not thread-safe (one thread feeds it); the functions are
// stateless and thread-safe.
#ifndef JOBGROUP_CLIENT_RESULT_OUTPUT_H_
#define JOBGROUP_CLIENT_RESULT_OUTPUT_H_

#include <array>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "jobgroup/v1/jobgroup.pb.h"

namespace jobgroup::client {

// ResultTally counts results by outcome as they arrive and keeps a few of the
// jobs that did not succeed, failures first, to show in the summary.
class ResultTally {
 public:
  // ResultTally::Add() counts one result.
  void Add(const jobgroup::v1::JobResult& result);

  uint64_t received() const { return received_; }
  // ResultTally::counts() is the results received, by JobOutcome value.
  const std::array<uint64_t, 6>& counts() const { return counts_; }
  uint64_t not_succeeded() const { return received_ - succeeded_; }
  // ResultTally::Examples() returns up to `limit` results that did not
  // succeed: FAILED first, then DEADLINE_EXCEEDED, REJECTED, CANCELLED.
  std::vector<jobgroup::v1::JobResult> Examples(size_t limit) const;

 private:
  static constexpr size_t kKeptPerOutcome = 10;
  uint64_t received_ = 0;
  uint64_t succeeded_ = 0;
  std::array<uint64_t, 6> counts_{};
  // Indexed by JobOutcome value.
  std::vector<jobgroup::v1::JobResult> kept_[6];
};

// OutcomeName() is the short name of an outcome: "SUCCEEDED", "FAILED",
// "CANCELLED", "DEADLINE_EXCEEDED", "REJECTED".
std::string OutcomeName(jobgroup::v1::JobOutcome outcome);

// What the summary table shows.
struct RunReport {
  jobgroup::v1::BatchSummary summary;
  // Wall time of the call as the client saw it.
  absl::Duration client_elapsed;
  // Which deadline applied, for people (DescribeDeadline()).
  std::string deadline;
  // When some jobs were not run (process ended early by the server), what
  // to say about them: "40000 sent but not run, 43008 never sent".
  std::string not_run;
  // Results that arrived; differs from summary.total only if the server broke
  // its promise of one result per job.
  uint64_t results_received = 0;
  std::vector<jobgroup::v1::JobResult> examples;
  // Jobs that did not succeed, for "(first 10 of N)".
  uint64_t not_succeeded = 0;
};

// PrintRunReport() writes the summary table: each outcome's count, elapsed,
// jobs/s, whether the deadline hit, then a few jobs that did not succeed.
// `colour` adds ANSI colours.
void PrintRunReport(std::ostream& out, const RunReport& report, bool colour);

// PrintServerInfo() writes `info` readably: version, kinds, backends with
// capacity/in use/waiting, queue, workers, limits.
void PrintServerInfo(std::ostream& out, absl::string_view target,
                     const jobgroup::v1::GetServerInfoResponse& info);

// ServerInfoToJson() prints `info` in protobuf's JSON mapping, indented, zero
// values included.
std::string ServerInfoToJson(const jobgroup::v1::GetServerInfoResponse& info);

// ToAbslDuration() converts a google.protobuf.Duration.
absl::Duration ToAbslDuration(const google::protobuf::Duration& d);

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_RESULT_OUTPUT_H_

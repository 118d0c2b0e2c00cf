// JobResult in protobuf's JSON mapping, written directly: the same bytes as
// google::protobuf::util::MessageToJsonString with
// always_print_primitive_fields (enums as names, zero values included, bytes in
// base64, durations as "1.500s", protobuf's escaping of strings), for about
// a fortieth of the CPU (BENCHMARKS.md, "Client output"), since the CLI writes
// one such line per result (`-o jsonl`) and must not be the bottleneck of a
// million-job call. A result it cannot write the fast way (a string that is
// not UTF-8, a duration out of range) goes through MessageToJsonString; one
// that protobuf cannot print either becomes
// {"index":"N","jsonError":"not printable as JSON"}, so every result still
// has its line.
//
// Stateless; safe from any thread. tests/client/job_result_json_test.cc holds
// it to MessageToJsonString on randomized results.
#ifndef JOBGROUP_CLIENT_JOB_RESULT_JSON_H_
#define JOBGROUP_CLIENT_JOB_RESULT_JSON_H_

#include <string>

#include "absl/strings/string_view.h"
#include "jobgroup/v1/jobgroup.pb.h"

namespace jobgroup::client {

// AppendJobResultJson() appends `result`, as one line of JSON without the
// newline, to `*out`.
void AppendJobResultJson(const jobgroup::v1::JobResult& result,
                         std::string* out);

// AppendJsonString() appends `text` as a JSON string, quotes included,
// escaped exactly as protobuf's JSON printer escapes strings. Returns false,
// with nothing appended, when `text` is not valid UTF-8.
bool AppendJsonString(absl::string_view text, std::string* out);

// JobResultToJson() is AppendJobResultJson() into a new string.
std::string JobResultToJson(const jobgroup::v1::JobResult& result);

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_JOB_RESULT_JSON_H_

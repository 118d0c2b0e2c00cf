// JsonlJobReader: a JobSource reading JSON Lines, one jobgroup.v1.Job per
// line in protobuf's JSON mapping ({"kind":"sleep","params":{"ms":"5"}}).
// Reads one line at a time, so a file or pipe of any length is read lazily.
// Params may also be numbers or booleans ({"ms":5}, {"verbose":true}):
// they are taken as strings spelled as written (scalar_params.h).
// Blank lines (and a trailing '\r') are skipped; a bad line is an error
// naming the input, the line number and the problem.
//
// Thread-safety: like every JobSource, used by one thread at a time; the
// stream must not be read by anyone else meanwhile.
#ifndef JOBGROUP_CLIENT_JSONL_JOB_READER_H_
#define JOBGROUP_CLIENT_JSONL_JOB_READER_H_

#include <cstdint>
#include <istream>
#include <string>

#include "client/job_source.h"

namespace jobgroup::client {

class JsonlJobReader : public JobSource {
 public:
  // `in` must outlive the reader. `input_name` names the input in errors,
  // e.g. "jobs.jsonl" or "stdin".
  JsonlJobReader(std::istream& in, std::string input_name);

  JsonlJobReader(const JsonlJobReader&) = delete;
  JsonlJobReader& operator=(const JsonlJobReader&) = delete;

  // JsonlJobReader::Next() parses the next non-blank line into `job`. Errors:
  // InvalidArgument "jobs.jsonl line 7: <problem>" for a line that is not a
  // Job, DataLoss when reading the stream fails.
  absl::StatusOr<bool> Next(jobgroup::v1::Job& job) override;

  // JsonlJobReader::ReadyNow() is true when the stream has buffered or
  // immediately readable bytes (std::streambuf::in_avail() > 0).
  bool ReadyNow() override;

  // JsonlJobReader::line_number() is the number of the last line read
  // (1-based; 0 before the first).
  int64_t line_number() const { return line_number_; }

 private:
  std::istream& in_;
  const std::string input_name_;
  std::string line_;
  int64_t line_number_ = 0;
  bool failed_ = false;
};

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_JSONL_JOB_READER_H_

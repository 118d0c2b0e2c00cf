// libFuzzer target: the client's JSON Lines job reader. Any input must give
// jobs or a clear error naming the line, never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "client/jsonl_job_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  jobgroup::client::JsonlJobReader reader(in, "fuzz");
  jobgroup::v1::Job job;
  for (int i = 0; i < 10000; ++i) {
    absl::StatusOr<bool> more = reader.Next(job);
    if (!more.ok()) {
      if (more.status().message().find("fuzz") == std::string::npos) {
        __builtin_trap();  // The error names the input and line.
      }
      break;
    }
    if (!*more) break;
  }
  return 0;
}

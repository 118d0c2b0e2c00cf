// Logger: jobgroupd's log lines on stderr, as text or as one JSON object a
// line (--log_format=json). Thread-safe: each line is written whole.
#ifndef JOBGROUP_SERVER_SERVICE_LOGGER_H_
#define JOBGROUP_SERVER_SERVICE_LOGGER_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace jobgroup {

class Logger {
 public:
  using Fields = std::vector<std::pair<std::string, std::string>>;

  explicit Logger(bool json) : json_(json) {}

  // Logger::Log()
  //
  // Writes one line: level, event name, message and key-value fields. Text:
  // `2026-11-25T09:00:00.123Z INFO call_finished method=RunBatch ...`.
  // JSON: {"ts":...,"level":...,"event":...,"msg":...,key:value...}; values
  // that are numbers or booleans are written bare.
  void Log(absl::string_view level, absl::string_view event,
           absl::string_view message, const Fields& fields = {});
  void Info(absl::string_view event, absl::string_view message,
            const Fields& fields = {}) {
    Log("INFO", event, message, fields);
  }
  void Warn(absl::string_view event, absl::string_view message,
            const Fields& fields = {}) {
    Log("WARN", event, message, fields);
  }

 private:
  const bool json_;
  absl::Mutex mu_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_LOGGER_H_

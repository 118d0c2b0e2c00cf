// Logger: jobgroupd's log lines on stderr, as text or as one JSON object a
// line (--log_format=json), at or above a level (--log_level). Thread-safe:
// each line is written whole.
#ifndef JOBGROUP_SERVER_SERVICE_LOGGER_H_
#define JOBGROUP_SERVER_SERVICE_LOGGER_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/mutex.h"

namespace jobgroup {

// AppendLogTimestamp() appends `t` as lines show it, in UTC to the
// millisecond: 2026-11-25T09:00:00.123Z.
void AppendLogTimestamp(absl::Time t, std::string* out);

// How much a line matters; a Logger writes the lines at or above its level.
enum class LogLevel { kDebug, kInfo, kWarn, kError };

// "debug", "info", "warn", "error" (also "warning"), any case; otherwise
// INVALID_ARGUMENT listing them.
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);
// "DEBUG", "INFO", "WARN", "ERROR": the level as lines show it.
absl::string_view LogLevelName(LogLevel level);

class Logger {
 public:
  // Key-value pairs of a line. A key is a name the code spells (a literal):
  // a field keeps only a view of it; the value is its own.
  using Fields = std::vector<std::pair<absl::string_view, std::string>>;

  explicit Logger(bool json, LogLevel level = LogLevel::kInfo)
      : json_(json), level_(level) {}

  // True when lines of `level` are written: check it before building the
  // fields of a line that may not be.
  bool Enabled(LogLevel level) const { return level >= level_; }

  // Logger::Log()
  //
  // Writes one line: level, event name, message and key-value fields. Text:
  // `2026-11-25T09:00:00.123Z INFO call_finished method=RunBatch ...`.
  // JSON: {"ts":...,"level":...,"event":...,"msg":...,key:value...}; values
  // that are numbers or booleans are written bare.
  // Nothing when `level` is below the logger's.
  void Log(LogLevel level, absl::string_view event, absl::string_view message,
           const Fields& fields = {});
  void Info(absl::string_view event, absl::string_view message,
            const Fields& fields = {}) {
    Log(LogLevel::kInfo, event, message, fields);
  }
  void Warn(absl::string_view event, absl::string_view message,
            const Fields& fields = {}) {
    Log(LogLevel::kWarn, event, message, fields);
  }
  // An INFO line written at every level: the server's own start and stop,
  // which tools and people read the ports and the drain from.
  void Lifecycle(absl::string_view event, absl::string_view message,
                 const Fields& fields = {}) {
    Write(LogLevel::kInfo, event, message, fields);
  }

 private:
  // Writes the line whatever the level.
  void Write(LogLevel level, absl::string_view event, absl::string_view message,
             const Fields& fields);

  const bool json_;
  const LogLevel level_;
  Mutex mu_;  // Keeps lines whole.
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_LOGGER_H_

#include "server/service/logger.h"

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace jobgroup {
namespace {

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

bool IsBareJson(absl::string_view v) {
  double d;
  return v == "true" || v == "false" ||
         (!v.empty() && absl::SimpleAtod(v, &d) &&
          v.find_first_of("xX") == absl::string_view::npos &&
          absl::ascii_isdigit(static_cast<unsigned char>(v.back())));
}

bool NeedsQuotes(absl::string_view v) {
  return v.empty() || v.find_first_of(" \"=") != absl::string_view::npos;
}

}  // namespace

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  std::string n = absl::AsciiStrToLower(name);
  if (n == "debug") return LogLevel::kDebug;
  if (n == "info") return LogLevel::kInfo;
  if (n == "warn" || n == "warning") return LogLevel::kWarn;
  if (n == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(absl::StrCat(
      "log level must be debug, info, warn or error, got \"", name, "\""));
}

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
  }
  return "INFO";
}

void Logger::Log(LogLevel level, absl::string_view event,
                 absl::string_view message, const Fields& fields) {
  if (Enabled(level)) Write(level, event, message, fields);
}

void Logger::Write(LogLevel log_level, absl::string_view event,
                   absl::string_view message, const Fields& fields) {
  absl::string_view level = LogLevelName(log_level);
  std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                    absl::UTCTimeZone());
  std::string line;
  if (json_) {
    absl::StrAppend(
        &line, "{\"ts\":", JsonString(ts), ",\"level\":", JsonString(level),
        ",\"event\":", JsonString(event), ",\"msg\":", JsonString(message));
    for (const auto& [k, v] : fields) {
      absl::StrAppend(&line, ",", JsonString(k), ":",
                      IsBareJson(v) ? v : JsonString(v));
    }
    line += "}\n";
  } else {
    absl::StrAppend(&line, ts, " ", level, " ", event);
    if (!message.empty()) absl::StrAppend(&line, " ", message);
    for (const auto& [k, v] : fields) {
      absl::StrAppend(&line, " ", k, "=", NeedsQuotes(v) ? JsonString(v) : v);
    }
    line += "\n";
  }
  MutexLock lock(&mu_);
  fwrite(line.data(), 1, line.size(), stderr);
  fflush(stderr);
}

}  // namespace jobgroup

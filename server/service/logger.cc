#include "server/service/logger.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

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
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=') return true;
  }
  return false;
}

}  // namespace

void AppendLogTimestamp(absl::Time t, std::string* out) {
  // The text up to the seconds is formatted once per second and thread
  // (absl::FormatTime costs thousands of instructions, which every call's
  // log line paid otherwise).
  struct Cache {
    int64_t second = INT64_MIN;
    char text[32];
    size_t size = 0;
  };
  thread_local Cache cache;
  const int64_t ms = absl::ToUnixMillis(t);
  const int64_t second = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  if (second != cache.second) {
    std::string s =
        absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(second),
                         absl::UTCTimeZone());
    cache.size = std::min(s.size(), sizeof(cache.text));
    memcpy(cache.text, s.data(), cache.size);
    cache.second = second;
  }
  const int frac = static_cast<int>(ms - second * 1000);
  const char tail[] = {'.', static_cast<char>('0' + frac / 100),
                       static_cast<char>('0' + frac / 10 % 10),
                       static_cast<char>('0' + frac % 10), 'Z'};
  out->append(cache.text, cache.size);
  out->append(tail, sizeof(tail));
}

namespace {

// The whole line with one write(2) (a line is never split by another's).
void WriteAll(absl::string_view line) {
  while (!line.empty()) {
    ssize_t n = write(STDERR_FILENO, line.data(), line.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // Nowhere to say it.
    }
    line.remove_prefix(static_cast<size_t>(n));
  }
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
  std::string ts;
  ts.reserve(24);
  AppendLogTimestamp(absl::Now(), &ts);
  std::string line;
  line.reserve(256);
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
    // Plain appends: a call's line has some twenty fields, and StrAppend's
    // sizing pass cost more than the copies.
    auto add = [&line](absl::string_view s) {
      line.append(s.data(), s.size());
    };
    add(ts);
    add(" ");
    add(level);
    add(" ");
    add(event);
    if (!message.empty()) {
      add(" ");
      add(message);
    }
    for (const auto& [k, v] : fields) {
      add(" ");
      add(k);
      add("=");
      if (NeedsQuotes(v)) {
        add(JsonString(v));
      } else {
        add(v);
      }
    }
    line += "\n";
  }
  MutexLock lock(&mu_);
  WriteAll(line);
}

}  // namespace jobgroup

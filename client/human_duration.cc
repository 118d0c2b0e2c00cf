// Parsing and printing of human durations; see human_duration.h.
#include "client/human_duration.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace jobgroup::client {
namespace {

constexpr absl::string_view kExpected =
    "write a number with a unit (ns, us, ms, s, m, h), e.g. 30s, 250ms, "
    "1m30s, 2h, 1.5s";

bool IsBareNumber(absl::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '.' &&
        c != '-' && c != '+') {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<absl::Duration> ParseHumanDuration(absl::string_view text) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  if (trimmed.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("empty duration: ", kExpected));
  }
  if (IsBareNumber(trimmed) && trimmed != "0") {
    return absl::InvalidArgumentError(
        absl::StrCat("duration \"", trimmed, "\" has no unit: ", kExpected));
  }
  absl::Duration d;
  if (!absl::ParseDuration(trimmed, &d)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid duration \"", trimmed, "\": ", kExpected));
  }
  if (d == absl::InfiniteDuration() || d == -absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("duration \"", trimmed, "\" must be finite: ", kExpected));
  }
  if (d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "duration \"", trimmed, "\" must be positive: ", kExpected));
  }
  return d;
}

std::string FormatHumanDuration(absl::Duration d) {
  const absl::Duration unit =
      (d < absl::Milliseconds(1) && d > -absl::Milliseconds(1))
          ? absl::Microseconds(1)
          : absl::Milliseconds(1);
  return absl::FormatDuration(absl::Floor(d + unit / 2, unit));
}

}  // namespace jobgroup::client

// Implementation of RepeatedFlagValues() and FlagGiven().
#include "server/flags/repeated_flag.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace jobgroup {
namespace {

// Finds --`name` in `args` and the flag files they name: each value is
// appended to `out` (when not null), and `*given` (when not null) is set
// when the flag occurs at all.
void Collect(const std::vector<std::string>& args, absl::string_view name,
             std::vector<std::string>* out, bool* given, int depth) {
  const std::string eq = absl::StrCat(name, "=");
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view a = args[i];
    if (a == "--") break;  // Abseil reads no flags past it.
    // Abseil accepts one dash or two.
    if (!absl::ConsumePrefix(&a, "--")) absl::ConsumePrefix(&a, "-");
    std::string value;
    bool has = false;
    if (given != nullptr && (a == name || a == absl::StrCat("no", name) ||
                             absl::StartsWith(a, eq))) {
      *given = true;
    }
    if (absl::ConsumePrefix(&a, eq)) {
      value = std::string(a);
      has = true;
    } else if (a == name && i + 1 < args.size()) {
      value = args[++i];
      has = true;
    } else if (absl::ConsumePrefix(&a, "flagfile=") && depth < 4) {
      for (absl::string_view file : absl::StrSplit(a, ',')) {
        std::ifstream in{std::string(file)};
        std::vector<std::string> lines;
        for (std::string line; std::getline(in, line);) {
          absl::string_view l = absl::StripAsciiWhitespace(line);
          if (!l.empty() && l[0] != '#') lines.emplace_back(l);
        }
        Collect(lines, name, out, given, depth + 1);
      }
    }
    if (has && out != nullptr) {
      for (absl::string_view v :
           absl::StrSplit(value, ',', absl::SkipEmpty())) {
        out->emplace_back(v);
      }
    }
  }
}

}  // namespace

std::vector<std::string> RepeatedFlagValues(
    const std::vector<std::string>& args, absl::string_view name) {
  std::vector<std::string> out;
  Collect(args, name, &out, nullptr, 0);
  return out;
}

bool FlagGiven(const std::vector<std::string>& args, absl::string_view name) {
  bool given = false;
  Collect(args, name, nullptr, &given, 0);
  return given;
}

}  // namespace jobgroup

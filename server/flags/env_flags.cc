// Implementation of the environment overlay of flags.
#include "server/flags/env_flags.h"

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/flags/repeated_flag.h"

namespace jobgroup {

std::string EnvVariableName(absl::string_view prefix, absl::string_view flag) {
  return absl::StrCat(prefix, absl::AsciiStrToUpper(flag));
}

std::vector<EnvFlag> EnvironmentFlags(
    absl::string_view prefix, const std::vector<std::string>& flags,
    absl::FunctionRef<const char*(const char*)> getenv) {
  std::vector<EnvFlag> out;
  for (const std::string& flag : flags) {
    std::string variable = EnvVariableName(prefix, flag);
    const char* value = getenv(variable.c_str());
    if (value == nullptr) continue;
    out.push_back({std::move(variable), flag, value});
  }
  return out;
}

absl::Status CheckEnvironmentFlags(const std::vector<EnvFlag>& env) {
  for (const EnvFlag& e : env) {
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(e.flag);
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(e.variable, ": no flag --", e.flag));
    }
    std::string error;
    if (!flag->ParseFrom(e.value, &error)) {
      // Abseil's text says only "Illegal value ... for flag ..." for most
      // types; say it once, in the variable's terms, and keep any detail.
      const bool generic = absl::StartsWith(error, "Illegal value");
      return absl::InvalidArgumentError(absl::StrCat(
          e.variable, "=\"", e.value, "\": not a valid value of --", e.flag,
          generic ? "" : absl::StrCat(" (", error, ")")));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> ArgsWithEnvironment(
    const std::vector<EnvFlag>& env, const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const EnvFlag& e : env) {
    if (!FlagGiven(args, e.flag)) {
      out.push_back(absl::StrCat("--", e.flag, "=", e.value));
    }
  }
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

}  // namespace jobgroup

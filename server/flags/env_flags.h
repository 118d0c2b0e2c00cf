// Flags from the environment: every flag --NAME of a program can also be
// set as PREFIX + NAME in capitals (jobgroupd: JOBGROUPD_MAX_DEADLINE=10m
// for --max_deadline), as container users expect. A flag on the command
// line, or in a --flagfile it names, wins over the environment.
//
// How: before absl::ParseCommandLine(), each variable that is set is
// checked with its flag's own parser (a bad value is an error naming the
// variable) and becomes "--NAME=VALUE" placed before the command-line
// arguments, unless the flag is given there. Abseil applies flags in order,
// so the command line wins; and the readers of repeatable flags
// (RepeatedFlagValues(), which Abseil cannot serve) see the environment
// through the same argument list, with the same precedence. Reading
// Abseil's "was it given?" after parsing instead is not possible with
// Debian's Abseil, which keeps IsSpecifiedOnCommandLine() private.
//
// Variables with the prefix that name no flag are ignored (Kubernetes
// defines SERVICE_HOST/PORT variables for every Service, for one).
// Functions here are stateless; EnvironmentFlags() reads the environment
// only through `getenv`.
#ifndef JOBGROUP_SERVER_FLAGS_ENV_FLAGS_H_
#define JOBGROUP_SERVER_FLAGS_ENV_FLAGS_H_

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace jobgroup {

// One flag set by the environment.
struct EnvFlag {
  std::string variable;  // JOBGROUPD_MAX_DEADLINE
  std::string flag;      // max_deadline
  std::string value;     // 10m (may be empty: --metrics_listen= is a value)
};

// EnvVariableName()
//
// The variable of flag `flag`: `prefix` followed by the name in capitals
// ("JOBGROUPD_", "max_deadline" -> "JOBGROUPD_MAX_DEADLINE").
std::string EnvVariableName(absl::string_view prefix, absl::string_view flag);

// EnvironmentFlags()
//
// The flags among `flags` (names, in the order given) whose variable is
// set according to `getenv` (which returns null for an unset variable).
std::vector<EnvFlag> EnvironmentFlags(
    absl::string_view prefix, const std::vector<std::string>& flags,
    absl::FunctionRef<const char*(const char*)> getenv);

// CheckEnvironmentFlags()
//
// Parses each value with its registered Abseil flag (which sets it; the
// command line parsed afterwards overrides it). INVALID_ARGUMENT naming
// the variable, its value and the flag when a value does not parse, or
// when no such flag is registered.
absl::Status CheckEnvironmentFlags(const std::vector<EnvFlag>& env);

// ArgsWithEnvironment()
//
// "--FLAG=VALUE" for each of `env` whose flag FlagGiven() does not find in
// `args`, followed by `args` (argv without the program name): the argument
// list to parse, and to read repeatable flags from.
std::vector<std::string> ArgsWithEnvironment(
    const std::vector<EnvFlag>& env, const std::vector<std::string>& args);

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_FLAGS_ENV_FLAGS_H_

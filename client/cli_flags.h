// FlagParser: the jobgroup CLI's hand-written flag parsing. absl flags cannot
// spell names with dashes (--max-concurrency), so each subcommand declares
// its flags here, and the same declarations produce the --help text.
//
// Accepted forms: `--name value`, `--name=value`, boolean `--name` (or
// `--name=true|false`), a declared one-letter alias (`-o json`, `-ojson`,
// `-o=json`, `-q`), `-h`/`--help`, and `--` to end the flags. Every error
// names the offending flag. A FlagParser is immutable once built; Parse() may
// be called from any thread.
#ifndef JOBGROUP_CLIENT_CLI_FLAGS_H_
#define JOBGROUP_CLIENT_CLI_FLAGS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace jobgroup::client {

// ParsedFlags holds what one command line said: the values of the flags
// given, in order, and the positional arguments. A plain value.
class ParsedFlags {
 public:
  // ParsedFlags::Has() says whether `name` (without dashes) was given.
  bool Has(absl::string_view name) const;
  // ParsedFlags::Get() returns the last value given for `name`, or
  // `fallback` when it was not given.
  std::string Get(absl::string_view name,
                  absl::string_view fallback = "") const;
  // ParsedFlags::GetAll() returns every value of a repeatable flag, in order.
  std::vector<std::string> GetAll(absl::string_view name) const;
  // ParsedFlags::GetBool() is true when a boolean flag was given as true.
  bool GetBool(absl::string_view name) const;
  // ParsedFlags::help() is true when -h or --help was given.
  bool help() const { return help_; }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend class FlagParser;
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

// FlagParser declares the flags of one command and parses its arguments.
class FlagParser {
 public:
  // `command` names the command in errors, e.g. "jobgroup run".
  explicit FlagParser(std::string command);

  // FlagParser::Value() declares `--name VALUE_NAME`; the last one given wins.
  FlagParser& Value(std::string name, std::string value_name, std::string help);
  // FlagParser::Repeated() declares `--name VALUE_NAME` that may be given
  // several times; GetAll() returns every value.
  FlagParser& Repeated(std::string name, std::string value_name,
                       std::string help);
  // FlagParser::Bool() declares a boolean `--name`.
  FlagParser& Bool(std::string name, std::string help);
  // FlagParser::Short() makes `-letter` another spelling of the flag
  // `name`, declared before (kubectl's `-o`); the help shows `-letter, --name`.
  FlagParser& Short(char letter, std::string name);
  // FlagParser::Section() starts a titled group of flags in FlagsHelp().
  FlagParser& Section(std::string title);

  // FlagParser::Parse() parses `args` (the words after the command name).
  // Unknown flags, a missing value or a bad boolean are InvalidArgument
  // errors naming the flag and pointing to --help.
  absl::StatusOr<ParsedFlags> Parse(absl::Span<const std::string> args) const;

  // FlagParser::FlagsHelp() lists the declared flags, one or more lines each,
  // for the --help text.
  std::string FlagsHelp() const;

 private:
  struct Spec {
    std::string name;        // Empty for a section title.
    std::string value_name;  // Empty for a boolean flag.
    std::string help;
    bool repeatable = false;
    char short_name = 0;  // 0: none.
  };
  const Spec* Find(absl::string_view name) const;
  const Spec* FindShort(char letter) const;
  std::string UnknownFlagMessage(absl::string_view name) const;

  std::string command_;
  std::vector<Spec> specs_;
};

// ParseUintFlag() parses the value of `--flag` as a whole number in
// [0, max]; errors name the flag: `--batch-size: "x" is not a whole number`.
absl::StatusOr<uint64_t> ParseUintFlag(absl::string_view flag,
                                       absl::string_view text,
                                       uint64_t max = UINT64_MAX);

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_CLI_FLAGS_H_

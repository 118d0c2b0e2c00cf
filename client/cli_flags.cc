// Hand-written flag parsing for the jobgroup CLI; see cli_flags.h.
#include "client/cli_flags.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace jobgroup::client {

bool ParsedFlags::Has(absl::string_view name) const {
  return values_.find(name) != values_.end();
}

std::string ParsedFlags::Get(absl::string_view name,
                             absl::string_view fallback) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::string(fallback);
  return it->second.back();
}

std::vector<std::string> ParsedFlags::GetAll(absl::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return {};
  return it->second;
}

bool ParsedFlags::GetBool(absl::string_view name) const {
  return Get(name, "false") == "true";
}

FlagParser::FlagParser(std::string command) : command_(std::move(command)) {}

FlagParser& FlagParser::Value(std::string name, std::string value_name,
                              std::string help) {
  specs_.push_back({std::move(name), std::move(value_name), std::move(help),
                    /*repeatable=*/false});
  return *this;
}

FlagParser& FlagParser::Repeated(std::string name, std::string value_name,
                                 std::string help) {
  specs_.push_back({std::move(name), std::move(value_name), std::move(help),
                    /*repeatable=*/true});
  return *this;
}

FlagParser& FlagParser::Bool(std::string name, std::string help) {
  specs_.push_back({std::move(name), "", std::move(help), false});
  return *this;
}

FlagParser& FlagParser::Short(char letter, std::string name) {
  for (Spec& spec : specs_) {
    if (spec.name == name) spec.short_name = letter;
  }
  return *this;
}

FlagParser& FlagParser::Section(std::string title) {
  specs_.push_back({"", "", std::move(title), false});
  return *this;
}

const FlagParser::Spec* FlagParser::Find(absl::string_view name) const {
  for (const Spec& spec : specs_) {
    if (!spec.name.empty() && spec.name == name) return &spec;
  }
  return nullptr;
}

const FlagParser::Spec* FlagParser::FindShort(char letter) const {
  for (const Spec& spec : specs_) {
    if (!spec.name.empty() && spec.short_name == letter) return &spec;
  }
  return nullptr;
}

std::string FlagParser::UnknownFlagMessage(absl::string_view name) const {
  std::string message =
      absl::StrCat("unknown flag --", name, " for '", command_, "'");
  // The server's flags use underscores; point a user who mixed them up to
  // the CLI's spelling.
  const std::string dashed = absl::StrReplaceAll(name, {{"_", "-"}});
  if (dashed != name && Find(dashed) != nullptr) {
    absl::StrAppend(&message, " (did you mean --", dashed, "?)");
  }
  absl::StrAppend(&message, "; see '", command_, " --help'");
  return message;
}

absl::StatusOr<ParsedFlags> FlagParser::Parse(
    absl::Span<const std::string> args) const {
  ParsedFlags parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      for (++i; i < args.size(); ++i) parsed.positional_.push_back(args[i]);
      break;
    }
    if (arg == "-h" || arg == "--help") {
      parsed.help_ = true;
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-' || arg == "-") {
      parsed.positional_.push_back(arg);
      continue;
    }
    const Spec* spec = nullptr;
    absl::string_view name;
    std::optional<absl::string_view> inline_value;
    if (arg[1] != '-') {
      spec = FindShort(arg[1]);
      if (spec == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            "unknown flag ", arg, " for '", command_,
            "' (flags are spelled --name); see '", command_, " --help'"));
      }
      name = spec->name;
      // -ojson and -o=json; a switch takes no attached value.
      absl::string_view rest = absl::string_view(arg).substr(2);
      if (!rest.empty() && rest.front() == '=') rest.remove_prefix(1);
      if (!rest.empty() || arg.size() > 2) inline_value = rest;
      if (spec->value_name.empty() && arg.size() > 2) {
        return absl::InvalidArgumentError(
            absl::StrCat("-", std::string(1, arg[1]), " is a switch: write -",
                         std::string(1, arg[1]), " alone, not ", arg));
      }
    } else {
      absl::string_view body = absl::string_view(arg).substr(2);
      name = body;
      if (size_t eq = body.find('='); eq != absl::string_view::npos) {
        name = body.substr(0, eq);
        inline_value = body.substr(eq + 1);
      }
      spec = Find(name);
      if (spec == nullptr) {
        return absl::InvalidArgumentError(UnknownFlagMessage(name));
      }
    }
    std::string value;
    if (spec->value_name.empty()) {
      if (!inline_value.has_value()) {
        value = "true";
      } else {
        const std::string lower = absl::AsciiStrToLower(*inline_value);
        if (lower == "true" || lower == "1" || lower == "yes") {
          value = "true";
        } else if (lower == "false" || lower == "0" || lower == "no") {
          value = "false";
        } else {
          return absl::InvalidArgumentError(
              absl::StrCat("--", name, " is a switch: write --", name, " or --",
                           name, "=false, not --", name, "=", *inline_value));
        }
      }
    } else if (inline_value.has_value()) {
      value = std::string(*inline_value);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " needs a value (--", name, " ",
                       spec->value_name, "); see '", command_, " --help'"));
    }
    parsed.values_[spec->name].push_back(std::move(value));
  }
  return parsed;
}

std::string FlagParser::FlagsHelp() const {
  constexpr size_t kHelpColumn = 26;
  std::string out;
  for (const Spec& spec : specs_) {
    if (spec.name.empty()) {
      absl::StrAppend(&out, out.empty() ? "" : "\n", spec.help, ":\n");
      continue;
    }
    std::string left =
        spec.short_name != 0
            ? absl::StrCat("  -", std::string(1, spec.short_name), ", --",
                           spec.name)
            : absl::StrCat("  --", spec.name);
    if (!spec.value_name.empty()) absl::StrAppend(&left, " ", spec.value_name);
    std::string help = spec.help;
    if (spec.repeatable) absl::StrAppend(&help, " (repeatable)");
    std::vector<absl::string_view> lines = absl::StrSplit(help, '\n');
    if (left.size() + 2 > kHelpColumn) {
      absl::StrAppend(&out, left, "\n");
      left.clear();
    }
    for (absl::string_view line : lines) {
      left.resize(kHelpColumn, ' ');
      absl::StrAppend(&out, left, line, "\n");
      left.clear();
    }
  }
  return out;
}

absl::StatusOr<uint64_t> ParseUintFlag(absl::string_view flag,
                                       absl::string_view text, uint64_t max) {
  uint64_t value = 0;
  const absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  const bool digits_only =
      !trimmed.empty() &&
      std::all_of(trimmed.begin(), trimmed.end(), [](char c) {
        return absl::ascii_isdigit(static_cast<unsigned char>(c));
      });
  if (!digits_only) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, ": \"", text, "\" is not a whole number (0 or more)"));
  }
  if (!absl::SimpleAtoi(trimmed, &value) || value > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, ": ", trimmed, " is too large (at most ", max, ")"));
  }
  return value;
}

}  // namespace jobgroup::client

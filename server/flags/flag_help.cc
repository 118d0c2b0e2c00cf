// Implementation of the grouped --help text.
#include "server/flags/flag_help.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/flags/env_flags.h"

namespace jobgroup {
namespace {

constexpr absl::string_view kHelpIndent = "      ";

// Appends `text` wrapped to `width` columns, each line starting with
// `indent`; paragraphs ("\n" in `text`) are kept.
void AppendWrapped(std::string* out, absl::string_view text,
                   absl::string_view indent, int width) {
  for (absl::string_view paragraph : absl::StrSplit(text, '\n')) {
    std::string line(indent);
    bool empty = true;
    for (absl::string_view word :
         absl::StrSplit(paragraph, ' ', absl::SkipEmpty())) {
      if (!empty && static_cast<int>(line.size() + 1 + word.size()) > width) {
        absl::StrAppend(out, line, "\n");
        line = std::string(indent);
        empty = true;
      }
      absl::StrAppend(&line, empty ? "" : " ", word);
      empty = false;
    }
    absl::StrAppend(out, line, "\n");
  }
}

void AppendFlag(std::string* out, const FlagDoc& flag,
                const FlagHelpOptions& options) {
  const bool quote =
      flag.default_value.empty() || absl::StrContains(flag.default_value, ' ');
  absl::StrAppend(out, "  --", flag.name, "=",
                  quote ? absl::StrCat("\"", flag.default_value, "\"")
                        : flag.default_value);
  if (!options.env_prefix.empty() && flag.from_environment) {
    absl::StrAppend(out, "  [$", EnvVariableName(options.env_prefix, flag.name),
                    "]");
  }
  absl::StrAppend(out, "\n");
  if (!flag.help.empty()) {
    AppendWrapped(out, flag.help, kHelpIndent, options.width);
  }
}

}  // namespace

std::string FormatFlagHelp(const std::vector<FlagGroup>& groups,
                           const std::vector<FlagDoc>& flags,
                           const FlagHelpOptions& options) {
  absl::flat_hash_map<absl::string_view, const FlagDoc*> by_name;
  for (const FlagDoc& f : flags) {
    if (absl::StrContains(f.name, options.match)) by_name[f.name] = &f;
  }
  std::string out = options.usage;
  if (!out.empty() && out.back() != '\n') out += '\n';
  if (!options.preamble.empty()) {
    out += '\n';
    AppendWrapped(&out, options.preamble, "", options.width);
  }
  absl::flat_hash_set<absl::string_view> shown;
  auto section = [&](absl::string_view title,
                     const std::vector<const FlagDoc*>& docs) {
    if (docs.empty()) return;
    absl::StrAppend(&out, "\n", title, ":\n");
    for (const FlagDoc* d : docs) AppendFlag(&out, *d, options);
  };
  for (const FlagGroup& g : groups) {
    std::vector<const FlagDoc*> docs;
    for (const std::string& name : g.flags) {
      auto it = by_name.find(name);
      if (it == by_name.end() || !shown.insert(name).second) continue;
      docs.push_back(it->second);
    }
    section(g.title, docs);
  }
  std::vector<const FlagDoc*> rest;
  for (const auto& [name, doc] : by_name) {
    if (!shown.contains(name)) rest.push_back(doc);
  }
  std::sort(rest.begin(), rest.end(), [](const FlagDoc* a, const FlagDoc* b) {
    return a->name < b->name;
  });
  section("Other flags", rest);
  return out;
}

std::vector<FlagDoc> RegisteredFlags() {
  std::vector<FlagDoc> out;
  // Abseil's flags that are not settings: other flag sources and help.
  static const auto* const kNotFromEnvironment =
      new absl::flat_hash_set<absl::string_view>{
          "fromenv",   "tryfromenv", "undefok",        "help",
          "helpfull",  "helpshort",  "helppackage",    "helpon",
          "helpmatch", "version",    "only_check_args"};
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    out.push_back({std::string(name), flag->DefaultValue(), flag->Help(),
                   !kNotFromEnvironment->contains(name)});
  }
  std::sort(out.begin(), out.end(),
            [](const FlagDoc& a, const FlagDoc& b) { return a.name < b.name; });
  return out;
}

}  // namespace jobgroup

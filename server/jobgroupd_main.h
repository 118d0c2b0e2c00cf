// RunJobgroupd(): the whole jobgroupd program, so that a custom server with
// kinds of its own is one line of main():
//
//   int main(int argc, char** argv) {
//     return jobgroup::RunJobgroupd(argc, argv, RegisterMyKinds);
//   }
#ifndef JOBGROUP_SERVER_JOBGROUPD_MAIN_H_
#define JOBGROUP_SERVER_JOBGROUPD_MAIN_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/flags/flag_help.h"
#include "server/service/jobgroup_server.h"

namespace jobgroup {

// Parses flags (the environment's JOBGROUPD_<FLAG> first, then the command
// line), starts the server with the built-in kinds plus `extra_kinds` (may
// be null), serves until SIGTERM or SIGINT, drains and returns the exit
// code. The server names itself after argv[0]'s file name in
// GetServerInfo. --help prints JobgroupdHelp() and returns 0.
int RunJobgroupd(int argc, char** argv, KindRegistrar extra_kinds);

// The areas --help groups jobgroupd's flags in. A flag in none of them
// (one a custom server defines, say) is listed under "Other flags".
const std::vector<FlagGroup>& JobgroupdFlagGroups();

// The --help text of `program`: every registered flag once, by area, with
// its environment variable; only flags whose name contains `match` when it
// is not empty.
std::string JobgroupdHelp(absl::string_view program, absl::string_view match);

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_JOBGROUPD_MAIN_H_

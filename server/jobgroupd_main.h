// RunJobgroupd(): the whole jobgroupd program, so that a custom server with
// kinds of its own is one line of main():
//
//   int main(int argc, char** argv) {
//     return jobgroup::RunJobgroupd(argc, argv, RegisterMyKinds);
//   }
#ifndef JOBGROUP_SERVER_JOBGROUPD_MAIN_H_
#define JOBGROUP_SERVER_JOBGROUPD_MAIN_H_

#include "server/service/jobgroup_server.h"

namespace jobgroup {

// Parses flags, starts the server with the built-in kinds plus
// `extra_kinds` (may be null), serves until SIGTERM or SIGINT, drains and
// returns the exit code.
int RunJobgroupd(int argc, char** argv, KindRegistrar extra_kinds);

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_JOBGROUPD_MAIN_H_

// `jobgroup bench`: the load generator of client/load_generator.h on the
// command line. Kept apart from commands.cc, which dispatches to it.
#ifndef JOBGROUP_CLIENT_BENCH_COMMAND_H_
#define JOBGROUP_CLIENT_BENCH_COMMAND_H_

#include <string>
#include <vector>

#include "client/commands.h"

namespace jobgroup::client {

// BenchCommand() runs `jobgroup bench` with `args` (the words after
// "bench"). Exit status: 0 every measured call ended OK with every job
// SUCCEEDED, 1 otherwise, 2 usage error or server unreachable.
int BenchCommand(const std::vector<std::string>& args, const Console& console);

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_BENCH_COMMAND_H_

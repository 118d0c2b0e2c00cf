// The jobgroup command line: `jobgroup [global flags] COMMAND [flags]` with
// the commands run, process, info, health, bench, calls, top and version
// (calls and top use the admin API; see calls_command.h, top_command.h).
// RunCli() takes
// the words after the program name and the process's streams, so tests can
// drive it without a terminal, and returns the exit status:
//   0  every job succeeded (info and health: the server answered, SERVING)
//   1  some job did not succeed (health: not SERVING)
//   2  usage error, unreadable input, or the call failed (server unreachable,
//      request refused); a one-line message on stderr says what to do.
//   130 Ctrl-C interrupted a run or process call (see Console::interrupt).
//
// Thread-safety: RunCli() may run on any thread, but uses the streams of
// `console` exclusively while it runs.
#ifndef JOBGROUP_CLIENT_COMMANDS_H_
#define JOBGROUP_CLIENT_COMMANDS_H_

#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "client/call_canceller.h"

namespace jobgroup::client {

inline constexpr int kExitOk = 0;
inline constexpr int kExitJobsNotSucceeded = 1;
inline constexpr int kExitUsageOrConnection = 2;
// Ctrl-C ended a run or process call (128 + SIGINT, as shells do).
inline constexpr int kExitInterrupted = 130;

// The streams of the process and what they are connected to.
struct Console {
  std::istream* in = nullptr;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  bool stdin_is_terminal = false;
  bool stdout_is_terminal = false;
  bool stderr_is_terminal = false;
  // $NO_COLOR is set.
  bool no_color = false;
  // Optional: cancelled on Ctrl-C (main.cc); a run or process call it
  // cancels prints the outcomes received so far and the summary, and the
  // command exits kExitInterrupted.
  CallCanceller* interrupt = nullptr;
};

// RunCli() runs one command line; `args` excludes the program name.
int RunCli(const std::vector<std::string>& args, const Console& console);

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_COMMANDS_H_

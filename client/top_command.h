// `jobgroup top`: what a server is doing, refreshed every --interval from
// the admin API's WatchServer stream. On a terminal a full-screen view with
// keys (q quit, s sort, up/down or j/k select, c cancel the selected call);
// otherwise plain-text snapshots, one block per interval; --once prints one
// and exits. The screen itself is drawn by top_view.h; this file owns the
// stream, the keys and the terminal. Kept apart from commands.cc, which
// dispatches to it. Exit status: 0 quit (or --once, or the server ended the
// stream); 2 usage error or failed call; 130 Ctrl-C.
#ifndef JOBGROUP_CLIENT_TOP_COMMAND_H_
#define JOBGROUP_CLIENT_TOP_COMMAND_H_

#include <string>
#include <vector>

#include "client/commands.h"

namespace jobgroup::client {

// TopCommand() runs `jobgroup top` with `args` (the words after "top").
int TopCommand(const std::vector<std::string>& args, const Console& console);

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_TOP_COMMAND_H_

// `jobgroup calls list` and `jobgroup calls cancel ID`: the calls in flight
// on a server, and stopping one, through the admin API
// (jobgroup.admin.v1.AdminService). Kept apart from commands.cc, which
// dispatches to it. Exit status: 0 done; 2 usage error or failed call (no
// admin token, admin API off, unknown call id, server unreachable; one line
// on stderr says which); 130 Ctrl-C.
#ifndef JOBGROUP_CLIENT_CALLS_COMMAND_H_
#define JOBGROUP_CLIENT_CALLS_COMMAND_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "client/commands.h"
#include "jobgroup/admin/v1/admin.pb.h"

namespace jobgroup::client {

// CallsCommand() runs `jobgroup calls` with `args` (the words after
// "calls").
int CallsCommand(const std::vector<std::string>& args, const Console& console);

// CallsTable() is the table of `jobgroup calls list`, ages measured at `now`;
// public for tests.
std::string CallsTable(const jobgroup::admin::v1::ListCallsResponse& calls,
                       absl::Time now);

// CallsJson() is ListCallsResponse in protobuf's JSON with the proto field
// names and zero values printed, and a newline; public for tests.
std::string CallsJson(const jobgroup::admin::v1::ListCallsResponse& calls);

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_CALLS_COMMAND_H_

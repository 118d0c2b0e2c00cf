// The flags every admin command (`jobgroup calls`, `jobgroup top`) shares:
// the connection flags of the other commands (--target, TLS) and the admin
// token, from --admin-token-file FILE (a file holding one token) or
// $JOBGROUP_ADMIN_TOKEN. Stateless functions; thread-safe.
#ifndef JOBGROUP_CLIENT_ADMIN_OPTIONS_H_
#define JOBGROUP_CLIENT_ADMIN_OPTIONS_H_

#include <string>

#include "absl/status/statusor.h"
#include "client/cli_flags.h"
#include "client/job_client.h"

namespace jobgroup::client {

// Where an admin command connects, and the token it sends.
struct AdminOptions {
  ClientOptions connection;
  // Sent as `authorization: Bearer TOKEN`; empty sends none.
  std::string admin_token;
};

// AddAdminFlags() declares the connection flags and --admin-token-file.
void AddAdminFlags(FlagParser& parser);

// AdminOptionsFromFlags() reads them. The token is the first line of
// --admin-token-file (surrounding whitespace dropped), else
// $JOBGROUP_ADMIN_TOKEN. Errors (InvalidArgument, naming the flag): a file
// that cannot be read or holds no token.
absl::StatusOr<AdminOptions> AdminOptionsFromFlags(const ParsedFlags& flags);

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_ADMIN_OPTIONS_H_

// The admin commands' connection and token flags; see admin_options.h.
#include "client/admin_options.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/run_options.h"

namespace jobgroup::client {

void AddAdminFlags(FlagParser& parser) {
  AddConnectionFlags(parser);
  parser.Value("admin-token-file", "FILE",
               "file holding the admin token, one of the server's\n"
               "--admin_tokens_file ($JOBGROUP_ADMIN_TOKEN holds the\n"
               "token itself); --token is not used by admin commands");
}

absl::StatusOr<AdminOptions> AdminOptionsFromFlags(const ParsedFlags& flags) {
  AdminOptions options;
  absl::StatusOr<ClientOptions> connection = ClientOptionsFromFlags(flags);
  if (!connection.ok()) return connection.status();
  options.connection = *std::move(connection);
  options.connection.bearer_token.clear();
  if (flags.Has("admin-token-file")) {
    const std::string path = flags.Get("admin-token-file");
    std::ifstream file(path);
    if (path.empty() || !file) {
      return absl::InvalidArgumentError(
          absl::StrCat("--admin-token-file: cannot open \"", path,
                       "\": ", std::strerror(errno)));
    }
    std::string line;
    std::getline(file, line);
    options.admin_token = std::string(absl::StripAsciiWhitespace(line));
    if (options.admin_token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--admin-token-file: \"", path,
                       "\" holds no token on its first line"));
    }
    return options;
  }
  const char* env = std::getenv("JOBGROUP_ADMIN_TOKEN");
  if (env != nullptr) {
    options.admin_token = std::string(absl::StripAsciiWhitespace(env));
  }
  return options;
}

}  // namespace jobgroup::client

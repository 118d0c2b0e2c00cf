// The `jobgroup` command-line tool: see commands.h and `jobgroup --help`.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "client/commands.h"
#include "grpc/support/log.h"

namespace {

// gRPC's own log lines (a failed TLS handshake, say) would break the CLI's
// promise of one readable line per error; GRPC_VERBOSITY brings them back.
void DropGrpcLog(gpr_log_func_args*) {}

}  // namespace

int main(int argc, char** argv) {
  // Unsynchronised streams are faster, and let std::cin report how much input
  // is ready (see JsonlJobReader::ReadyNow()).
  std::ios::sync_with_stdio(false);
  if (std::getenv("GRPC_VERBOSITY") == nullptr) {
    gpr_set_log_function(DropGrpcLog);
  }
  const jobgroup::client::Console console{
      .in = &std::cin,
      .out = &std::cout,
      .err = &std::cerr,
      .stdin_is_terminal = isatty(STDIN_FILENO) == 1,
      .stdout_is_terminal = isatty(STDOUT_FILENO) == 1,
      .stderr_is_terminal = isatty(STDERR_FILENO) == 1,
      .no_color = std::getenv("NO_COLOR") != nullptr,
  };
  const std::vector<std::string> args(argv + 1, argv + argc);
  const int status = jobgroup::client::RunCli(args, console);
  std::cout.flush();
  return status;
}

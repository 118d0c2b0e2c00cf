// The `jobgroup` command-line tool: see commands.h and `jobgroup --help`.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "client/call_canceller.h"
#include "client/commands.h"
#include "grpc/support/log.h"

namespace {

// gRPC's own log lines (a failed TLS handshake, say) would break the CLI's
// promise of one readable line per error; GRPC_VERBOSITY brings them back.
void DropGrpcLog(gpr_log_func_args*) {}

// Ctrl-C: the first cancels the call in flight (the command then prints
// what it received and exits 130); the second, or one while no call is in
// flight (reading the jobs file, info, health), exits 130 at once. SIGINT is
// blocked in every thread (the mask is inherited) and taken here with
// sigwait(), so the cancellation runs on an ordinary thread, not in a
// signal handler.
void WatchCtrlC(jobgroup::client::CallCanceller* canceller) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([canceller, set] {
    int sig = 0;
    sigwait(&set, &sig);
    if (canceller->Cancel()) sigwait(&set, &sig);
    _exit(jobgroup::client::kExitInterrupted);
  }).detach();
}

}  // namespace

int main(int argc, char** argv) {
  // Unsynchronised streams are faster, and let std::cin report how much input
  // is ready (see JsonlJobReader::ReadyNow()).
  std::ios::sync_with_stdio(false);
  if (std::getenv("GRPC_VERBOSITY") == nullptr) {
    gpr_set_log_function(DropGrpcLog);
  }
  static jobgroup::client::CallCanceller interrupt;
  WatchCtrlC(&interrupt);
  const jobgroup::client::Console console{
      .in = &std::cin,
      .out = &std::cout,
      .err = &std::cerr,
      .stdin_is_terminal = isatty(STDIN_FILENO) == 1,
      .stdout_is_terminal = isatty(STDOUT_FILENO) == 1,
      .stderr_is_terminal = isatty(STDERR_FILENO) == 1,
      // https://no-color.org: set and not empty.
      .no_color = std::getenv("NO_COLOR") != nullptr &&
                  *std::getenv("NO_COLOR") != '\0',
      .interrupt = &interrupt,
  };
  const std::vector<std::string> args(argv + 1, argv + argc);
  const int status = jobgroup::client::RunCli(args, console);
  std::cout.flush();
  return status;
}

// `jobgroup top`; see top_command.h.
#include "client/top_command.h"

#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/admin_client.h"
#include "client/admin_options.h"
#include "client/cli_flags.h"
#include "client/human_duration.h"
#include "client/terminal_screen.h"
#include "client/top_view.h"

namespace jobgroup::client {
namespace {

using ::jobgroup::admin::v1::ServerSnapshot;

constexpr absl::Duration kMinInterval = absl::Milliseconds(100);
constexpr absl::Duration kCancelDeadline = absl::Seconds(5);
constexpr char kCancelReason[] = "cancelled from jobgroup top";
// Plain snapshots are as wide as a classic terminal.
constexpr int kPlainWidth = 100;

constexpr char kTopCommandUsage[] =
    R"(Usage: jobgroup top [flags]

What the server is doing now, refreshed every --interval, from the admin API
(WatchServer; needs an admin token, see 'jobgroup calls --help'): the
server's version, uptime, draining, calls and jobs in flight, memory in
use/budget, jobs ended per second by outcome, the queue and the workers;
the calls in flight (top by jobs in flight) with a progress bar each
(done/total); the backends with an in_use/capacity bar and their waiters.

On a terminal the view is full-screen. Keys:
  q           quit (Ctrl-C too)
  s           sort the calls by jobs in flight, age, deadline left
  up/down j/k select a call
  c           cancel the selected call (asks first: y to confirm); the
              reason sent is "cancelled from jobgroup top"
When stdout is not a terminal (or TERM=dumb), a plain-text snapshot is
printed every interval instead, blocks separated by a blank line. NO_COLOR
turns the colours off.

Examples:
  jobgroup top --admin-token-file admin.token
  jobgroup top --once --admin-token-file admin.token > snapshot.txt
  JOBGROUP_ADMIN_TOKEN=... jobgroup --target db1:50051 top --interval 500ms

)";

struct Shared {
  absl::Mutex mu;
  std::optional<ServerSnapshot> latest ABSL_GUARDED_BY(mu);
  uint64_t seq ABSL_GUARDED_BY(mu) = 0;
  bool ended ABSL_GUARDED_BY(mu) = false;
  absl::Status status ABSL_GUARDED_BY(mu);
};

bool Interrupted(const Console& c) {
  return c.interrupt != nullptr && c.interrupt->cancelled();
}

int EndWith(const Console& c, const absl::Status& status) {
  if (Interrupted(c)) return kExitInterrupted;
  if (!status.ok()) {
    *c.err << "jobgroup top: " << status.message() << '\n';
    return kExitUsageOrConnection;
  }
  return kExitOk;
}

// Plain snapshots (and --once on a terminal): no screen control.
int RunPlain(const Console& c, AdminClient& client, absl::Duration interval,
             uint32_t max_calls, bool once, bool color, int width) {
  TopViewState state;
  bool first = true;
  const absl::Status status = client.WatchServer(
      interval, max_calls, c.interrupt, [&](const ServerSnapshot& snapshot) {
        if (!first) *c.out << '\n';
        first = false;
        for (const std::string& line :
             RenderTop(snapshot, state, {.width = width, .color = color})) {
          *c.out << line << '\n';
        }
        c.out->flush();
        return !once;
      });
  return EndWith(c, status);
}

std::string DescribeCancel(
    const absl::StatusOr<jobgroup::admin::v1::CancelCallResponse>& result,
    const std::string& id) {
  if (!result.ok())
    return absl::StrCat("cancel failed: ", result.status().message());
  const auto& call = result->call();
  return absl::StrCat("cancelled call ", id, " (", call.method(), ", ",
                      call.jobs_running() + call.jobs_pending(),
                      " jobs end CANCELLED)");
}

int RunInteractive(const Console& c, AdminClient& client,
                   absl::Duration interval, uint32_t max_calls, bool color) {
  CallCanceller own_stop;
  CallCanceller* stop = c.interrupt != nullptr ? c.interrupt : &own_stop;
  Shared shared;
  std::thread reader([&] {
    const absl::Status status = client.WatchServer(
        interval, max_calls, stop, [&](const ServerSnapshot& snapshot) {
          absl::MutexLock lock(&shared.mu);
          shared.latest = snapshot;
          ++shared.seq;
          return true;
        });
    absl::MutexLock lock(&shared.mu);
    shared.ended = true;
    shared.status = status;
  });

  bool quit = false;
  bool ctrl_c = false;
  absl::Status end_status;
  {
    TerminalScreen screen(STDIN_FILENO, STDOUT_FILENO, *c.out);
    TopViewState state;
    state.interactive = true;
    std::optional<ServerSnapshot> snapshot;
    uint64_t drawn_seq = 0;
    std::string confirm_id;  // Not empty: waiting for y/N.
    bool dirty = true;
    while (true) {
      {
        absl::MutexLock lock(&shared.mu);
        if (shared.ended) {
          end_status = shared.status;
          break;
        }
        if (shared.seq != drawn_seq) {
          drawn_seq = shared.seq;
          snapshot = shared.latest;
          dirty = true;
        }
      }
      if (dirty) {
        const int width = screen.width();
        if (snapshot.has_value()) {
          state.selected_call_id =
              SelectedCall(*snapshot, state.sort, state.selected_call_id);
          screen.Draw(
              RenderTop(*snapshot, state, {.width = width, .color = color}));
        } else {
          screen.Draw({absl::StrCat("connecting to ", client.target(), "...")});
        }
        dirty = false;
      }
      const std::optional<int> key = screen.ReadKey(absl::Milliseconds(50));
      if (!key.has_value()) continue;
      dirty = true;
      if (*key == kKeyCtrlC) {
        ctrl_c = true;
        break;
      }
      if (!confirm_id.empty()) {
        if (*key == 'y' || *key == 'Y') {
          state.status_line =
              absl::StrCat("cancelling call ", confirm_id, "...");
          if (snapshot.has_value()) {
            screen.Draw(RenderTop(*snapshot, state,
                                  {.width = screen.width(), .color = color}));
          }
          state.status_line = DescribeCancel(
              client.CancelCall(confirm_id, kCancelReason, kCancelDeadline),
              confirm_id);
        } else {
          state.status_line =
              absl::StrCat("call ", confirm_id, " not cancelled");
        }
        confirm_id.clear();
        continue;
      }
      if (*key == 'q' || *key == 'Q') {
        quit = true;
        break;
      }
      if (!snapshot.has_value()) continue;
      if (*key == 's') {
        state.sort = NextSort(state.sort);
      } else if (*key == 'j' || *key == kKeyDown) {
        state.selected_call_id =
            MoveSelection(*snapshot, state.sort, state.selected_call_id, 1);
      } else if (*key == 'k' || *key == kKeyUp) {
        state.selected_call_id =
            MoveSelection(*snapshot, state.sort, state.selected_call_id, -1);
      } else if (*key == 'c') {
        const std::string id =
            SelectedCall(*snapshot, state.sort, state.selected_call_id);
        if (id.empty()) {
          state.status_line = "no call to cancel";
        } else {
          confirm_id = id;
          state.status_line = absl::StrCat("cancel call ", id, "? [y/N]");
        }
      }
    }
    stop->Cancel();
    reader.join();
  }  // The terminal is restored here.
  if (ctrl_c) return kExitInterrupted;
  if (quit) return kExitOk;
  return EndWith(c, end_status);
}

}  // namespace

int TopCommand(const std::vector<std::string>& args, const Console& c) {
  FlagParser parser("jobgroup top");
  parser.Section("View")
      .Value("interval", "DURATION",
             "time between snapshots (default 1s, at least 100ms)")
      .Bool("once", "print one snapshot and exit")
      .Value("max-calls", "N",
             "calls in each snapshot, the top by jobs in\n"
             "flight (default 20, at most 1000)");
  AddAdminFlags(parser);
  absl::StatusOr<ParsedFlags> flags = parser.Parse(args);
  auto usage_error = [&](absl::string_view message) {
    *c.err << "jobgroup top: " << message << " (see 'jobgroup top --help')\n";
    return kExitUsageOrConnection;
  };
  if (!flags.ok()) return usage_error(flags.status().message());
  if (flags->help()) {
    *c.out << kTopCommandUsage << parser.FlagsHelp()
           << "  --help                  this text\n\n"
              "Exit status: 0 quit, --once, or the server ended the stream; "
              "2 usage\nerror or failed call (no admin token, admin API off, "
              "server unreachable);\n130 Ctrl-C.\n";
    return kExitOk;
  }
  if (!flags->positional().empty()) {
    return usage_error(absl::StrCat("unexpected argument \"",
                                    flags->positional().front(), "\""));
  }
  absl::Duration interval = absl::Seconds(1);
  if (flags->Has("interval")) {
    absl::StatusOr<absl::Duration> d =
        ParseHumanDuration(flags->Get("interval"));
    if (!d.ok()) {
      return usage_error(absl::StrCat("--interval: ", d.status().message()));
    }
    if (*d < kMinInterval) {
      return usage_error(absl::StrCat("--interval: ", flags->Get("interval"),
                                      " is below the minimum, 100ms"));
    }
    interval = *d;
  }
  uint32_t max_calls = 0;
  if (flags->Has("max-calls")) {
    absl::StatusOr<uint64_t> n =
        ParseUintFlag("max-calls", flags->Get("max-calls"), 1000);
    if (!n.ok()) return usage_error(n.status().message());
    max_calls = static_cast<uint32_t>(*n);
  }
  absl::StatusOr<AdminOptions> options = AdminOptionsFromFlags(*flags);
  if (!options.ok()) return usage_error(options.status().message());
  absl::StatusOr<std::unique_ptr<AdminClient>> client =
      AdminClient::Create(options->connection, options->admin_token);
  if (!client.ok()) return usage_error(client.status().message());

  const char* term = std::getenv("TERM");
  const bool dumb = term != nullptr && absl::string_view(term) == "dumb";
  const bool screen = c.stdout_is_terminal && !dumb;
  const bool color = screen && !c.no_color;
  if (!screen || flags->GetBool("once")) {
    int width = kPlainWidth;
    if (screen) width = TerminalColumns(STDOUT_FILENO);
    return RunPlain(c, **client, interval, max_calls, flags->GetBool("once"),
                    color, width);
  }
  return RunInteractive(c, **client, interval, max_calls, color);
}

}  // namespace jobgroup::client

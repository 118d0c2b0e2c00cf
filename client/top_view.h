// The screen of `jobgroup top` as a pure function: a ServerSnapshot of
// jobgroup.admin.v1.AdminService/WatchServer, the viewer's state (sort,
// selected call, status line) and the terminal's width in, the lines to draw
// out. No I/O and no clock (ages are measured against the snapshot's own
// time), so the rendering is unit-tested with hand-built snapshots; the
// terminal handling is in top_command.cc.
//
// Stateless functions over plain values; thread-safe.
#ifndef JOBGROUP_CLIENT_TOP_VIEW_H_
#define JOBGROUP_CLIENT_TOP_VIEW_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "jobgroup/admin/v1/admin.pb.h"

namespace jobgroup::client {

// How the calls are ordered; `s` cycles through them in this order.
enum class TopSort {
  kJobsInFlight,  // Running plus pending, most first.
  kAge,           // Oldest first.
  kDeadlineLeft,  // Least time left first.
};

// TopSortName() is the label shown in the header: "jobs in flight", "age",
// "deadline left".
absl::string_view TopSortName(TopSort sort);

// NextSort() is the sort after `sort`, wrapping around.
TopSort NextSort(TopSort sort);

// What the viewer has chosen, and what the screen says besides the snapshot.
struct TopViewState {
  TopSort sort = TopSort::kJobsInFlight;
  // The call the cursor is on; empty or unknown: the first call shown.
  std::string selected_call_id;
  // Shown on the last line: the result of a cancel, a prompt, an error.
  std::string status_line;
  // The full-screen view: marks the selected call and lists the keys. Off
  // for the plain snapshots written when stdout is not a terminal.
  bool interactive = false;
};

struct TopStyle {
  // Columns of the terminal; every line is cut to fit. At least 20 is used.
  int width = 80;
  // ANSI colours and reverse video (off with NO_COLOR, TERM=dumb, or a pipe).
  bool color = false;
};

// SortCalls() orders the calls of `snapshot` by `sort`; ties keep the
// server's order. Pointers into `snapshot`.
std::vector<const jobgroup::admin::v1::CallInfo*> SortCalls(
    const jobgroup::admin::v1::ServerSnapshot& snapshot, TopSort sort);

// SelectedCall() is the id of the call the cursor is on: `selected` when it
// is still in the snapshot, else the first call in `sort` order, else "".
std::string SelectedCall(const jobgroup::admin::v1::ServerSnapshot& snapshot,
                         TopSort sort, absl::string_view selected);

// MoveSelection() moves the cursor `delta` rows (negative: up) from
// `selected` in `sort` order, stopping at the first and last call.
std::string MoveSelection(const jobgroup::admin::v1::ServerSnapshot& snapshot,
                          TopSort sort, absl::string_view selected, int delta);

// RenderBar() draws `[####......]` `width` characters wide (brackets
// included, at least 3) filled in proportion `part`/`whole` (empty when
// `whole` is 0; full when `part` >= `whole`).
std::string RenderBar(uint64_t part, uint64_t whole, int width);

// CompactDuration() prints `d` in at most 6 characters for tables: "850ms",
// "12.3s", "3m05s", "1h02m", "3d04h"; "0s" for zero, "-" for a negative or
// infinite duration.
std::string CompactDuration(absl::Duration d);

// CompactBytes() prints a byte count: "512B", "12.3KiB", "256MiB".
std::string CompactBytes(uint64_t bytes);

// CallFlags() is the flags column of a call: "DRAINING", "CANCELLED" (by an
// operator), both joined by ',', or "".
std::string CallFlags(const jobgroup::admin::v1::CallInfo& call);

// WaitingOn() names the backends the call waits on with its permit
// requests queued there: "db:2,http:1", or "-" when it waits on none.
std::string WaitingOn(const jobgroup::admin::v1::CallInfo& call);

// CallAge() is how long the call has run at the snapshot's `now`.
absl::Duration CallAge(const jobgroup::admin::v1::CallInfo& call,
                       absl::Time now);

// RenderTop() is the screen: the header (version, uptime, draining, calls
// and jobs in flight, memory, rates by outcome, queue and workers), the
// calls with a progress bar each, the backends with an in-use bar and their
// waiters, then the status line when not empty. Each line is at most
// `style.width` visible characters; with `style.color` off, no line holds
// an escape character.
std::vector<std::string> RenderTop(
    const jobgroup::admin::v1::ServerSnapshot& snapshot,
    const TopViewState& state, const TopStyle& style);

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_TOP_VIEW_H_

// The rendering of `jobgroup top`; see top_view.h.
#include "client/top_view.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace jobgroup::client {
namespace {

using ::jobgroup::admin::v1::BackendInfo;
using ::jobgroup::admin::v1::CallInfo;
using ::jobgroup::admin::v1::ServerSnapshot;

constexpr char kBold[] = "\x1b[1m";
constexpr char kReverse[] = "\x1b[7m";
constexpr char kYellow[] = "\x1b[33m";
constexpr char kReset[] = "\x1b[0m";

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

uint64_t Done(const CallInfo& call) {
  return call.succeeded() + call.failed() + call.cancelled() +
         call.deadline_exceeded() + call.rejected();
}

// Cuts `line` to `width` characters (the text is ASCII but for what the
// server sends: ids, peers, versions, cut bytewise).
std::string Fit(std::string line, int width) {
  if (static_cast<int>(line.size()) > width) line.resize(width);
  return line;
}

std::string Pad(absl::string_view text, int width, bool right = false) {
  std::string cell(text.substr(0, std::max(width, 0)));
  const std::string fill(std::max(0, width - static_cast<int>(cell.size())),
                         ' ');
  return right ? fill + cell : cell + fill;
}

// Joins `items` with two spaces, starting a new line (indented by two)
// whenever the next item would not fit in `width`.
void Wrap(const std::vector<std::string>& items, int width,
          std::vector<std::string>& lines) {
  std::string line;
  for (const std::string& item : items) {
    if (!line.empty() &&
        static_cast<int>(line.size() + 2 + item.size()) > width) {
      lines.push_back(Fit(line, width));
      line = "  ";
    } else if (!line.empty()) {
      line += "  ";
    }
    line += item;
  }
  if (!line.empty()) lines.push_back(Fit(line, width));
}

std::string Rate(double per_second) {
  return absl::StrFormat("%.1f", per_second);
}

// One column of the calls table.
struct Column {
  std::string title;
  int width;
  bool right;
};

}  // namespace

absl::string_view TopSortName(TopSort sort) {
  switch (sort) {
    case TopSort::kJobsInFlight:
      return "jobs in flight";
    case TopSort::kAge:
      return "age";
    case TopSort::kDeadlineLeft:
      return "deadline left";
  }
  return "jobs in flight";
}

TopSort NextSort(TopSort sort) {
  switch (sort) {
    case TopSort::kJobsInFlight:
      return TopSort::kAge;
    case TopSort::kAge:
      return TopSort::kDeadlineLeft;
    case TopSort::kDeadlineLeft:
      return TopSort::kJobsInFlight;
  }
  return TopSort::kJobsInFlight;
}

std::vector<const CallInfo*> SortCalls(const ServerSnapshot& snapshot,
                                       TopSort sort) {
  std::vector<const CallInfo*> calls;
  calls.reserve(snapshot.calls_size());
  for (const CallInfo& call : snapshot.calls()) calls.push_back(&call);
  std::stable_sort(
      calls.begin(), calls.end(), [sort](const CallInfo* a, const CallInfo* b) {
        switch (sort) {
          case TopSort::kJobsInFlight:
            return a->jobs_running() + a->jobs_pending() >
                   b->jobs_running() + b->jobs_pending();
          case TopSort::kAge:
            return FromProto(a->start_time()) < FromProto(b->start_time());
          case TopSort::kDeadlineLeft: {
            // Calls without a deadline go last.
            const absl::Duration da = a->has_deadline_left()
                                          ? FromProto(a->deadline_left())
                                          : absl::InfiniteDuration();
            const absl::Duration db = b->has_deadline_left()
                                          ? FromProto(b->deadline_left())
                                          : absl::InfiniteDuration();
            return da < db;
          }
        }
        return false;
      });
  return calls;
}

std::string SelectedCall(const ServerSnapshot& snapshot, TopSort sort,
                         absl::string_view selected) {
  const std::vector<const CallInfo*> calls = SortCalls(snapshot, sort);
  for (const CallInfo* call : calls) {
    if (call->call_id() == selected) return call->call_id();
  }
  return calls.empty() ? std::string() : calls.front()->call_id();
}

std::string MoveSelection(const ServerSnapshot& snapshot, TopSort sort,
                          absl::string_view selected, int delta) {
  const std::vector<const CallInfo*> calls = SortCalls(snapshot, sort);
  if (calls.empty()) return "";
  int index = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    if (calls[i]->call_id() == selected) index = static_cast<int>(i);
  }
  index = std::clamp(index + delta, 0, static_cast<int>(calls.size()) - 1);
  return calls[index]->call_id();
}

std::string RenderBar(uint64_t part, uint64_t whole, int width) {
  const int inner = std::max(width, 3) - 2;
  int filled = 0;
  if (whole > 0) {
    filled = part >= whole
                 ? inner
                 : static_cast<int>(static_cast<double>(part) * inner /
                                    static_cast<double>(whole));
  }
  return absl::StrCat("[", std::string(filled, '#'),
                      std::string(inner - filled, '.'), "]");
}

std::string CompactDuration(absl::Duration d) {
  if (d < absl::ZeroDuration() || d == absl::InfiniteDuration()) return "-";
  if (d == absl::ZeroDuration()) return "0s";
  if (d < absl::Seconds(1)) {
    return absl::StrCat(absl::ToInt64Milliseconds(d), "ms");
  }
  if (d < absl::Minutes(1)) {
    return absl::StrFormat("%.1fs", absl::ToDoubleSeconds(d));
  }
  const int64_t s = absl::ToInt64Seconds(d);
  if (d < absl::Hours(1)) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  if (d < absl::Hours(24)) {
    return absl::StrFormat("%dh%02dm", s / 3600, (s / 60) % 60);
  }
  return absl::StrFormat("%dd%02dh", s / 86400, (s / 3600) % 24);
}

std::string CompactBytes(uint64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, "B");
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  if (value < 10 && std::floor(value) != value) {
    return absl::StrFormat("%.1f%s", value, kUnits[unit]);
  }
  return absl::StrFormat("%.0f%s", value, kUnits[unit]);
}

std::string CallFlags(const CallInfo& call) {
  std::vector<absl::string_view> flags;
  if (call.draining()) flags.push_back("DRAINING");
  if (call.cancelled_by_operator()) flags.push_back("CANCELLED");
  return absl::StrJoin(flags, ",");
}

std::string WaitingOn(const CallInfo& call) {
  if (call.waiting_on().empty()) return "-";
  return absl::StrJoin(
      call.waiting_on(), ",",
      [](std::string* out, const jobgroup::admin::v1::BackendWait& w) {
        absl::StrAppend(out, w.backend(), ":", w.requests());
      });
}

absl::Duration CallAge(const CallInfo& call, absl::Time now) {
  if (!call.has_start_time()) return absl::ZeroDuration();
  return std::max(now - FromProto(call.start_time()), absl::ZeroDuration());
}

std::vector<std::string> RenderTop(const ServerSnapshot& snapshot,
                                   const TopViewState& state,
                                   const TopStyle& style) {
  const int width = std::max(style.width, 20);
  const absl::Time now = FromProto(snapshot.time());
  std::vector<std::string> lines;

  // ---- header ----
  std::vector<std::string> title = {
      absl::StrCat("jobgroupd ",
                   snapshot.version().empty() ? "?" : snapshot.version()),
      absl::StrCat("up ", CompactDuration(FromProto(snapshot.uptime())))};
  if (snapshot.draining()) title.push_back("DRAINING");
  title.push_back(absl::StrCat("calls ", snapshot.calls_in_flight()));
  title.push_back(absl::StrCat("jobs in flight ", snapshot.jobs_in_flight()));
  const size_t title_start = lines.size();
  Wrap(title, width, lines);
  const size_t title_end = lines.size();

  std::vector<std::string> resources;
  if (snapshot.memory_budget_bytes() > 0) {
    resources.push_back(
        absl::StrCat("memory ", CompactBytes(snapshot.memory_in_use_bytes()),
                     "/", CompactBytes(snapshot.memory_budget_bytes()), " ",
                     RenderBar(snapshot.memory_in_use_bytes(),
                               snapshot.memory_budget_bytes(), 12)));
  } else {
    resources.push_back(
        absl::StrCat("memory ", CompactBytes(snapshot.memory_in_use_bytes()),
                     " (no budget)"));
  }
  const auto& queue = snapshot.queue();
  std::string queue_text =
      absl::StrCat("queue ", queue.depth(), "/", queue.capacity());
  if (queue.parked() > 0)
    absl::StrAppend(&queue_text, " parked ", queue.parked());
  resources.push_back(queue_text);
  const auto& workers = snapshot.workers();
  resources.push_back(
      absl::StrCat("workers ", workers.busy(), "/", workers.workers(), " busy ",
                   RenderBar(workers.busy(), workers.workers(), 8)));
  Wrap(resources, width, lines);

  const auto& rates = snapshot.rates();
  Wrap({absl::StrCat("rates/s (", CompactDuration(FromProto(rates.window())),
                     "):"),
        absl::StrCat("succeeded ", Rate(rates.succeeded())),
        absl::StrCat("failed ", Rate(rates.failed())),
        absl::StrCat("cancelled ", Rate(rates.cancelled())),
        absl::StrCat("deadline ", Rate(rates.deadline_exceeded())),
        absl::StrCat("rejected ", Rate(rates.rejected())),
        absl::StrCat("calls ", Rate(rates.calls()))},
       width, lines);

  std::vector<std::string> sort_line = {
      absl::StrCat("sort: ", TopSortName(state.sort))};
  if (state.interactive) {
    sort_line.push_back("keys: s sort  j/k select  c cancel  q quit");
  }
  Wrap(sort_line, width, lines);
  lines.push_back("");

  // ---- calls ----
  std::string calls_title =
      absl::StrCat("CALLS (", snapshot.calls_in_flight(), " in flight");
  if (snapshot.calls_omitted() > 0) {
    absl::StrAppend(&calls_title, ", ", snapshot.calls_omitted(), " not shown");
  }
  lines.push_back(Fit(calls_title + ")", width));

  const int id_width = width >= 160 ? 32 : width >= 60 ? 12 : 8;
  std::vector<Column> columns = {{"CALL_ID", id_width, false}};
  const bool wide = width >= 80, wider = width >= 100, widest = width >= 120;
  if (wider) columns.push_back({"METHOD", 11, false});
  if (widest) columns.push_back({"PEER", 21, false});
  if (width >= 160) columns.push_back({"IDENTITY", 19, false});
  if (width >= 60) columns.push_back({"AGE", 6, true});
  if (wide) columns.push_back({"DEADLINE_LEFT", 13, true});
  columns.push_back({"DONE/TOTAL", 11, true});
  if (wide) {
    columns.push_back({"RUNNING", 7, true});
    columns.push_back({"PENDING", 7, true});
  }
  if (wider) columns.push_back({"FLAGS", 9, false});
  if (widest) columns.push_back({"WAITING_ON", 12, false});
  int used = 2;
  for (const Column& column : columns) used += column.width + 1;
  const int bar_width = std::max(width - used, 0);

  auto row = [&](const std::vector<std::string>& cells, absl::string_view bar,
                 absl::string_view marker) {
    std::string line(marker);
    for (size_t i = 0; i < columns.size(); ++i) {
      absl::StrAppend(&line, Pad(cells[i], columns[i].width, columns[i].right),
                      " ");
    }
    absl::StrAppend(&line, bar);
    return Fit(line, width);
  };
  std::vector<std::string> titles;
  for (const Column& column : columns) titles.push_back(column.title);
  const size_t calls_header = lines.size();
  lines.push_back(row(titles, bar_width >= 10 ? "PROGRESS" : "", "  "));

  const std::string selected =
      state.interactive
          ? SelectedCall(snapshot, state.sort, state.selected_call_id)
          : std::string();
  size_t selected_line = 0;
  const std::vector<const CallInfo*> calls = SortCalls(snapshot, state.sort);
  if (calls.empty()) lines.push_back("  (no calls in flight)");
  for (const CallInfo* call : calls) {
    std::vector<std::string> cells = {call->call_id()};
    if (wider) cells.push_back(call->method());
    if (widest) cells.push_back(call->peer());
    if (width >= 160) cells.push_back(call->identity());
    if (width >= 60) cells.push_back(CompactDuration(CallAge(*call, now)));
    if (wide) {
      cells.push_back(call->has_deadline_left()
                          ? CompactDuration(FromProto(call->deadline_left()))
                          : "-");
    }
    cells.push_back(absl::StrCat(Done(*call), "/", call->jobs_total()));
    if (wide) {
      cells.push_back(absl::StrCat(call->jobs_running()));
      cells.push_back(absl::StrCat(call->jobs_pending()));
    }
    if (wider) cells.push_back(CallFlags(*call));
    if (widest) cells.push_back(WaitingOn(*call));
    const bool is_selected = !selected.empty() && call->call_id() == selected;
    if (is_selected) selected_line = lines.size();
    lines.push_back(row(
        cells,
        bar_width >= 3 ? RenderBar(Done(*call), call->jobs_total(), bar_width)
                       : "",
        is_selected ? "> " : "  "));
  }
  lines.push_back("");

  // ---- backends ----
  lines.push_back("BACKENDS");
  const size_t backends_header = lines.size();
  const int name_width = width >= 80 ? 20 : 12;
  const bool show_oldest = width >= 60;
  auto backend_row = [&](absl::string_view name, absl::string_view use,
                         absl::string_view waiting, absl::string_view oldest,
                         absl::string_view bar) {
    std::string line =
        absl::StrCat("  ", Pad(name, name_width), " ", Pad(use, 11, true), " ",
                     Pad(waiting, 7, true), " ");
    if (show_oldest) absl::StrAppend(&line, Pad(oldest, 11, true), " ");
    absl::StrAppend(&line, bar);
    return Fit(line, width);
  };
  const int backend_bar =
      width - (2 + name_width + 1 + 11 + 1 + 7 + 1 + (show_oldest ? 12 : 0));
  lines.push_back(backend_row("NAME", "IN_USE/CAP", "WAITING", "OLDEST_WAIT",
                              backend_bar >= 5 ? "USE" : ""));
  if (snapshot.backends().empty()) lines.push_back("  (no backends)");
  for (const BackendInfo& backend : snapshot.backends()) {
    lines.push_back(backend_row(
        backend.name(), absl::StrCat(backend.in_use(), "/", backend.capacity()),
        absl::StrCat(backend.waiting()),
        backend.waiting() > 0
            ? CompactDuration(FromProto(backend.oldest_wait()))
            : "-",
        backend_bar >= 3 ? RenderBar(static_cast<uint64_t>(std::max<int64_t>(
                                         backend.in_use(), 0)),
                                     static_cast<uint64_t>(std::max<int64_t>(
                                         backend.capacity(), 0)),
                                     std::min(backend_bar, 30))
                         : ""));
  }

  size_t status_index = 0;
  if (!state.status_line.empty()) {
    lines.push_back("");
    status_index = lines.size();
    lines.push_back(Fit(state.status_line, width));
  }

  if (style.color) {
    const char* title_style = snapshot.draining() ? "\x1b[1;33m" : kBold;
    for (size_t i = title_start; i < title_end; ++i) {
      lines[i] = absl::StrCat(title_style, lines[i], kReset);
    }
    lines[calls_header] = absl::StrCat(kBold, lines[calls_header], kReset);
    lines[backends_header] =
        absl::StrCat(kBold, lines[backends_header], kReset);
    if (selected_line != 0) {
      lines[selected_line] =
          absl::StrCat(kReverse, lines[selected_line], kReset);
    }
    if (status_index != 0) {
      lines[status_index] = absl::StrCat(kYellow, lines[status_index], kReset);
    }
  }
  return lines;
}

}  // namespace jobgroup::client

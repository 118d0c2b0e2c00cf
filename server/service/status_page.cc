// Implementation of the status page (RenderStatusHtml and the rest).
#include "server/service/status_page.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"

namespace jobgroup {
namespace {

using admin::v1::BackendInfo;
using admin::v1::CallInfo;
using admin::v1::ServerSnapshot;

// Light and dark by the reader's setting; one column on a phone.
constexpr absl::string_view kStyle = R"css(
:root{color-scheme:light dark;--fg:#1d1d1f;--bg:#fafafa;--muted:#6b6b70;
--line:#d9d9de;--card:#fff;--track:#e6e6ea;--ok:#3f8f5a;--bad:#c0453a;
--other:#b48a2c;--run:#7c8db0}
@media (prefers-color-scheme:dark){:root{--fg:#e6e6e9;--bg:#161618;
--muted:#9a9aa2;--line:#34343a;--card:#1f1f22;--track:#2e2e33;
--ok:#5fb57c;--bad:#e0675c;--other:#d3a849;--run:#8797bb}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:60rem;padding:.75rem;font:15px/1.4 system-ui,
-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:1.25rem;margin:.2rem 0}h2{font-size:1rem;margin:1.1rem 0 .4rem}
small,.muted{color:var(--muted)}code{font:13px ui-monospace,Menlo,monospace;
word-break:break-all}
.badge{display:inline-block;padding:0 .45rem;border-radius:.6rem;
font-size:.8rem;border:1px solid var(--line)}
.badge.warn{border-color:var(--bad);color:var(--bad)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(10.5rem,1fr));
gap:.5rem}
.tile,.call{background:var(--card);border:1px solid var(--line);
border-radius:.5rem;padding:.5rem .65rem}
.tile h2{margin:0;font-size:.8rem;color:var(--muted);font-weight:600}
.tile b{font-size:1.2rem}
.call{margin-bottom:.5rem}.call p{margin:.15rem 0}
.bar{display:flex;height:.55rem;border-radius:.3rem;background:var(--track);
overflow:hidden;margin:.3rem 0}
.bar span{display:block;height:100%}
.s-ok{background:var(--ok)}.s-bad{background:var(--bad)}
.s-other{background:var(--other)}.s-run{background:var(--run)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.25rem .4rem;border-bottom:1px solid var(--line);
vertical-align:middle}
th{font-size:.8rem;color:var(--muted);font-weight:600}
td.n{font-variant-numeric:tabular-nums}
.rates{list-style:none;padding:0;margin:0;display:flex;flex-wrap:wrap;
gap:.3rem 1.1rem}
a{color:inherit}footer{margin-top:1rem;font-size:.8rem;color:var(--muted)}
)css";

// Everything the pages load is inline: styles only, no script.
std::string PageHead(absl::string_view title, bool refresh) {
  return absl::StrCat(
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, "
      "initial-scale=1\">\n",
      refresh ? "<meta http-equiv=\"refresh\" content=\"2\">\n" : "", "<title>",
      HtmlEscape(title), "</title>\n<style>", kStyle,
      "</style></head>\n<body>\n");
}

double Seconds(const google::protobuf::Duration& d) {
  return static_cast<double>(d.seconds()) + d.nanos() / 1e9;
}

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// "850ms", "3.2s", "4m05s", "2h07m", "3d04h".
std::string FormatSeconds(double s) {
  if (s < 0) s = 0;
  if (s < 1) return absl::StrFormat("%dms", static_cast<int>(s * 1000));
  if (s < 60) return absl::StrFormat("%.1fs", s);
  int64_t n = static_cast<int64_t>(s);
  if (n < 3600) return absl::StrFormat("%dm%02ds", n / 60, n % 60);
  if (n < 86400) return absl::StrFormat("%dh%02dm", n / 3600, n % 3600 / 60);
  return absl::StrFormat("%dd%02dh", n / 86400, n % 86400 / 3600);
}

// "512 B", "1.5 KiB", "12.0 MiB", "3.2 GiB".
std::string FormatBytes(uint64_t b) {
  if (b < 1024) return absl::StrCat(b, " B");
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b) / 1024;
  int u = 0;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  return absl::StrFormat("%.1f %s", v, units[u]);
}

// A percentage of `part` in `whole`, as a CSS width ("37.5%").
std::string Width(double part, double whole) {
  double p = whole > 0 ? std::clamp(part / whole, 0.0, 1.0) * 100 : 0;
  return absl::StrFormat("%.1f%%", p);
}

// A bar of one value against its whole.
std::string Bar(double part, double whole, absl::string_view label) {
  return absl::StrCat(
      "<div class=\"bar\" role=\"img\" aria-label=\"", HtmlEscape(label),
      "\"><span class=\"s-run\" style=\"width:", Width(part, whole),
      "\"></span></div>");
}

std::string Tile(absl::string_view title, absl::string_view body) {
  return absl::StrCat("<div class=\"tile\"><h2>", title, "</h2>", body,
                      "</div>\n");
}

uint64_t Done(const CallInfo& c) {
  return c.succeeded() + c.failed() + c.cancelled() + c.deadline_exceeded() +
         c.rejected();
}

std::string RenderCall(const CallInfo& c, absl::Time now) {
  const uint64_t done = Done(c);
  const double total = static_cast<double>(std::max(c.jobs_total(), done));
  const uint64_t other = c.cancelled() + c.deadline_exceeded() + c.rejected();
  std::string progress = absl::StrCat(done, "/", c.jobs_total());
  std::string out = absl::StrCat(
      "<div class=\"call\">\n<p><code class=\"call-id\">",
      HtmlEscape(c.call_id().empty() ? "(no id)" : c.call_id()), "</code> ",
      "<span class=\"badge\">", HtmlEscape(c.method()), "</span>",
      c.draining() ? " <span class=\"badge warn\">draining</span>" : "",
      c.cancelled_by_operator()
          ? " <span class=\"badge warn\">cancelled by operator</span>"
          : "",
      "</p>\n");
  absl::StrAppend(
      &out, "<div class=\"bar\" role=\"img\" aria-label=\"", progress,
      " jobs done\">",
      "<span class=\"s-ok\" style=\"width:", Width(c.succeeded(), total),
      "\"></span>",
      "<span class=\"s-bad\" style=\"width:", Width(c.failed(), total),
      "\"></span>",
      "<span class=\"s-other\" style=\"width:", Width(other, total),
      "\"></span>",
      "<span class=\"s-run\" style=\"width:", Width(c.jobs_running(), total),
      "\"></span></div>\n");
  absl::StrAppend(&out, "<p><b class=\"progress\">", progress, "</b> done · ",
                  c.jobs_running(), " running · ", c.jobs_pending(),
                  " pending</p>\n");
  if (!c.waiting_on().empty()) {
    std::string waits;
    for (const admin::v1::BackendWait& w : c.waiting_on()) {
      absl::StrAppend(&waits, waits.empty() ? "" : ", ", "<code>",
                      HtmlEscape(w.backend()), "</code> (", w.requests(), ")");
    }
    absl::StrAppend(&out, "<p class=\"waiting-on\">waiting on ", waits,
                    "</p>\n");
  }
  absl::StrAppend(&out, "<p><small>succeeded ", c.succeeded(), " · failed ",
                  c.failed(), " · cancelled ", c.cancelled(),
                  " · deadline exceeded ", c.deadline_exceeded(),
                  " · rejected ", c.rejected(), "</small></p>\n");
  std::string age =
      c.has_start_time()
          ? FormatSeconds(absl::ToDoubleSeconds(now - ToTime(c.start_time())))
          : "?";
  std::string who;
  if (!c.peer().empty()) {
    absl::StrAppend(&who, "peer <code>", HtmlEscape(c.peer()), "</code> · ");
  }
  if (!c.identity().empty()) {
    absl::StrAppend(&who, "identity <code>", HtmlEscape(c.identity()),
                    "</code> · ");
  }
  absl::StrAppend(&out, "<p><small>", who, "age ", age, " · deadline left ",
                  c.has_deadline_left()
                      ? FormatSeconds(Seconds(c.deadline_left()))
                      : "none",
                  "</small></p>\n</div>\n");
  return out;
}

std::string RenderBackends(const ServerSnapshot& s) {
  if (s.backends().empty()) return "<p class=\"muted\">No backends.</p>\n";
  std::string out =
      "<table class=\"backends\"><tr><th>backend</th><th>in use</th>"
      "<th>waiting</th><th>oldest wait</th></tr>\n";
  for (const BackendInfo& b : s.backends()) {
    std::string use = absl::StrCat(b.in_use(), "/", b.capacity());
    absl::StrAppend(
        &out, "<tr><td><code class=\"backend\">", HtmlEscape(b.name()),
        "</code></td><td class=\"n\">", use,
        Bar(b.in_use(), b.capacity(), use + " permits in use"),
        "</td><td class=\"n\">", b.waiting(), "</td><td class=\"n\">",
        b.waiting() > 0 ? FormatSeconds(Seconds(b.oldest_wait())) : "–",
        "</td></tr>\n");
  }
  absl::StrAppend(&out, "</table>\n");
  return out;
}

std::string RenderRates(const ServerSnapshot& s) {
  const auto& r = s.rates();
  std::string window =
      r.has_window()
          ? absl::StrCat(" <small>per second, last ",
                         FormatSeconds(Seconds(r.window())), "</small>")
          : " <small>per second</small>";
  auto item = [](absl::string_view name, double v) {
    return absl::StrFormat("<li><small>%s</small> <b>%.1f</b></li>", name, v);
  };
  return absl::StrCat(
      "<h2>Rates", window, "</h2>\n<ul class=\"rates\">",
      item("succeeded", r.succeeded()), item("failed", r.failed()),
      item("cancelled", r.cancelled()),
      item("deadline exceeded", r.deadline_exceeded()),
      item("rejected", r.rejected()), item("calls", r.calls()), "</ul>\n");
}

}  // namespace

std::string HtmlEscape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderStatusHtml(const ServerSnapshot& s) {
  const absl::Time now = s.has_time() ? ToTime(s.time()) : absl::Now();
  std::string out = PageHead("jobgroupd status", /*refresh=*/true);
  absl::StrAppend(&out, "<header><h1>jobgroupd <small>",
                  HtmlEscape(s.version()), "</small></h1>\n<p>up ",
                  FormatSeconds(Seconds(s.uptime())), " · ",
                  s.draining() ? "<span class=\"badge warn\">draining</span>"
                               : "<span class=\"badge\">serving</span>",
                  " · <small>as of ",
                  absl::FormatTime("%H:%M:%S UTC", now, absl::UTCTimeZone()),
                  "</small></p></header>\n");

  const auto& q = s.queue();
  const auto& w = s.workers();
  std::string workers = absl::StrCat(w.busy(), "/", w.workers());
  std::string queue = absl::StrCat(q.depth(), "/", q.capacity());
  std::string memory = absl::StrCat(FormatBytes(s.memory_in_use_bytes()), " / ",
                                    FormatBytes(s.memory_budget_bytes()));
  absl::StrAppend(
      &out, "<section class=\"grid\">\n",
      Tile("Calls in flight",
           absl::StrCat("<b>", s.calls_in_flight(), "</b>",
                        s.calls_omitted() > 0
                            ? absl::StrCat(" <small>(", s.calls_omitted(),
                                           " not shown)</small>")
                            : "")),
      Tile("Jobs in flight", absl::StrCat("<b>", s.jobs_in_flight(), "</b>")),
      Tile("Workers busy",
           absl::StrCat("<b>", workers, "</b>",
                        Bar(w.busy(), w.workers(), workers + " workers busy"))),
      Tile("Queue",
           absl::StrCat(
               "<b>", queue, "</b> <small>parked ", q.parked(), "</small>",
               Bar(q.depth(), q.capacity(), queue + " queue slots used"))),
      Tile("Memory",
           absl::StrCat("<b>", FormatBytes(s.memory_in_use_bytes()),
                        "</b> <small>of ", FormatBytes(s.memory_budget_bytes()),
                        "</small>",
                        Bar(s.memory_in_use_bytes(), s.memory_budget_bytes(),
                            memory + " memory in use"))),
      "</section>\n");

  absl::StrAppend(&out, "<h2>Calls in flight</h2>\n");
  if (s.calls().empty()) {
    absl::StrAppend(&out, "<p class=\"muted\">No calls in flight.</p>\n");
  }
  for (const CallInfo& c : s.calls()) absl::StrAppend(&out, RenderCall(c, now));
  if (s.calls_omitted() > 0) {
    absl::StrAppend(&out, "<p class=\"muted\">", s.calls_omitted(),
                    " more calls not shown (fewer jobs in flight).</p>\n");
  }
  absl::StrAppend(&out, "<h2>Backends</h2>\n", RenderBackends(s),
                  RenderRates(s));
  absl::StrAppend(&out,
                  "<footer>Refreshes every 2 s · <a href=\"/statusz.json\">"
                  "JSON</a> · <a href=\"/metrics\">metrics</a> · "
                  "<a href=\"/\">index</a></footer>\n</body></html>\n");
  return out;
}

std::string RenderStatusUnavailableHtml() {
  return absl::StrCat(
      PageHead("jobgroupd status", /*refresh=*/true),
      "<h1>jobgroupd</h1>\n<p>status not available</p>\n"
      "<footer><a href=\"/metrics\">metrics</a> · <a href=\"/\">index</a>"
      "</footer>\n</body></html>\n");
}

std::string RenderStatusJson(const ServerSnapshot& s) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  // Cannot fail for a message of the generated pool.
  (void)google::protobuf::util::MessageToJsonString(s, &out, options);
  out += '\n';
  return out;
}

std::string RenderIndexHtml() {
  return absl::StrCat(
      PageHead("jobgroupd", /*refresh=*/false),
      "<h1>jobgroupd</h1>\n<ul>\n"
      "<li><a href=\"/metrics\">/metrics</a>: Prometheus metrics</li>\n"
      "<li><a href=\"/statusz\">/statusz</a>: what the server is doing now"
      "</li>\n"
      "<li><a href=\"/statusz.json\">/statusz.json</a>: the same as JSON "
      "(jobgroup.admin.v1.ServerSnapshot)</li>\n</ul>\n</body></html>\n");
}

}  // namespace jobgroup

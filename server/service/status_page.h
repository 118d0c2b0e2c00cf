// The status page of the metrics port: /statusz (HTML) and /statusz.json,
// rendered from a jobgroup.admin.v1.ServerSnapshot (docs/STATUS_PAGE.md).
//
// Pure functions; safe from any thread. Every string of the snapshot is
// escaped (call ids and peers come from clients). The page refreshes
// itself every 2 s with <meta http-equiv="refresh">, runs no script and
// loads nothing else.
#ifndef JOBGROUP_SERVER_SERVICE_STATUS_PAGE_H_
#define JOBGROUP_SERVER_SERVICE_STATUS_PAGE_H_

#include <string>

#include "absl/strings/string_view.h"
#include "jobgroup/admin/v1/admin.pb.h"

namespace jobgroup {

// `s` with &, <, >, " and ' replaced by character references: safe in HTML
// text and in quoted attribute values.
std::string HtmlEscape(absl::string_view s);

// The /statusz page for `snapshot`.
std::string RenderStatusHtml(const admin::v1::ServerSnapshot& snapshot);
// The /statusz page when the server has no status source ("status not
// available").
std::string RenderStatusUnavailableHtml();

// `snapshot` as proto3 JSON: field names as in the .proto
// (preserve_proto_field_names), fields at their default printed too
// (always_print_primitive_fields), 64-bit integers as strings, durations
// as "1.500s", timestamps as RFC 3339.
std::string RenderStatusJson(const admin::v1::ServerSnapshot& snapshot);

// The index page of the metrics port (/): links to /metrics, /statusz and
// /statusz.json.
std::string RenderIndexHtml();

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_STATUS_PAGE_H_

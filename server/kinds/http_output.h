// The output of a successful http job: one JSON object.
//
//   {"status":200,
//    "url":"https://example.com/final",   the URL that answered (after
//                                          redirects)
//    "redirects":0,                        redirect hops followed
//    "headers":{"content-type":"text/plain", ...},
//                                          names lowercased; repeated headers
//                                          joined with ", " (Set-Cookie with
//                                          "\n")
//    "body":"...",                         text, or base64 when the body is
//                                          not valid UTF-8
//    "body_encoding":"text",               "text" or "base64"
//    "body_bytes":5,                       bytes of the body in the output
//    "truncated":false}                    true: the body was cut at
//                                          max_response_bytes
//
// Pure functions; thread-safe.
#ifndef JOBGROUP_SERVER_KINDS_HTTP_OUTPUT_H_
#define JOBGROUP_SERVER_KINDS_HTTP_OUTPUT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "server/kinds/http_client.h"

namespace jobgroup {

std::string FormatHttpOutput(const HttpResponse& response,
                             absl::string_view url, int redirects);

// `text` as a JSON string, quotes included. Bytes that are not valid UTF-8
// are read as Latin-1.
std::string JsonString(absl::string_view text);

// The length of the longest prefix of `text` that is valid UTF-8.
size_t ValidUtf8Prefix(absl::string_view text);

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_KINDS_HTTP_OUTPUT_H_

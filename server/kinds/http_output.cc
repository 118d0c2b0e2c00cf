// Implementation of the http job's output format.
#include "server/kinds/http_output.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace jobgroup {
namespace {

// The length of the UTF-8 sequence at the start of `s`, or 0 when it is
// not a valid one (overlong, surrogate, past U+10FFFF, cut short).
size_t SequenceLength(absl::string_view s) {
  auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return n;
}

// True when `tail` is the start of a UTF-8 sequence cut short.
bool IsCutSequence(absl::string_view tail) {
  unsigned char lead = static_cast<unsigned char>(tail[0]);
  size_t need = lead >= 0xf0 && lead <= 0xf4   ? 4
                : lead >= 0xe0 && lead <= 0xef ? 3
                : lead >= 0xc2 && lead <= 0xdf ? 2
                                               : 0;
  if (need <= tail.size()) return false;
  for (size_t i = 1; i < tail.size(); ++i) {
    if ((static_cast<unsigned char>(tail[i]) & 0xc0) != 0x80) return false;
  }
  return true;
}

}  // namespace

size_t ValidUtf8Prefix(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    size_t n = SequenceLength(text.substr(i));
    if (n == 0) break;
    i += n;
  }
  return i;
}

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  out.reserve(text.size() + 2);
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t n = SequenceLength(text.substr(i));
    if (n > 1) {
      out.append(text.data() + i, n);
      i += n;
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          absl::StrAppendFormat(&out, "\\u%04x",
                                c);  // Latin-1 for stray bytes.
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

std::string FormatHttpOutput(const HttpResponse& r, absl::string_view url,
                             int redirects) {
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : r.headers) {
    std::string key = absl::AsciiStrToLower(name);
    auto [it, fresh] = headers.emplace(key, value);
    if (!fresh) {
      absl::StrAppend(&it->second, key == "set-cookie" ? "\n" : ", ", value);
    }
  }
  std::string out =
      absl::StrCat("{\"status\":", r.status, ",\"url\":", JsonString(url),
                   ",\"redirects\":", redirects, ",\"headers\":{");
  bool first = true;
  for (const auto& [name, value] : headers) {
    absl::StrAppend(&out, first ? "" : ",", JsonString(name), ":",
                    JsonString(value));
    first = false;
  }
  out += "}";
  absl::string_view body = r.body;
  size_t valid = ValidUtf8Prefix(body);
  // A body cut at the limit may end inside a character: drop that tail
  // rather than call the whole body binary.
  if (r.truncated && valid < body.size() && IsCutSequence(body.substr(valid))) {
    body = body.substr(0, valid);
  }
  if (ValidUtf8Prefix(body) == body.size()) {
    absl::StrAppend(&out, ",\"body\":", JsonString(body),
                    ",\"body_encoding\":\"text\"");
  } else {
    absl::StrAppend(&out, ",\"body\":\"", absl::Base64Escape(body),
                    "\",\"body_encoding\":\"base64\"");
  }
  absl::StrAppend(&out, ",\"body_bytes\":", body.size(),
                  ",\"truncated\":", r.truncated ? "true" : "false", "}");
  return out;
}

}  // namespace jobgroup

// Outputs shown as text or base64; see output_text.h.
#include "client/output_text.h"

#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace jobgroup::client {
namespace {

// The length of the UTF-8 sequence at bytes[i] and its code point; 0 when
// it is not well-formed.
size_t Utf8Sequence(absl::string_view bytes, size_t i, uint32_t* code_point) {
  const unsigned char b = static_cast<unsigned char>(bytes[i]);
  if (b < 0x80) {
    *code_point = b;
    return 1;
  }
  size_t n;
  uint32_t min;
  uint32_t c;
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2, min = 0x80, c = b & 0x1F;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3, min = 0x800, c = b & 0x0F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4, min = 0x10000, c = b & 0x07;
  } else {
    return 0;
  }
  if (i + n > bytes.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const unsigned char t = static_cast<unsigned char>(bytes[i + k]);
    if ((t & 0xC0) != 0x80) return 0;
    c = (c << 6) | (t & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *code_point = c;
  return n;
}

}  // namespace

bool IsValidUtf8(absl::string_view bytes) {
  uint32_t c;
  for (size_t i = 0; i < bytes.size();) {
    const size_t n = Utf8Sequence(bytes, i, &c);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string DisplayOutput(absl::string_view bytes, size_t max_chars) {
  const std::string size = absl::StrCat(bytes.size(), " bytes");
  if (!IsValidUtf8(bytes)) {
    // Base64 of a prefix: 3 bytes give 4 characters.
    const size_t prefix = (max_chars / 4) * 3;
    std::string text = absl::Base64Escape(bytes.substr(0, prefix));
    const bool cut = bytes.size() > prefix;
    return absl::StrCat("base64:", text, cut ? "..." : "", " (", size,
                        ", not UTF-8)");
  }
  std::string text = "\"";
  size_t chars = 0;
  size_t i = 0;
  while (i < bytes.size() && chars < max_chars) {
    uint32_t c;
    const size_t n = Utf8Sequence(bytes, i, &c);
    switch (c) {
      case '\n':
        text += "\\n";
        break;
      case '\r':
        text += "\\r";
        break;
      case '\t':
        text += "\\t";
        break;
      case '\\':
        text += "\\\\";
        break;
      case '"':
        text += "\\\"";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          absl::StrAppendFormat(&text, "\\x%02x", c);
        } else if (c >= 0x80 && c <= 0x9F) {
          absl::StrAppendFormat(&text, "\\u%04x", c);
        } else {
          text.append(bytes.data() + i, n);
        }
    }
    i += n;
    ++chars;
  }
  text += '"';
  if (i < bytes.size()) text += "...";
  return absl::StrCat(text, " (", size, ")");
}

}  // namespace jobgroup::client

#include "client/job_result_json.h"

#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/util/json_util.h"

namespace jobgroup::client {
namespace {

using ::jobgroup::v1::JobResult;

// Protobuf's JSON printer writes these code points as \uXXXX escapes besides
// the controls, '"', '\\', '<', '>' and U+007F..U+009F: format and
// separator characters that some parsers or displays mishandle. The ranges
// are read off protobuf 3.21's output (job_result_json_test.cc checks every
// code point).
struct Range {
  uint32_t first, last;
};
constexpr Range kEscapedAbove0x9F[] = {
    {0x00AD, 0x00AD},   {0x0600, 0x0603},   {0x06DD, 0x06DD},
    {0x070F, 0x070F},   {0x17B4, 0x17B5},   {0x200B, 0x200F},
    {0x2028, 0x202E},   {0x2060, 0x2064},   {0x206A, 0x206F},
    {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},   {0x1D173, 0x1D17A},
    {0xE0001, 0xE0001}, {0xE0020, 0xE007F},
};

bool EscapedAbove0x9F(uint32_t c) {
  for (const Range& r : kEscapedAbove0x9F) {
    if (c < r.first) return false;
    if (c <= r.last) return true;
  }
  return false;
}

void AppendU16Escape(uint32_t unit, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  char e[6] = {'\\',
               'u',
               kHex[(unit >> 12) & 15],
               kHex[(unit >> 8) & 15],
               kHex[(unit >> 4) & 15],
               kHex[unit & 15]};
  out->append(e, 6);
}

void AppendCodePointEscape(uint32_t c, std::string* out) {
  if (c < 0x10000) return AppendU16Escape(c, out);
  c -= 0x10000;  // A surrogate pair, as protobuf writes it.
  AppendU16Escape(0xD800 + (c >> 10), out);
  AppendU16Escape(0xDC00 + (c & 0x3FF), out);
}

// Decodes the UTF-8 sequence at s[i] (a byte >= 0x80); sets `len` to its
// length. False when it is not well-formed UTF-8.
bool DecodeUtf8(absl::string_view s, size_t i, uint32_t* c, size_t* len) {
  unsigned char b = static_cast<unsigned char>(s[i]);
  size_t n;
  uint32_t min;
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2, min = 0x80, *c = b & 0x1F;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3, min = 0x800, *c = b & 0x0F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4, min = 0x10000, *c = b & 0x07;
  } else {
    return false;
  }
  if (i + n > s.size()) return false;
  for (size_t k = 1; k < n; ++k) {
    unsigned char t = static_cast<unsigned char>(s[i + k]);
    if ((t & 0xC0) != 0x80) return false;
    *c = (*c << 6) | (t & 0x3F);
  }
  if (*c < min || *c > 0x10FFFF || (*c >= 0xD800 && *c <= 0xDFFF)) {
    return false;
  }
  *len = n;
  return true;
}

// Appends `s` as a JSON string, quotes included. False (with `out` partly
// written) when `s` is not UTF-8.
bool AppendString(absl::string_view s, std::string* out) {
  out->push_back('"');
  size_t run = 0;  // Start of the bytes not yet copied.
  for (size_t i = 0; i < s.size();) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    if (b >= 0x20 && b < 0x7F && b != '"' && b != '\\' && b != '<' &&
        b != '>') {
      ++i;
      continue;
    }
    uint32_t c = b;
    size_t len = 1;
    if (b >= 0x80) {
      if (!DecodeUtf8(s, i, &c, &len)) return false;
      if (c > 0x9F && !EscapedAbove0x9F(c)) {
        i += len;
        continue;
      }
    }
    out->append(s.data() + run, i - run);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        AppendCodePointEscape(c, out);
    }
    i += len;
    run = i;
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
  return true;
}

// Appends a google.protobuf.Duration as the mapping writes it ("0s", "1.5s"
// is "1.500s": 0, 3, 6 or 9 fraction digits). False when it is out of the
// range the mapping accepts.
bool AppendDuration(const google::protobuf::Duration& d, std::string* out) {
  int64_t seconds = d.seconds();
  int32_t nanos = d.nanos();
  constexpr int64_t kMaxSeconds = 315'576'000'000;
  if (seconds > kMaxSeconds || seconds < -kMaxSeconds || nanos > 999'999'999 ||
      nanos < -999'999'999 || (seconds > 0 && nanos < 0) ||
      (seconds < 0 && nanos > 0)) {
    return false;
  }
  out->push_back('"');
  if (seconds < 0 || nanos < 0) {
    out->push_back('-');
    seconds = -seconds;
    nanos = -nanos;
  }
  absl::StrAppend(out, seconds);
  if (nanos != 0) {
    char digits[10];
    int n = 9;
    int32_t v = nanos;
    for (int k = 8; k >= 0; --k, v /= 10)
      digits[k] = static_cast<char>('0' + v % 10);
    while (n > 3 && digits[n - 1] == '0' && digits[n - 2] == '0' &&
           digits[n - 3] == '0') {
      n -= 3;
    }
    out->push_back('.');
    out->append(digits, static_cast<size_t>(n));
  }
  out->append("s\"");
  return true;
}

bool AppendFast(const JobResult& r, std::string* out) {
  absl::StrAppend(out, "{\"index\":\"", r.index(), "\",\"id\":");
  if (!AppendString(r.id(), out)) return false;
  out->append(",\"outcome\":");
  if (jobgroup::v1::JobOutcome_IsValid(r.outcome())) {
    absl::StrAppend(out, "\"", jobgroup::v1::JobOutcome_Name(r.outcome()),
                    "\"");
  } else {
    absl::StrAppend(out, static_cast<int>(r.outcome()));
  }
  out->append(",\"output\":\"");
  absl::StrAppend(out, absl::Base64Escape(r.output()), "\"");
  if (r.has_error()) {
    absl::StrAppend(out, ",\"error\":{\"code\":", r.error().code(),
                    ",\"message\":");
    if (!AppendString(r.error().message(), out)) return false;
    out->push_back('}');
  }
  absl::StrAppend(out, ",\"attempts\":", r.attempts(),
                  ",\"servedBy\":", r.served_by());
  if (r.has_queue_time()) {
    out->append(",\"queueTime\":");
    if (!AppendDuration(r.queue_time(), out)) return false;
  }
  if (r.has_run_time()) {
    out->append(",\"runTime\":");
    if (!AppendDuration(r.run_time(), out)) return false;
  }
  out->push_back('}');
  return true;
}

}  // namespace

void AppendJobResultJson(const JobResult& result, std::string* out) {
  size_t start = out->size();
  if (AppendFast(result, out)) return;
  out->resize(start);
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = true;
  std::string json;
  // Fails only for what the fast path refused too; then the line says so.
  if (!google::protobuf::util::MessageToJsonString(result, &json, options)
           .ok()) {
    json = absl::StrCat("{\"index\":\"", result.index(),
                        "\",\"jsonError\":", "\"not printable as JSON\"}");
  }
  out->append(json);
}

bool AppendJsonString(absl::string_view text, std::string* out) {
  const size_t mark = out->size();
  if (AppendString(text, out)) return true;
  out->resize(mark);
  return false;
}

std::string JobResultToJson(const JobResult& result) {
  std::string out;
  AppendJobResultJson(result, &out);
  return out;
}

}  // namespace jobgroup::client

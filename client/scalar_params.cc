// Numbers and booleans as job params; see scalar_params.h.
#include "client/scalar_params.h"

#include <cctype>
#include <utility>

namespace jobgroup::client {
namespace {

constexpr int kMaxDepth = 64;

// One pass over a JSON text, copying it to `out` and quoting the scalar
// values of "params" objects on the way.
class ParamsQuoter {
 public:
  explicit ParamsQuoter(absl::string_view in) : in_(in) {}

  // Run() is false when the input is not one well-formed JSON value.
  bool Run() {
    if (!Value(/*params_member=*/false, 0)) return false;
    Space();
    return pos_ == in_.size();
  }
  bool changed() const { return changed_; }
  std::string& out() { return out_; }

 private:
  bool AtEnd() const { return pos_ >= in_.size(); }
  char Peek() const { return in_[pos_]; }

  void Space() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' ||
                        Peek() == '\r')) {
      out_ += in_[pos_++];
    }
  }

  // A string, copied as is; `*raw` gets its bytes between the quotes.
  bool String(absl::string_view* raw) {
    if (AtEnd() || Peek() != '"') return false;
    const size_t start = pos_++;
    while (!AtEnd() && Peek() != '"') {
      if (static_cast<unsigned char>(Peek()) < 0x20) return false;
      if (Peek() == '\\') ++pos_;
      ++pos_;
    }
    if (AtEnd()) return false;
    ++pos_;
    *raw = in_.substr(start + 1, pos_ - start - 2);
    out_.append(in_.data() + start, pos_ - start);
    return true;
  }

  // A number by JSON's grammar; its text, not yet copied, in `*text`.
  bool Number(absl::string_view* text) {
    const size_t start = pos_;
    auto digits = [this] {
      const size_t from = pos_;
      while (!AtEnd() && std::isdigit(static_cast<unsigned char>(Peek()))) {
        ++pos_;
      }
      return pos_ > from;
    };
    if (!AtEnd() && Peek() == '-') ++pos_;
    if (!AtEnd() && Peek() == '0') {
      ++pos_;
    } else if (!digits()) {
      return false;
    }
    if (!AtEnd() && Peek() == '.') {
      ++pos_;
      if (!digits()) return false;
    }
    if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
      ++pos_;
      if (!AtEnd() && (Peek() == '+' || Peek() == '-')) ++pos_;
      if (!digits()) return false;
    }
    *text = in_.substr(start, pos_ - start);
    return true;
  }

  bool Word(absl::string_view word) {
    if (in_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  // A value; `params_member`: it is a member of a "params" object, so a
  // number or a boolean is quoted.
  bool Value(bool params_member, int depth) {
    Space();
    if (AtEnd()) return false;
    const char c = Peek();
    if (c == '{') return Object(/*is_params=*/false, depth + 1);
    if (c == '[') return Array(depth + 1);
    if (c == '"') {
      absl::string_view raw;
      return String(&raw);
    }
    const size_t start = pos_;
    absl::string_view text;
    if (c == 't' || c == 'f') {
      if (!Word("true") && !Word("false")) return false;
      text = in_.substr(start, pos_ - start);
    } else if (c == 'n') {
      if (!Word("null")) return false;
      out_ += "null";
      return true;
    } else if (!Number(&text)) {
      return false;
    }
    if (params_member) {
      out_ += '"';
      out_.append(text.data(), text.size());
      out_ += '"';
      changed_ = true;
    } else {
      out_.append(text.data(), text.size());
    }
    return true;
  }

  bool Object(bool is_params, int depth) {
    if (depth > kMaxDepth) return false;
    out_ += in_[pos_++];  // '{'
    Space();
    if (!AtEnd() && Peek() == '}') {
      out_ += in_[pos_++];
      return true;
    }
    while (true) {
      Space();
      absl::string_view key;
      if (!String(&key)) return false;
      Space();
      if (AtEnd() || Peek() != ':') return false;
      out_ += in_[pos_++];
      Space();
      if (!is_params && key == "params" && !AtEnd() && Peek() == '{') {
        if (!Object(/*is_params=*/true, depth + 1)) return false;
      } else if (!Value(/*params_member=*/is_params, depth)) {
        return false;
      }
      Space();
      if (AtEnd()) return false;
      if (Peek() == ',') {
        out_ += in_[pos_++];
        continue;
      }
      if (Peek() != '}') return false;
      out_ += in_[pos_++];
      return true;
    }
  }

  bool Array(int depth) {
    if (depth > kMaxDepth) return false;
    out_ += in_[pos_++];  // '['
    Space();
    if (!AtEnd() && Peek() == ']') {
      out_ += in_[pos_++];
      return true;
    }
    while (true) {
      if (!Value(/*params_member=*/false, depth)) return false;
      Space();
      if (AtEnd()) return false;
      if (Peek() == ',') {
        out_ += in_[pos_++];
        continue;
      }
      if (Peek() != ']') return false;
      out_ += in_[pos_++];
      return true;
    }
  }

  const absl::string_view in_;
  size_t pos_ = 0;
  std::string out_;
  bool changed_ = false;
};

}  // namespace

std::optional<std::string> QuoteScalarParams(absl::string_view json) {
  ParamsQuoter quoter(json);
  if (!quoter.Run() || !quoter.changed()) return std::nullopt;
  return std::move(quoter.out());
}

}  // namespace jobgroup::client

#include "server/service/call_id.h"

#include <cstdint>
#include <random>

#include "absl/strings/str_format.h"

namespace jobgroup {
namespace {

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZero(absl::string_view s) {
  return s.find_first_not_of('0') == absl::string_view::npos;
}

}  // namespace

bool IsUsableCallId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxCallIdBytes) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

std::string MintCallId() {
  // One generator per thread, seeded once from the OS: no lock, and ids of
  // different threads and processes do not repeat each other.
  thread_local std::mt19937_64 bits{[] {
    std::random_device seed;
    return (static_cast<uint64_t>(seed()) << 32) ^ seed();
  }()};
  uint64_t hi = bits();
  uint64_t lo = bits();
  return absl::StrFormat("%016x%016x", hi, lo);
}

std::string CallIdFor(absl::string_view client) {
  if (IsUsableCallId(client)) return std::string(client);
  return MintCallId();
}

bool IsValidTraceparent(absl::string_view v) {
  // 00-<32>-<16>-<2>: 55 characters.
  if (v.size() != 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') {
    return false;
  }
  absl::string_view version = v.substr(0, 2);
  absl::string_view trace = v.substr(3, 32);
  absl::string_view parent = v.substr(36, 16);
  absl::string_view flags = v.substr(53, 2);
  return version == "00" && IsLowerHex(trace) && IsLowerHex(parent) &&
         IsLowerHex(flags) && !AllZero(trace) && !AllZero(parent);
}

}  // namespace jobgroup

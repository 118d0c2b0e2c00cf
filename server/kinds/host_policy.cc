// Implementation of HostPolicy and the address classification.
#include "server/kinds/host_policy.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace jobgroup {
namespace {

bool IsV4Mapped(const in6_addr& a) {
  static const uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return memcmp(a.s6_addr, kPrefix, 12) == 0;
}

uint32_t V4At(const in6_addr& a, int offset) {
  return (uint32_t{a.s6_addr[offset]} << 24) |
         (uint32_t{a.s6_addr[offset + 1]} << 16) |
         (uint32_t{a.s6_addr[offset + 2]} << 8) | a.s6_addr[offset + 3];
}

bool InV4(uint32_t ip, uint32_t net, int bits) {
  uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  return (ip & mask) == (net & mask);
}

constexpr uint32_t V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return (uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d;
}

AddressClass ClassifyV4(uint32_t ip) {
  if (ip == 0) return AddressClass::kUnspecified;
  if (InV4(ip, V4(0, 0, 0, 0), 8)) return AddressClass::kReserved;
  if (InV4(ip, V4(10, 0, 0, 0), 8)) return AddressClass::kPrivate;
  if (InV4(ip, V4(100, 64, 0, 0), 10)) return AddressClass::kSharedCgnat;
  if (InV4(ip, V4(127, 0, 0, 0), 8)) return AddressClass::kLoopback;
  if (InV4(ip, V4(169, 254, 0, 0), 16)) return AddressClass::kLinkLocal;
  if (InV4(ip, V4(172, 16, 0, 0), 12)) return AddressClass::kPrivate;
  if (InV4(ip, V4(192, 0, 0, 0), 24)) return AddressClass::kReserved;
  if (InV4(ip, V4(192, 0, 2, 0), 24)) return AddressClass::kDocumentation;
  if (InV4(ip, V4(192, 88, 99, 0), 24)) return AddressClass::kReserved;
  if (InV4(ip, V4(192, 168, 0, 0), 16)) return AddressClass::kPrivate;
  if (InV4(ip, V4(198, 18, 0, 0), 15)) return AddressClass::kReserved;
  if (InV4(ip, V4(198, 51, 100, 0), 24)) return AddressClass::kDocumentation;
  if (InV4(ip, V4(203, 0, 113, 0), 24)) return AddressClass::kDocumentation;
  if (InV4(ip, V4(224, 0, 0, 0), 4)) return AddressClass::kMulticast;
  if (InV4(ip, V4(240, 0, 0, 0), 4)) return AddressClass::kReserved;
  return AddressClass::kPublic;
}

// True when the first `bits` bits of `a` equal those of `prefix`.
bool InV6(const in6_addr& a, std::initializer_list<uint8_t> prefix, int bits) {
  uint8_t p[16] = {};
  std::copy(prefix.begin(), prefix.end(), p);
  int full = bits / 8;
  if (memcmp(a.s6_addr, p, full) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.s6_addr[full] & mask) == (p[full] & mask);
}

}  // namespace

absl::string_view AddressClassName(AddressClass c) {
  switch (c) {
    case AddressClass::kPublic:
      return "public";
    case AddressClass::kLoopback:
      return "loopback";
    case AddressClass::kPrivate:
      return "private";
    case AddressClass::kLinkLocal:
      return "link-local";
    case AddressClass::kSharedCgnat:
      return "shared (CGNAT)";
    case AddressClass::kUnspecified:
      return "unspecified";
    case AddressClass::kMulticast:
      return "multicast";
    case AddressClass::kDocumentation:
      return "documentation";
    case AddressClass::kReserved:
      return "reserved";
  }
  return "unknown";
}

bool IpAddress::operator==(const IpAddress& o) const {
  return memcmp(addr.s6_addr, o.addr.s6_addr, 16) == 0;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  if (IsV4Mapped(addr)) {
    inet_ntop(AF_INET, addr.s6_addr + 12, buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET6, &addr, buf, sizeof(buf));
  }
  return buf;
}

std::optional<IpAddress> ParseIpLiteral(absl::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string s(text);
  IpAddress ip{};
  in_addr v4;
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    ip.addr.s6_addr[10] = 0xff;
    ip.addr.s6_addr[11] = 0xff;
    memcpy(ip.addr.s6_addr + 12, &v4, 4);
    return ip;
  }
  if (inet_pton(AF_INET6, s.c_str(), &ip.addr) == 1) return ip;
  return std::nullopt;
}

std::optional<IpAddress> FromSockaddr(const sockaddr* sa) {
  IpAddress ip{};
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    ip.addr.s6_addr[10] = 0xff;
    ip.addr.s6_addr[11] = 0xff;
    memcpy(ip.addr.s6_addr + 12, &in->sin_addr, 4);
    return ip;
  }
  if (sa->sa_family == AF_INET6) {
    ip.addr = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    return ip;
  }
  return std::nullopt;
}

AddressClass ClassifyAddress(const IpAddress& ip) {
  const in6_addr& a = ip.addr;
  if (IsV4Mapped(a)) return ClassifyV4(V4At(a, 12));
  static const in6_addr kZero = {};
  if (memcmp(a.s6_addr, kZero.s6_addr, 16) == 0) {
    return AddressClass::kUnspecified;
  }
  if (InV6(a, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128)) {
    return AddressClass::kLoopback;
  }
  // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address that
  // the packets end up at.
  if (InV6(a, {0, 0x64, 0xff, 0x9b}, 96)) return ClassifyV4(V4At(a, 12));
  if (InV6(a, {0x20, 0x02}, 16)) return ClassifyV4(V4At(a, 2));
  if (InV6(a, {}, 96)) return AddressClass::kReserved;  // IPv4-compatible.
  if (InV6(a, {0, 0x64, 0xff, 0x9b, 0, 1}, 48)) return AddressClass::kReserved;
  if (InV6(a, {0x01, 0x00}, 64)) return AddressClass::kReserved;  // Discard.
  if (InV6(a, {0x20, 0x01, 0x0d, 0xb8}, 32)) {
    return AddressClass::kDocumentation;
  }
  // IETF protocol assignments, Teredo among them.
  if (InV6(a, {0x20, 0x01}, 23)) return AddressClass::kReserved;
  if (InV6(a, {0xfc}, 7)) return AddressClass::kPrivate;  // Unique-local.
  if (InV6(a, {0xfe, 0x80}, 10)) return AddressClass::kLinkLocal;
  if (InV6(a, {0xfe, 0xc0}, 10)) return AddressClass::kReserved;  // Site-local.
  if (InV6(a, {0xff}, 8)) return AddressClass::kMulticast;
  // Only 2000::/3 is global unicast.
  if (!InV6(a, {0x20}, 3)) return AddressClass::kReserved;
  return AddressClass::kPublic;
}

std::string NormalizeHost(absl::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return absl::AsciiStrToLower(host);
}

absl::StatusOr<HostPolicy::Pattern> HostPolicy::ParsePattern(
    absl::string_view text, absl::string_view list) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        list, ": bad host pattern \"", text.substr(0, 100),
        text.size() > 100 ? "...\"" : "\"", " (", why,
        "; want *, *.example.com, example.com or an IP address, then "
        "optionally :PORT or :*)"));
  };
  Pattern p;
  // The port: after the last colon, unless the colon is inside an IPv6
  // address (a bare one has several colons and cannot carry a port).
  absl::string_view host = text;
  size_t colon = text.rfind(':');
  bool bracketed = absl::StartsWith(text, "[");
  if (colon != absl::string_view::npos &&
      (bracketed ? colon > 0 && text[colon - 1] == ']'
                 : text.find(':') == colon)) {
    host = text.substr(0, colon);
    absl::string_view port = text.substr(colon + 1);
    if (port == "*") {
      p.port = kAnyPort;
    } else if (!absl::SimpleAtoi(port, &p.port) || p.port < 1 ||
               p.port > 65535) {
      return bad("the port is not *, nor a number from 1 to 65535");
    }
  }
  if (host == "*") {
    p.kind = Pattern::kAny;
    return p;
  }
  if (std::optional<IpAddress> ip = ParseIpLiteral(host)) {
    p.kind = Pattern::kIp;
    p.ip = *ip;
    return p;
  }
  std::string name = NormalizeHost(host);
  bool suffix = absl::StartsWith(name, "*.");
  if (suffix) name = name.substr(2);
  bool ok = !name.empty() && name.front() != '.' &&
            name.find("..") == std::string::npos;
  for (char c : name) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
          c == '.' || c == '_')) {
      ok = false;
    }
  }
  if (!ok) return bad("not a host name");
  p.kind = suffix ? Pattern::kSuffix : Pattern::kExact;
  p.text = suffix ? absl::StrCat(".", name) : name;
  return p;
}

absl::StatusOr<HostPolicy> HostPolicy::Create(
    const std::vector<std::string>& allow,
    const std::vector<std::string>& allow_private) {
  HostPolicy policy;
  for (const std::string& a : allow) {
    absl::string_view t = absl::StripAsciiWhitespace(a);
    if (t.empty()) continue;
    absl::StatusOr<Pattern> p = ParsePattern(t, "--http_allow");
    if (!p.ok()) return p.status();
    policy.allow_.push_back(*std::move(p));
  }
  for (const std::string& a : allow_private) {
    absl::string_view t = absl::StripAsciiWhitespace(a);
    if (t.empty()) continue;
    absl::StatusOr<Pattern> p = ParsePattern(t, "--http_allow_private");
    if (!p.ok()) return p.status();
    policy.allow_private_.push_back(*std::move(p));
  }
  return policy;
}

bool HostPolicy::Matches(const std::vector<Pattern>& patterns,
                         absl::string_view host, int port) {
  std::string name = NormalizeHost(host);
  std::optional<IpAddress> ip = ParseIpLiteral(name);
  for (const Pattern& p : patterns) {
    bool port_ok =
        p.port == kAnyPort ||
        (p.port == kDefaultPorts ? port == 80 || port == 443 : port == p.port);
    if (!port_ok) continue;
    switch (p.kind) {
      case Pattern::kAny:
        return true;
      case Pattern::kIp:
        if (ip && *ip == p.ip) return true;
        break;
      case Pattern::kExact:
        if (!ip && name == p.text) return true;
        break;
      case Pattern::kSuffix:
        if (!ip && absl::EndsWith(name, p.text)) return true;
        break;
    }
  }
  return false;
}

bool HostPolicy::PrivateAllowed(absl::string_view host, int port) const {
  return Matches(allow_private_, host, port);
}

absl::Status HostPolicy::CheckHost(absl::string_view host, int port) const {
  if (allow_.empty()) {
    return absl::PermissionDeniedError(
        "http jobs are disabled on this server: --http_allow is empty");
  }
  if (!Matches(allow_, host, port)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "host \"", NormalizeHost(host).substr(0, 100), "\" port ", port,
        " is not allowed (not matched by --http_allow; a pattern without a "
        "port allows only 80 and 443)"));
  }
  if (std::optional<IpAddress> ip = ParseIpLiteral(NormalizeHost(host))) {
    return CheckAddress(host, port, *ip);
  }
  return absl::OkStatus();
}

absl::Status HostPolicy::CheckAddress(absl::string_view host, int port,
                                      const IpAddress& addr) const {
  AddressClass c = ClassifyAddress(addr);
  if (c == AddressClass::kPublic || PrivateAllowed(host, port)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("refused to connect to ", AddressClassName(c), " address ",
                   addr.ToString(), " for host \"", NormalizeHost(host),
                   "\" (allow it with --http_allow_private)"));
}

}  // namespace jobgroup

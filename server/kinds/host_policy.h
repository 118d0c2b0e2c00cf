// HostPolicy: which hosts the http kind may reach, and which addresses it may
// connect to (the defence against server-side request forgery).
//
// Two lists of host patterns, from --http_allow and --http_allow_private:
//  - A URL's host must match `allow` (checked at validation and again for
//    every redirect hop). An empty `allow` disables http jobs altogether.
//  - Every address a connection is about to be opened to (after DNS, so a
//    name that resolves, or is re-pointed, to an internal address is caught)
//    must be public, unless the URL's host also matches `allow_private`.
//    Not public: loopback, private (RFC 1918, IPv6 unique-local), link-local,
//    shared (CGNAT), unspecified, multicast, documentation, benchmarking and
//    reserved ranges; IPv4-mapped, NAT64 and 6to4 IPv6 addresses are judged
//    by the IPv4 address they carry.
//
// A pattern is a host, optionally followed by a port:
//   *                  any host
//   *.example.com      any subdomain of example.com (not example.com itself)
//   example.com        exactly that name (case-insensitive, trailing dot
//                      ignored)
//   127.0.0.1, ::1, [::1]   exactly that address, in any spelling
// then
//   (nothing)          ports 80 and 443 only
//   :8080              that port only
//   :*                 any port
// An IPv6 address with a port is written in brackets: [::1]:8080. Both
// lists match the URL's port the same way, so a private host allowed
// without a port exposes only its web ports, and an error never tells an
// open port from a closed one.
//
// Immutable after Create(); thread-safe.
#ifndef JOBGROUP_SERVER_KINDS_HOST_POLICY_H_
#define JOBGROUP_SERVER_KINDS_HOST_POLICY_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace jobgroup {

enum class AddressClass {
  kPublic,
  kLoopback,
  kPrivate,
  kLinkLocal,
  kSharedCgnat,
  kUnspecified,
  kMulticast,
  kDocumentation,
  kReserved,
};
// "public", "loopback", "private", "link-local", ...
absl::string_view AddressClassName(AddressClass c);

// An IP address, IPv4 held as IPv4-mapped IPv6 (::ffff:a.b.c.d).
struct IpAddress {
  in6_addr addr;
  bool operator==(const IpAddress& o) const;
  // The address in its usual spelling ("127.0.0.1", "::1").
  std::string ToString() const;
};

// Parses an IP literal ("10.0.0.1", "::1", "[::1]"); nullopt when `text` is
// not one. Only the four-part dotted IPv4 form is accepted.
std::optional<IpAddress> ParseIpLiteral(absl::string_view text);
// The address in `sa` (AF_INET or AF_INET6); nullopt for other families.
std::optional<IpAddress> FromSockaddr(const sockaddr* sa);
AddressClass ClassifyAddress(const IpAddress& ip);

// Lowercases, drops a trailing dot and the brackets of an IPv6 literal.
std::string NormalizeHost(absl::string_view host);

class HostPolicy {
 public:
  // HostPolicy::Create()
  //
  // Parses the patterns; INVALID_ARGUMENT naming the list and the bad
  // pattern. Empty entries are skipped.
  static absl::StatusOr<HostPolicy> Create(
      const std::vector<std::string>& allow,
      const std::vector<std::string>& allow_private);

  // False when --http_allow is empty: no http job may run.
  bool enabled() const { return !allow_.empty(); }

  // HostPolicy::CheckHost()
  //
  // OK when `host` (as in a URL, any case) and `port` match `allow`;
  // otherwise PERMISSION_DENIED saying so. A host that is an IP literal of
  // a non-public address must match `allow_private` too.
  absl::Status CheckHost(absl::string_view host, int port) const;

  // HostPolicy::CheckAddress()
  //
  // OK when a connection for `host`:`port` may go to `addr`: the address
  // is public or the host and port match `allow_private`.
  // PERMISSION_DENIED naming the address, its class and the flag that would
  // allow it otherwise.
  absl::Status CheckAddress(absl::string_view host, int port,
                            const IpAddress& addr) const;

  // True when `host` and `port` match `allow_private`.
  bool PrivateAllowed(absl::string_view host, int port) const;

 private:
  struct Pattern {
    enum Kind { kAny, kSuffix, kExact, kIp } kind;
    std::string text;  // kSuffix: ".example.com"; kExact: the name.
    IpAddress ip{};    // kIp.
    // The port matched; kDefaultPorts: 80 and 443, kAnyPort: every port.
    int port = kDefaultPorts;
  };
  static constexpr int kDefaultPorts = 0;
  static constexpr int kAnyPort = -1;
  static absl::StatusOr<Pattern> ParsePattern(absl::string_view text,
                                              absl::string_view list);
  static bool Matches(const std::vector<Pattern>& patterns,
                      absl::string_view host, int port);

  std::vector<Pattern> allow_;
  std::vector<Pattern> allow_private_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_KINDS_HOST_POLICY_H_

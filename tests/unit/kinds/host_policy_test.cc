// Tests of HostPolicy: host patterns, the address classes, and which
// addresses each host may be connected to.
#include "server/kinds/host_policy.h"

#include "gtest/gtest.h"

namespace jobgroup {
namespace {

AddressClass Class(const char* literal) {
  std::optional<IpAddress> ip = ParseIpLiteral(literal);
  EXPECT_TRUE(ip.has_value()) << literal;
  return ip ? ClassifyAddress(*ip) : AddressClass::kPublic;
}

TEST(AddressClassTest, NonPublicRangesAreRecognised) {
  EXPECT_EQ(Class("127.0.0.1"), AddressClass::kLoopback);
  EXPECT_EQ(Class("127.255.0.9"), AddressClass::kLoopback);
  EXPECT_EQ(Class("::1"), AddressClass::kLoopback);
  EXPECT_EQ(Class("[::1]"), AddressClass::kLoopback);
  EXPECT_EQ(Class("10.1.2.3"), AddressClass::kPrivate);
  EXPECT_EQ(Class("172.16.0.1"), AddressClass::kPrivate);
  EXPECT_EQ(Class("172.31.255.255"), AddressClass::kPrivate);
  EXPECT_EQ(Class("192.168.1.1"), AddressClass::kPrivate);
  EXPECT_EQ(Class("fd12:3456::1"), AddressClass::kPrivate);
  EXPECT_EQ(Class("169.254.169.254"), AddressClass::kLinkLocal);
  EXPECT_EQ(Class("fe80::1"), AddressClass::kLinkLocal);
  EXPECT_EQ(Class("100.64.0.1"), AddressClass::kSharedCgnat);
  EXPECT_EQ(Class("0.0.0.0"), AddressClass::kUnspecified);
  EXPECT_EQ(Class("::"), AddressClass::kUnspecified);
  EXPECT_EQ(Class("224.0.0.1"), AddressClass::kMulticast);
  EXPECT_EQ(Class("ff02::1"), AddressClass::kMulticast);
  EXPECT_EQ(Class("255.255.255.255"), AddressClass::kReserved);
  EXPECT_EQ(Class("192.0.2.7"), AddressClass::kDocumentation);
  EXPECT_EQ(Class("2001:db8::1"), AddressClass::kDocumentation);
  // IPv6 spellings of IPv4 addresses are judged by the IPv4 address.
  EXPECT_EQ(Class("::ffff:127.0.0.1"), AddressClass::kLoopback);
  EXPECT_EQ(Class("::ffff:10.0.0.1"), AddressClass::kPrivate);
  EXPECT_EQ(Class("64:ff9b::a9fe:a9fe"), AddressClass::kLinkLocal);
  EXPECT_EQ(Class("2002:7f00:1::"), AddressClass::kLoopback);
}

TEST(AddressClassTest, PublicAddressesArePublic) {
  EXPECT_EQ(Class("93.184.216.34"), AddressClass::kPublic);
  EXPECT_EQ(Class("8.8.8.8"), AddressClass::kPublic);
  EXPECT_EQ(Class("172.32.0.1"), AddressClass::kPublic);
  EXPECT_EQ(Class("2606:2800:220:1:248:1893:25c8:1946"), AddressClass::kPublic);
  EXPECT_EQ(Class("::ffff:8.8.8.8"), AddressClass::kPublic);
}

TEST(IpLiteralTest, OnlyDottedQuadsAndIpv6AreLiterals) {
  EXPECT_FALSE(ParseIpLiteral("example.com").has_value());
  EXPECT_FALSE(ParseIpLiteral("2130706433").has_value());
  EXPECT_FALSE(ParseIpLiteral("").has_value());
  EXPECT_EQ(ParseIpLiteral("0:0:0:0:0:0:0:1")->ToString(), "::1");
  EXPECT_EQ(ParseIpLiteral("127.0.0.1")->ToString(), "127.0.0.1");
}

TEST(HostPolicyTest, PatternsMatchAsDocumented) {
  auto p = HostPolicy::Create(
      {"api.example.com", "*.internal.example", "10.0.0.5", "[::1]"}, {});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->CheckHost("api.example.com", 443).ok());
  EXPECT_TRUE(p->CheckHost("API.Example.COM.", 443).ok());
  EXPECT_FALSE(p->CheckHost("example.com", 443).ok());
  EXPECT_FALSE(p->CheckHost("evil-api.example.com", 443).ok());
  EXPECT_TRUE(p->CheckHost("a.internal.example", 443).ok());
  EXPECT_TRUE(p->CheckHost("a.b.internal.example", 443).ok());
  EXPECT_FALSE(p->CheckHost("internal.example", 443).ok());
  EXPECT_FALSE(p->CheckHost("xinternal.example", 443).ok());
  // Listed IP addresses match in any spelling, but stay non-public: they
  // need --http_allow_private too.
  absl::Status s = p->CheckHost("10.0.0.5", 443);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("private address 10.0.0.5"), std::string::npos)
      << s;
  EXPECT_NE(s.message().find("--http_allow_private"), std::string::npos);
  EXPECT_EQ(p->CheckHost("10.0.0.6", 443).message(),
            "host \"10.0.0.6\" port 443 is not allowed (not matched by "
            "--http_allow; a pattern without a port allows only 80 and 443)");
}

TEST(HostPolicyTest, EmptyAllowListRefusesEverything) {
  auto p = HostPolicy::Create({}, {"*"});
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->enabled());
  absl::Status s = p->CheckHost("example.com", 443);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "http jobs are disabled on this server: --http_allow is empty");
}

TEST(HostPolicyTest, PrivateAddressesNeedTheHostInAllowPrivate) {
  auto p = HostPolicy::Create({"*"}, {"127.0.0.1", "db.internal"});
  ASSERT_TRUE(p.ok());
  IpAddress loopback = *ParseIpLiteral("127.0.0.1");
  IpAddress private10 = *ParseIpLiteral("10.1.1.1");
  IpAddress pub = *ParseIpLiteral("93.184.216.34");
  EXPECT_TRUE(p->CheckAddress("127.0.0.1", 443, loopback).ok());
  EXPECT_TRUE(p->CheckAddress("db.internal", 443, private10).ok());
  EXPECT_TRUE(p->CheckAddress("example.com", 443, pub).ok());
  // A public name that resolves (or is re-pointed) to an internal address.
  absl::Status s = p->CheckAddress("example.com", 443, loopback);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "refused to connect to loopback address 127.0.0.1 for host "
            "\"example.com\" (allow it with --http_allow_private)");
  EXPECT_FALSE(p->CheckAddress("localhost", 443, loopback).ok());
  EXPECT_FALSE(
      p->CheckAddress("x.test", 443, *ParseIpLiteral("169.254.169.254")).ok());
  EXPECT_FALSE(
      p->CheckAddress("x.test", 443, *ParseIpLiteral("::ffff:10.0.0.1")).ok());
}

TEST(HostPolicyTest, PortsAreMatchedAndDefaultToTheWebPorts) {
  auto p = HostPolicy::Create({"web.test", "api.test:8443", "*.svc.test:*",
                               "[::1]:9000", "10.0.0.7:81"},
                              {"api.test:8443", "[::1]:9000", "10.0.0.7:81"});
  ASSERT_TRUE(p.ok()) << p.status();
  // No port in the pattern: 80 and 443 only.
  EXPECT_TRUE(p->CheckHost("web.test", 80).ok());
  EXPECT_TRUE(p->CheckHost("web.test", 443).ok());
  absl::Status s = p->CheckHost("web.test", 22);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "host \"web.test\" port 22 is not allowed (not matched by "
            "--http_allow; a pattern without a port allows only 80 and 443)");
  // A port: that port only.
  EXPECT_TRUE(p->CheckHost("api.test", 8443).ok());
  EXPECT_FALSE(p->CheckHost("api.test", 443).ok());
  EXPECT_FALSE(p->CheckHost("api.test", 8444).ok());
  // :* any port.
  EXPECT_TRUE(p->CheckHost("a.svc.test", 1).ok());
  EXPECT_TRUE(p->CheckHost("a.svc.test", 65535).ok());
  // IPv6 in brackets with a port; the private list matches ports too.
  EXPECT_TRUE(p->CheckHost("::1", 9000).ok());
  EXPECT_FALSE(p->CheckHost("::1", 9001).ok());
  EXPECT_TRUE(p->CheckHost("10.0.0.7", 81).ok());
  IpAddress loopback = *ParseIpLiteral("::1");
  EXPECT_TRUE(p->CheckAddress("::1", 9000, loopback).ok());
  EXPECT_FALSE(p->CheckAddress("::1", 9001, loopback).ok());
  EXPECT_TRUE(p->CheckAddress("api.test", 8443, loopback).ok());
  EXPECT_FALSE(p->CheckAddress("api.test", 443, loopback).ok());
  // A bare IPv6 address is a host without a port.
  auto bare = HostPolicy::Create({"::1"}, {"::1"});
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_TRUE(bare->CheckHost("::1", 443).ok());
  EXPECT_FALSE(bare->CheckHost("::1", 1).ok());
}

TEST(HostPolicyTest, BadPortsAreRefused) {
  for (const char* bad : {"a.test:", "a.test:0", "a.test:65536", "a.test:x",
                          "a.test:80:81", "[::1]:", "*:-1"}) {
    auto p = HostPolicy::Create({bad}, {});
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(p.status().message().find("--http_allow: bad host pattern"),
              std::string::npos)
        << p.status();
  }
}

TEST(HostPolicyTest, BadPatternsAreRefusedNamingTheFlag) {
  auto p = HostPolicy::Create({"exa mple.com"}, {});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("--http_allow: bad host pattern"),
            std::string::npos)
      << p.status();
  EXPECT_FALSE(HostPolicy::Create({}, {"*."}).ok());
  EXPECT_FALSE(HostPolicy::Create({"a..b"}, {}).ok());
  EXPECT_FALSE(HostPolicy::Create({"a/b"}, {}).ok());
}

}  // namespace
}  // namespace jobgroup

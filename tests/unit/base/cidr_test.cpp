// base/cidr: the address and range grammar, and matching, IPv4-mapped
// addresses included.
#include "base/cidr.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace drover {
namespace {

IpAddress ip(const char* text)
{
    std::optional<IpAddress> a = IpAddress::parse(text);
    if (!a)
        throw std::runtime_error(std::string("test address does not parse: ") + text);
    return *a;
}

std::string error_of(std::string_view text)
{
    try {
        parse_cidr(text);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "<accepted>";
}

TEST(IpAddress, ParsesBothFamiliesAndNothingElse)
{
    EXPECT_TRUE(IpAddress::parse("192.0.2.1"));
    EXPECT_TRUE(IpAddress::parse("2001:db8::1"));
    EXPECT_TRUE(IpAddress::parse("::"));
    for (const char* bad : {"", "localhost", "192.0.2", "192.0.2.256", "[::1]", "::1%lo", "192.0.2.1:80", " 192.0.2.1",
                            "192.0.2.1 ", "1:2:3:4:5:6:7:8:9", "0x7f.0.0.1"})
        EXPECT_FALSE(IpAddress::parse(bad)) << bad;
    // Longer than any address: refused without touching a buffer past it.
    EXPECT_FALSE(IpAddress::parse(std::string(100, '1')));
}

TEST(IpAddress, TextIsCanonicalAndMappedIpv4IsDotted)
{
    EXPECT_EQ(ip("0:0::1").text(), "::1");
    EXPECT_EQ(ip("2001:DB8:0:0:0:0:0:1").text(), "2001:db8::1");
    EXPECT_EQ(ip("192.0.2.1").text(), "192.0.2.1");
    EXPECT_EQ(ip("::ffff:192.0.2.1").text(), "192.0.2.1");
    EXPECT_TRUE(ip("::ffff:192.0.2.1").is_v4());
    EXPECT_FALSE(ip("::1").is_v4());
    EXPECT_EQ(ip("::ffff:192.0.2.1"), ip("192.0.2.1"));
}

TEST(IpAddress, FromSocketAddresses)
{
    sockaddr_storage ss{};
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    v4->sin_family = AF_INET;
    inet_pton(AF_INET, "10.1.2.3", &v4->sin_addr);
    EXPECT_EQ(IpAddress::from_sockaddr(ss), ip("10.1.2.3"));

    ss = {};
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    v6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:10.1.2.3", &v6->sin6_addr);
    EXPECT_EQ(IpAddress::from_sockaddr(ss), ip("10.1.2.3"));

    ss = {};
    ss.ss_family = AF_UNIX;
    EXPECT_FALSE(IpAddress::from_sockaddr(ss));
}

TEST(CidrRange, ParsesRangesAndSingleAddresses)
{
    EXPECT_EQ(parse_cidr("10.0.0.0/8").text(), "10.0.0.0/8");
    EXPECT_EQ(parse_cidr("::1/128").text(), "::1/128");
    EXPECT_EQ(parse_cidr("2001:DB8::/32").text(), "2001:db8::/32");
    EXPECT_EQ(parse_cidr("0:0::2").text(), "::2");
    EXPECT_EQ(parse_cidr("127.0.0.1").text(), "127.0.0.1");
    EXPECT_EQ(parse_cidr("0.0.0.0/0").text(), "0.0.0.0/0");
    EXPECT_EQ(parse_cidr("::/0").text(), "::/0");
    // Written as IPv6, an IPv4-mapped range keeps its IPv6 prefix length.
    EXPECT_EQ(parse_cidr("::ffff:10.0.0.0/104").text(), "::ffff:10.0.0.0/104");
    EXPECT_EQ(parse_cidr("10.0.0.0/8").prefix, 104u);
}

TEST(CidrRange, RefusesWithTheReason)
{
    EXPECT_EQ(error_of("localhost"), R"(not an IP address or a CIDR range like "10.0.0.0/8": "localhost")");
    EXPECT_EQ(error_of("10.0.0.0/"), R"(the prefix length must be from 0 to 32 for IPv4: "10.0.0.0/")");
    EXPECT_EQ(error_of("10.0.0.0/33"), R"(the prefix length must be from 0 to 32 for IPv4: "10.0.0.0/33")");
    EXPECT_EQ(error_of("10.0.0.0/-1"), R"(the prefix length must be from 0 to 32 for IPv4: "10.0.0.0/-1")");
    EXPECT_EQ(error_of("10.0.0.0/8/8"), R"(the prefix length must be from 0 to 32 for IPv4: "10.0.0.0/8/8")");
    EXPECT_EQ(error_of("::/129"), R"(the prefix length must be from 0 to 128 for IPv6: "::/129")");
    EXPECT_EQ(error_of("::/1000"), R"(the prefix length must be from 0 to 128 for IPv6: "::/1000")");
    EXPECT_EQ(error_of("/8"), R"(not an IP address or a CIDR range like "10.0.0.0/8": "/8")");
    EXPECT_EQ(error_of("10.1.2.3/8"), R"(bits set after the prefix length in "10.1.2.3/8" (the range is "10.0.0.0/8"))");
    EXPECT_EQ(error_of("2001:db8::1/32"),
              R"(bits set after the prefix length in "2001:db8::1/32" (the range is "2001:db8::/32"))");
    EXPECT_EQ(error_of("*"), R"(not an IP address or a CIDR range like "10.0.0.0/8": "*")");
}

TEST(CidrRange, MatchesAtEveryPrefixBoundary)
{
    CidrRange r = parse_cidr("10.0.0.0/8");
    EXPECT_TRUE(r.contains(ip("10.0.0.0")));
    EXPECT_TRUE(r.contains(ip("10.255.255.255")));
    EXPECT_FALSE(r.contains(ip("11.0.0.0")));
    EXPECT_FALSE(r.contains(ip("9.255.255.255")));

    CidrRange odd = parse_cidr("192.0.2.64/27");  // .64 to .95
    EXPECT_FALSE(odd.contains(ip("192.0.2.63")));
    EXPECT_TRUE(odd.contains(ip("192.0.2.64")));
    EXPECT_TRUE(odd.contains(ip("192.0.2.95")));
    EXPECT_FALSE(odd.contains(ip("192.0.2.96")));

    CidrRange one = parse_cidr("::1/128");
    EXPECT_TRUE(one.contains(ip("::1")));
    EXPECT_FALSE(one.contains(ip("::2")));

    CidrRange v6 = parse_cidr("2001:db8::/33");
    EXPECT_TRUE(v6.contains(ip("2001:db8:7fff::1")));
    EXPECT_FALSE(v6.contains(ip("2001:db8:8000::1")));

    // A single address is its own range.
    EXPECT_TRUE(parse_cidr("192.0.2.1").contains(ip("192.0.2.1")));
    EXPECT_FALSE(parse_cidr("192.0.2.1").contains(ip("192.0.2.2")));
}

TEST(CidrRange, FamiliesMeetOnlyThroughIpv4MappedAddresses)
{
    // A dual-stack listener sees an IPv4 client as ::ffff:a.b.c.d: its IPv4 range matches.
    EXPECT_TRUE(parse_cidr("127.0.0.0/8").contains(ip("::ffff:127.0.0.1")));
    EXPECT_TRUE(parse_cidr("::ffff:127.0.0.0/104").contains(ip("127.0.0.5")));
    // An IPv4 range never matches a native IPv6 address, nor the other way round.
    EXPECT_FALSE(parse_cidr("0.0.0.0/0").contains(ip("::1")));
    EXPECT_FALSE(parse_cidr("::1/128").contains(ip("127.0.0.1")));
    EXPECT_TRUE(parse_cidr("::/0").contains(ip("127.0.0.1")));  // ::/0 is everything
}

TEST(CidrSet, EmptyStarAndLists)
{
    CidrSet none;
    EXPECT_TRUE(none.empty());
    EXPECT_FALSE(none.contains(ip("127.0.0.1")));

    CidrSet all(std::vector<std::string>{"*"});
    EXPECT_FALSE(all.empty());
    EXPECT_TRUE(all.matches_all());
    EXPECT_TRUE(all.contains(ip("203.0.113.9")));
    EXPECT_TRUE(all.contains(ip("2001:db8::9")));

    CidrSet some(std::vector<std::string>{"127.0.0.1", "::1", "10.0.0.0/8"});
    EXPECT_TRUE(some.contains(ip("127.0.0.1")));
    EXPECT_TRUE(some.contains(ip("::ffff:127.0.0.1")));
    EXPECT_TRUE(some.contains(ip("::1")));
    EXPECT_TRUE(some.contains(ip("10.20.30.40")));
    EXPECT_FALSE(some.contains(ip("127.0.0.2")));
    EXPECT_FALSE(some.contains(ip("::2")));

    EXPECT_THROW(CidrSet(std::vector<std::string>{"10.0.0.0/40"}), std::invalid_argument);
}

} // namespace
} // namespace drover

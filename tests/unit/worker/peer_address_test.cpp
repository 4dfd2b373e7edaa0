#include "worker/peer_address.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace drover {
namespace {

sockaddr_storage v4(const char* text, uint16_t port)
{
    sockaddr_storage ss{};
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    EXPECT_EQ(inet_pton(AF_INET, text, &a->sin_addr), 1);
    return ss;
}

sockaddr_storage v6(const char* text, uint16_t port)
{
    sockaddr_storage ss{};
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    EXPECT_EQ(inet_pton(AF_INET6, text, &a->sin6_addr), 1);
    return ss;
}

TEST(PeerAddress, Ipv4AsInetNtopWritesIt)
{
    for (const char* text : {"0.0.0.0", "255.255.255.255", "10.0.100.9", "127.0.0.1", "192.168.1.10", "1.20.100.255"}) {
        std::string port;
        EXPECT_EQ(address_text(v4(text, 8080), &port), text);
        EXPECT_EQ(port, "8080");
    }
}

TEST(PeerAddress, Ipv6AndMappedIpv4)
{
    std::string port;
    EXPECT_EQ(address_text(v6("2001:db8::1", 443), &port), "2001:db8::1");
    EXPECT_EQ(port, "443");
    EXPECT_EQ(address_text(v6("::ffff:192.0.2.7", 80), nullptr), "192.0.2.7");
    EXPECT_EQ(address_text(v6("::1", 1), nullptr), "::1");
}

TEST(PeerAddress, OtherFamiliesAreEmpty)
{
    sockaddr_storage ss{};
    ss.ss_family = AF_UNIX;
    std::string port = "x";
    EXPECT_EQ(address_text(ss, &port), "");
    EXPECT_EQ(port, "");
}

} // namespace
} // namespace drover

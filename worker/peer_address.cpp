#include "worker/peer_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace drover {

namespace {

/// "a.b.c.d" without inet_ntop(), which formats IPv4 with sprintf(): one per
/// connection showed as 4 % of a worker's instructions.
std::string ipv4_text(const unsigned char* b)
{
    char buf[16];
    char* p = buf;
    for (int i = 0; i < 4; ++i) {
        unsigned v = b[i];
        if (v >= 100)
            *p++ = static_cast<char>('0' + v / 100);
        if (v >= 10)
            *p++ = static_cast<char>('0' + v / 10 % 10);
        *p++ = static_cast<char>('0' + v % 10);
        if (i < 3)
            *p++ = '.';
    }
    return std::string(buf, static_cast<size_t>(p - buf));
}

} // namespace

std::string address_text(const sockaddr_storage& ss, std::string* port)
{
    char buf[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        if (port)
            *port = std::to_string(ntohs(a->sin_port));
        return ipv4_text(reinterpret_cast<const unsigned char*>(&a->sin_addr));
    } else if (ss.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
        if (port)
            *port = std::to_string(ntohs(a->sin6_port));
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
            return ipv4_text(&a->sin6_addr.s6_addr[12]);
    } else if (port) {
        *port = "";
    }
    return buf;
}

} // namespace drover

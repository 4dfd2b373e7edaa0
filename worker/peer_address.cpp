#include "worker/peer_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace drover {

std::string address_text(const sockaddr_storage& ss, std::string* port)
{
    char buf[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
        if (port)
            *port = std::to_string(ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
            inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], buf, sizeof buf);
        if (port)
            *port = std::to_string(ntohs(a->sin6_port));
    } else if (port) {
        *port = "";
    }
    return buf;
}

} // namespace drover

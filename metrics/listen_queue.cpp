#include "metrics/listen_queue.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "base/unique_fd.hpp"

namespace drover {

namespace {

// The kernel's TCP_LISTEN, which unix sockets share in sock_diag.
constexpr uint8_t kListenState = 10;

bool read_tcp_queue(int fd, ListenQueue& out) noexcept
{
    tcp_info info{};
    socklen_t len = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 || info.tcpi_state != kListenState)
        return false;
    out.has_length = true;
    out.length = info.tcpi_unacked;
    out.backlog = info.tcpi_sacked;
    return true;
}

bool read_unix_queue(int fd, ListenQueue& out) noexcept
{
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return false;
    UniqueFd nl(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!nl)
        return false;

    struct {
        nlmsghdr header;
        unix_diag_req request;
    } query{};
    query.header.nlmsg_len = sizeof query;
    query.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    query.header.nlmsg_flags = NLM_F_REQUEST;
    query.request.sdiag_family = AF_UNIX;
    query.request.udiag_states = 1U << kListenState;
    query.request.udiag_ino = static_cast<uint32_t>(st.st_ino);
    query.request.udiag_show = UDIAG_SHOW_RQLEN;
    // No cookie: look the socket up by inode alone (INET_DIAG_NOCOOKIE).
    query.request.udiag_cookie[0] = ~0U;
    query.request.udiag_cookie[1] = ~0U;

    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t sent;
    do
        sent = ::sendto(nl.get(), &query, sizeof query, 0, reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel);
    while (sent < 0 && errno == EINTR);
    if (sent != static_cast<ssize_t>(sizeof query))
        return false;

    // The kernel answers inside sendto(), so the reply is already queued:
    // MSG_DONTWAIT keeps the master from ever blocking here.
    alignas(nlmsghdr) char buf[4096];
    ssize_t n;
    do
        n = ::recv(nl.get(), buf, sizeof buf, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return false;

    // Walked by hand: the NLMSG_OK/RTA_OK macros compare signed with unsigned.
    const size_t total = static_cast<size_t>(n);
    for (size_t at = 0; at + sizeof(nlmsghdr) <= total;) {
        nlmsghdr header;
        std::memcpy(&header, buf + at, sizeof header);
        if (header.nlmsg_len < sizeof header || header.nlmsg_len > total - at)
            return false;
        if (header.nlmsg_type != SOCK_DIAG_BY_FAMILY || header.nlmsg_len < NLMSG_LENGTH(sizeof(unix_diag_msg)))
            return false;  // NLMSG_ERROR (no such socket, no unix_diag module) or garbage
        unix_diag_msg msg;
        std::memcpy(&msg, buf + at + NLMSG_HDRLEN, sizeof msg);
        if (msg.udiag_ino == query.request.udiag_ino && msg.udiag_state == kListenState) {
            size_t attr_at = at + NLMSG_LENGTH(sizeof msg);
            const size_t end = at + header.nlmsg_len;
            while (attr_at + sizeof(rtattr) <= end) {
                rtattr attr;
                std::memcpy(&attr, buf + attr_at, sizeof attr);
                if (attr.rta_len < sizeof attr || attr.rta_len > end - attr_at)
                    break;
                if (attr.rta_type == UNIX_DIAG_RQLEN && attr.rta_len >= RTA_LENGTH(sizeof(unix_diag_rqlen))) {
                    unix_diag_rqlen rq;
                    std::memcpy(&rq, buf + attr_at + RTA_LENGTH(0), sizeof rq);
                    out.has_length = true;
                    out.length = rq.udiag_rqueue;
                    out.backlog = rq.udiag_wqueue;
                    return true;
                }
                attr_at += RTA_ALIGN(attr.rta_len);
            }
        }
        at += NLMSG_ALIGN(header.nlmsg_len);
    }
    return false;
}

} // namespace

ListenQueue read_listen_queue(const ListenerState& listener) noexcept
{
    ListenQueue queue;
    queue.backlog = listener.backlog;
    if (listener.fd < 0)
        return queue;
    ListenQueue kernel;
    bool ok = listener.is_unix ? read_unix_queue(listener.fd, kernel) : read_tcp_queue(listener.fd, kernel);
    return ok ? kernel : queue;
}

} // namespace drover

#include "ipc/fd_passing.hpp"

#include <sys/socket.h>

#include <cstring>

namespace drover {

Result<void> send_fd(int socket, int fd, uint8_t tag)
{
    struct iovec iov = {&tag, 1};
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
    for (;;) {
        if (::sendmsg(socket, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
            return {};
        if (errno != EINTR)
            return SysError::from_errno("sendmsg(SCM_RIGHTS)");
    }
}

Result<PassedFd> receive_fd(int socket)
{
    uint8_t tag = 0;
    struct iovec iov = {&tag, 1};
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do {
        n = ::recvmsg(socket, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return SysError::from_errno("recvmsg(SCM_RIGHTS)");
    PassedFd out;
    out.tag = tag;
    for (struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
            out.fd.reset(fd);
        }
    }
    if (!out.fd)
        return SysError{"recvmsg(SCM_RIGHTS): no descriptor in message", EPROTO};
    return out;
}

} // namespace drover

#include "worker/client_socket.hpp"

#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <vector>

namespace drover {

namespace {

/// A large body streams through the codec in steps of this size rather than
/// piling up in the connection first.
constexpr size_t kReadSize = 64 * 1024;

int poll_timeout_ms(double timeout)
{
    return timeout > 0 ? static_cast<int>(std::min(timeout * 1000.0, double(INT_MAX))) : -1;
}

} // namespace

Result<size_t> ClientSocket::receive(std::string& into, int flags)
{
    char chunk[kReadSize];
    for (;;) {
        ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, flags);
        if (n >= 0) {
            into.append(chunk, static_cast<size_t>(n));
            return static_cast<size_t>(n);
        }
        if (errno != EINTR)
            return SysError::from_errno("recv()");
    }
}

Result<size_t> ClientSocket::receive_waiting(std::string& into, double timeout)
{
    for (;;) {
        Result<size_t> n = receive(into);
        if (n || (n.error().err != EAGAIN && n.error().err != EWOULDBLOCK))
            return n;
        if (Result<void> ready = wait(POLLIN, timeout); !ready)
            return ready.error();
    }
}

Result<void> ClientSocket::wait(short events, double timeout)
{
    struct pollfd p = {fd_.get(), events, 0};
    for (;;) {
        int n = ::poll(&p, 1, poll_timeout_ms(timeout));
        if (n > 0)
            return {};
        if (n == 0)
            return SysError{"poll()", ETIMEDOUT};
        if (errno != EINTR)
            return SysError::from_errno("poll()");
    }
}

Result<void> ClientSocket::send_all(const Output& out, bool more, double timeout)
{
    std::vector<struct iovec> iov = out.iovecs();
    size_t first = 0;
    while (first < iov.size()) {
        struct msghdr msg = {};
        msg.msg_iov = iov.data() + first;
        msg.msg_iovlen = std::min<size_t>(iov.size() - first, IOV_MAX);
        ssize_t n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (Result<void> ready = wait(POLLOUT, timeout); !ready)
                    return ready.error();
                continue;
            }
            return SysError::from_errno("sendmsg()");
        }
        size_t left = static_cast<size_t>(n);
        while (first < iov.size() && left >= iov[first].iov_len) {
            left -= iov[first].iov_len;
            ++first;
        }
        if (left > 0) {
            iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
            iov[first].iov_len -= left;
        }
    }
    return {};
}

Result<int64_t> ClientSocket::send_file(int file, off_t offset, int64_t count, double timeout)
{
    int64_t sent = 0;
    while (count < 0 || sent < count) {
        int64_t left = count < 0 ? (1 << 30) : std::min<int64_t>(count - sent, 1 << 30);
        ssize_t n = ::sendfile(fd_.get(), file, &offset, static_cast<size_t>(left));
        if (n > 0) {
            sent += n;
            continue;
        }
        if (n == 0)
            break;  // the end of the file
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (Result<void> ready = wait(POLLOUT, timeout); !ready)
                return ready.error();
            continue;
        }
        return SysError::from_errno("sendfile()");
    }
    return sent;
}

void ClientSocket::shutdown_write() { ::shutdown(fd_.get(), SHUT_WR); }

bool ClientSocket::discard_input()
{
    char sink[16384];
    for (;;) {
        ssize_t n = ::recv(fd_.get(), sink, sizeof sink, 0);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
}

} // namespace drover

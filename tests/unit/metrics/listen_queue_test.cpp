#include "metrics/listen_queue.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "base/unique_fd.hpp"

namespace drover {
namespace {

UniqueFd tcp_listener(int backlog, sockaddr_in& addr)
{
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd.get(), backlog) != 0 || ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
        return UniqueFd();
    return fd;
}

/// An abstract unix socket, so no file is left behind.
UniqueFd unix_listener(int backlog, sockaddr_un& addr, socklen_t& addr_len)
{
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    addr = {};
    addr.sun_family = AF_UNIX;
    std::string name = "drover-listen-queue-test-" + std::to_string(::getpid());
    std::memcpy(addr.sun_path + 1, name.data(), name.size());
    addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), addr_len) != 0 || ::listen(fd.get(), backlog) != 0)
        return UniqueFd();
    return fd;
}

/// The handshake completes in softirq context; give it a moment.
ListenQueue wait_for_length(const ListenerState& listener, uint64_t want)
{
    ListenQueue q;
    for (int i = 0; i < 200; ++i) {
        q = read_listen_queue(listener);
        if (q.has_length && q.length == want)
            break;
        timespec ts{0, 5'000'000};
        ::nanosleep(&ts, nullptr);
    }
    return q;
}

TEST(ListenQueue, TcpReportsAcceptQueueAndBacklog)
{
    sockaddr_in addr{};
    UniqueFd listener = tcp_listener(7, addr);
    ASSERT_TRUE(listener);
    ListenerState state{"http://127.0.0.1", "http", listener.get(), false, 1024};

    ListenQueue empty = read_listen_queue(state);
    ASSERT_TRUE(empty.has_length);
    EXPECT_EQ(empty.length, 0u);
    EXPECT_EQ(empty.backlog, 7u);  // the kernel's, not the configured 1024

    std::vector<UniqueFd> clients;
    for (int i = 0; i < 3; ++i) {
        UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        ASSERT_EQ(::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        clients.push_back(std::move(c));
    }
    ListenQueue q = wait_for_length(state, 3);
    ASSERT_TRUE(q.has_length);
    EXPECT_EQ(q.length, 3u);
    EXPECT_EQ(q.backlog, 7u);

    UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(accepted);
    EXPECT_EQ(wait_for_length(state, 2).length, 2u);
}

TEST(ListenQueue, UnixReportsAcceptQueueAndBacklogThroughSockDiag)
{
    sockaddr_un addr{};
    socklen_t addr_len = 0;
    UniqueFd listener = unix_listener(5, addr, addr_len);
    ASSERT_TRUE(listener);
    ListenerState state{"fastcgi://unix:@test", "fastcgi", listener.get(), true, 1024};

    ListenQueue empty = read_listen_queue(state);
    ASSERT_TRUE(empty.has_length) << "sock_diag for AF_UNIX did not answer";
    EXPECT_EQ(empty.length, 0u);
    EXPECT_EQ(empty.backlog, 5u);

    std::vector<UniqueFd> clients;
    for (int i = 0; i < 2; ++i) {
        UniqueFd c(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        ASSERT_EQ(::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), addr_len), 0);
        clients.push_back(std::move(c));
    }
    ListenQueue q = read_listen_queue(state);  // unix connect queues synchronously
    ASSERT_TRUE(q.has_length);
    EXPECT_EQ(q.length, 2u);
    EXPECT_EQ(q.backlog, 5u);
}

TEST(ListenQueue, WhenTheKernelCannotSayOnlyTheConfiguredBacklogIsKnown)
{
    int pipe_fds[2];
    ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
    UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);

    for (bool is_unix : {false, true}) {
        ListenerState not_a_socket{"x", "http", read_end.get(), is_unix, 77};
        ListenQueue q = read_listen_queue(not_a_socket);
        EXPECT_FALSE(q.has_length) << "is_unix=" << is_unix;
        EXPECT_EQ(q.backlog, 77u);
    }
    ListenerState closed{"x", "http", -1, false, 12};
    ListenQueue q = read_listen_queue(closed);
    EXPECT_FALSE(q.has_length);
    EXPECT_EQ(q.backlog, 12u);
}

TEST(ListenQueue, AConnectedTcpSocketIsNotMistakenForAListener)
{
    sockaddr_in addr{};
    UniqueFd listener = tcp_listener(4, addr);
    ASSERT_TRUE(listener);
    UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ListenerState state{"x", "http", client.get(), false, 9};
    ListenQueue q = read_listen_queue(state);
    EXPECT_FALSE(q.has_length);
    EXPECT_EQ(q.backlog, 9u);
}

} // namespace
} // namespace drover

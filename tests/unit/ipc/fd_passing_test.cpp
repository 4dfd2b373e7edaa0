#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "ipc/fd_passing.hpp"

namespace drover {
namespace {

TEST(FdPassing, AnFdAndItsTagArrive)
{
    int pair[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair), 0);
    UniqueFd a(pair[0]), b(pair[1]);
    int pipefd[2];
    ASSERT_EQ(pipe(pipefd), 0);
    UniqueFd r(pipefd[0]), w(pipefd[1]);

    ASSERT_TRUE(send_fd(a.get(), w.get(), 2));
    Result<PassedFd> got = receive_fd(b.get());
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(got->tag, 2);
    EXPECT_NE(got->fd.get(), w.get());
    ASSERT_EQ(::write(got->fd.get(), "x", 1), 1);  // the passed fd is the pipe's write end
    char c = 0;
    ASSERT_EQ(::read(r.get(), &c, 1), 1);
    EXPECT_EQ(c, 'x');
}

TEST(FdPassing, NothingQueuedIsEagain)
{
    int pair[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair), 0);
    UniqueFd a(pair[0]), b(pair[1]);
    Result<PassedFd> got = receive_fd(b.get());
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().err, EAGAIN);
    EXPECT_NE(got.error().message().find("recvmsg(SCM_RIGHTS) failed"), std::string::npos);
}

} // namespace
} // namespace drover

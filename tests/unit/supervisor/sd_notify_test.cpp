// supervisor/sd_notify.cpp: the exact datagrams systemd receives, read off a
// test NOTIFY_SOCKET, and the watchdog interval read from WATCHDOG_USEC.
#include "supervisor/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "base/unique_fd.hpp"

namespace drover {
namespace {

namespace fs = std::filesystem;

/// A datagram socket standing in for systemd's notify socket, set as
/// NOTIFY_SOCKET for the test's length.
class NotifySocket {
public:
    NotifySocket()
    {
        char tmpl[] = "/tmp/drover-notify-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        path_ = dir_ + "/notify.sock";
        fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
        EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
        int one = 1;
        ::setsockopt(fd_.get(), SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
        timeval tv{2, 0};
        ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
    }
    ~NotifySocket()
    {
        ::unsetenv("NOTIFY_SOCKET");
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    struct Datagram {
        std::string text;
        int fds = 0;      ///< file descriptors passed with it
        pid_t pid = 0;    ///< the sender, from its credentials
    };

    /// The next datagram; text "<timeout>" when none came.
    Datagram receive()
    {
        char buf[4096];
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8) + CMSG_SPACE(sizeof(ucred))];
        iovec iov{buf, sizeof buf};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_CMSG_CLOEXEC);
        Datagram d;
        if (n < 0) {
            d.text = "<timeout>";
            return d;
        }
        d.text.assign(buf, static_cast<size_t>(n));
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < count; ++i) {
                    int fd;
                    std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                    UniqueFd received(fd);
                    ++d.fds;
                }
            } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
                ucred cred;
                std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
                d.pid = cred.pid;
            }
        }
        return d;
    }

private:
    std::string dir_;
    std::string path_;
    UniqueFd fd_;
};

uint64_t monotonic_usec_now()
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

TEST(SdNotify, EachMessageIsSentAsSystemdReadsIt)
{
    NotifySocket systemd;
    EXPECT_TRUE(notify::ready());
    auto d = systemd.receive();
    EXPECT_EQ(d.text, "READY=1");
    EXPECT_EQ(d.pid, ::getpid());
    EXPECT_TRUE(notify::stopping());
    EXPECT_EQ(systemd.receive().text, "STOPPING=1");
    EXPECT_TRUE(notify::watchdog());
    EXPECT_EQ(systemd.receive().text, "WATCHDOG=1");
    EXPECT_TRUE(notify::status("generation 2: 4 workers (1 busy, 3 idle), 12.5 req/s"));
    EXPECT_EQ(systemd.receive().text, "STATUS=generation 2: 4 workers (1 busy, 3 idle), 12.5 req/s");
}

TEST(SdNotify, StatusIsOneLine)
{
    NotifySocket systemd;
    EXPECT_TRUE(notify::status("crash loop:\nretrying in 2 s\r"));
    EXPECT_EQ(systemd.receive().text, "STATUS=crash loop: retrying in 2 s ");
}

TEST(SdNotify, ReloadingCarriesTheMonotonicTime)
{
    NotifySocket systemd;
    EXPECT_TRUE(notify::reloading(123456789));
    EXPECT_EQ(systemd.receive().text, "RELOADING=1\nMONOTONIC_USEC=123456789");

    const uint64_t before = monotonic_usec_now();
    EXPECT_TRUE(notify::reloading());
    const uint64_t after = monotonic_usec_now();
    const std::string text = systemd.receive().text;
    const std::string prefix = "RELOADING=1\nMONOTONIC_USEC=";
    ASSERT_TRUE(text.starts_with(prefix)) << text;
    const uint64_t sent = std::stoull(text.substr(prefix.size()));
    EXPECT_GE(sent, before);
    EXPECT_LE(sent, after);
}

TEST(SdNotify, AListenerIsStoredUnderItsNameWithItsSocket)
{
    NotifySocket systemd;
    Listener l;
    l.spec.text = "http://127.0.0.1:8000";
    l.fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    l.fd_name = "web";
    EXPECT_TRUE(notify::store_listener(l));
    auto d = systemd.receive();
    EXPECT_EQ(d.text, "FDSTORE=1\nFDNAME=web");
    EXPECT_EQ(d.fds, 1);
    EXPECT_TRUE(l.in_fd_store);
}

TEST(SdNotify, WithoutNotifySocketNothingIsSent)
{
    ::unsetenv("NOTIFY_SOCKET");
    EXPECT_FALSE(notify::ready());
    EXPECT_FALSE(notify::reloading());
    EXPECT_FALSE(notify::stopping());
    EXPECT_FALSE(notify::status("x"));
    EXPECT_FALSE(notify::watchdog());
    Listener l;
    l.fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    l.fd_name = "web";
    EXPECT_FALSE(notify::store_listener(l));
    EXPECT_FALSE(l.in_fd_store);
}

TEST(SdNotify, WatchdogIntervalIsHalfOfWatchdogUsecForThisProcess)
{
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    EXPECT_EQ(notify::watchdog_interval(), std::nullopt);

    ::setenv("WATCHDOG_USEC", "3000000", 1);
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
    EXPECT_EQ(notify::watchdog_interval(), std::chrono::microseconds(1500000));
    // Still there for a second look: the master reads it, its workers do not match.
    EXPECT_EQ(notify::watchdog_interval(), std::chrono::microseconds(1500000));

    // Meant for another process (a worker inherited it).
    ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
    EXPECT_EQ(notify::watchdog_interval(), std::nullopt);

    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
}

} // namespace
} // namespace drover

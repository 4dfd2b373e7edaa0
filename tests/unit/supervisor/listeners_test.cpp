// supervisor/listeners.cpp: unix sockets born with their mode, owner and
// group; sockets passed by systemd (LISTEN_FDS, LISTEN_FDNAMES) claimed by
// name or exact address, and a passed socket nobody claims refused by name.
// Passing sockets takes fds 3 and up and the LISTEN_* environment, so each
// such case runs in a forked child that reports back through a pipe.
#include "supervisor/listeners.hpp"

#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "base/unique_fd.hpp"
#include "supervisor/config.hpp"

namespace drover {
namespace {

namespace fs = std::filesystem;

class TempDir {
public:
    TempDir()
    {
        char tmpl[] = "/tmp/drover-listeners-XXXXXX";
        path_ = ::mkdtemp(tmpl);
    }
    ~TempDir()
    {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

ListenSpec spec_of(const std::string& address)
{
    ListenSpec spec = parse_listen_address(address);
    return spec;
}

ListenSpec named(const std::string& fd_name, Protocol protocol = Protocol::fastcgi)
{
    ListenSpec spec;
    spec.has_address = false;
    spec.fd_name = fd_name;
    spec.protocol = protocol;
    spec.text = "fastcgi://fd:" + fd_name;
    return spec;
}

UniqueFd tcp_listener(const char* host, uint16_t* port)
{
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    ::inet_pton(AF_INET, host, &addr.sin_addr);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
    EXPECT_EQ(::listen(fd.get(), 16), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    *port = ntohs(addr.sin_port);
    return fd;
}

UniqueFd unix_listener(const std::string& path)
{
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
    EXPECT_EQ(::listen(fd.get(), 16), 0);
    return fd;
}

/// Runs open_listeners(specs) in a child that systemd passed `passed` to, as
/// fds 3.. named `names` (LISTEN_FDNAMES unset when names is empty). The
/// result: one line per listener ("text|unix|from_systemd|fd_name"), or
/// "error: " and the message.
std::string open_with_passed(const std::vector<int>& passed, const std::vector<std::string>& names,
                             const std::vector<ListenSpec>& specs)
{
    int pipe_fds[2];
    EXPECT_EQ(::pipe(pipe_fds), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
        // Out of the way of fds 3.. first, then the passed sockets in order.
        int report = ::fcntl(pipe_fds[1], F_DUPFD_CLOEXEC, 200);
        std::vector<int> high;
        for (int fd : passed)
            high.push_back(::fcntl(fd, F_DUPFD, 300));
        for (size_t i = 0; i < high.size(); ++i)
            ::dup2(high[i], 3 + static_cast<int>(i));
        // As systemd does: no LISTEN_FDS at all rather than 0.
        if (!passed.empty()) {
            ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
            ::setenv("LISTEN_FDS", std::to_string(passed.size()).c_str(), 1);
        }
        std::string joined;
        for (size_t i = 0; i < names.size(); ++i)
            joined += (i ? ":" : "") + names[i];
        if (names.empty())
            ::unsetenv("LISTEN_FDNAMES");
        else
            ::setenv("LISTEN_FDNAMES", joined.c_str(), 1);
        std::string out;
        try {
            std::vector<Listener> ls = open_listeners(specs);
            for (const Listener& l : ls)
                out += cat(l.spec.text, "|", l.spec.is_unix() ? "unix" : "tcp", "|",
                           l.from_systemd ? "systemd" : "bound", "|", l.fd_name, "\n");
            if (std::getenv("LISTEN_FDS"))
                out += "LISTEN_FDS still set\n";
        } catch (const std::exception& e) {
            out = cat("error: ", e.what());
        }
        (void)!::write(report, out.data(), out.size());
        ::_exit(0);
    }
    ::close(pipe_fds[1]);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;)
        out.append(buf, static_cast<size_t>(n));
    ::close(pipe_fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return out;
}

// ---------------------------------------------------------------- unix sockets drover binds

TEST(Listeners, AUnixSocketIsBornWithItsMode)
{
    TempDir dir;
    ListenSpec spec = spec_of("unix:" + dir.path() + "/app.sock");
    spec.mode = 0600;
    std::vector<Listener> ls = open_listeners({spec});
    struct stat st;
    ASSERT_EQ(::lstat(spec.path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(st.st_uid, ::geteuid());
    // The umask is the process's again.
    mode_t now = ::umask(022);
    ::umask(now);
    EXPECT_EQ(now, 022u);
    remove_socket_files(ls);
    EXPECT_NE(::lstat(spec.path.c_str(), &st), 0);
}

TEST(Listeners, AUnixSocketIsBornWithItsOwnerAndGroup)
{
    if (::geteuid() != 0)
        GTEST_SKIP() << "needs root to create a file for another user";
    struct passwd* nobody = ::getpwnam("nobody");
    struct group* nogroup = ::getgrnam("nogroup");
    if (!nobody || !nogroup)
        GTEST_SKIP() << "no nobody/nogroup here";
    const uid_t uid = nobody->pw_uid;
    const gid_t gid = nogroup->gr_gid;
    TempDir dir;
    // The owner creates the file: the directory must let it.
    ASSERT_EQ(::chmod(dir.path().c_str(), 0777), 0);
    ListenSpec spec = spec_of("unix:" + dir.path() + "/owned.sock");
    spec.mode = 0660;
    spec.owner = "nobody";
    spec.group = "nogroup";
    std::vector<Listener> ls = open_listeners({spec});
    struct stat st;
    ASSERT_EQ(::lstat(spec.path.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, uid);
    EXPECT_EQ(st.st_gid, gid);
    EXPECT_EQ(st.st_mode & 0777, 0660u);
    // Back to root's file-system ids: a file made now is root's.
    std::string probe = dir.path() + "/probe";
    UniqueFd f(::open(probe.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
    ASSERT_EQ(::fstat(f.get(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u);
    EXPECT_EQ(st.st_gid, ::getegid());
}

TEST(Listeners, AGroupAloneNeedsNoWritableDirectory)
{
    if (::geteuid() != 0)
        GTEST_SKIP() << "needs root to create a file for another group";
    struct group* nogroup = ::getgrnam("nogroup");
    if (!nogroup)
        GTEST_SKIP() << "no nogroup here";
    TempDir dir;
    ListenSpec spec = spec_of("unix:" + dir.path() + "/group.sock");
    spec.group = "nogroup";
    std::vector<Listener> ls = open_listeners({spec});
    struct stat st;
    ASSERT_EQ(::lstat(spec.path.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u);
    EXPECT_EQ(st.st_gid, nogroup->gr_gid);
}

TEST(Listeners, AnOwnerThatCannotWriteTheDirectoryIsToldSo)
{
    if (::geteuid() != 0 || !::getpwnam("nobody"))
        GTEST_SKIP() << "needs root and the nobody user";
    TempDir dir;  // 0700, root's
    ListenSpec spec = spec_of("unix:" + dir.path() + "/app.sock");
    spec.owner = "nobody";
    try {
        open_listeners({spec});
        FAIL() << "no error";
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string(e.what()), "cannot listen on " + spec.text +
                                             ": bind() as its owner nobody failed: Permission denied (the socket's "
                                             "directory must be writable by its owner)");
    }
}

TEST(Listeners, AnUnknownOwnerIsNamed)
{
    TempDir dir;
    ListenSpec spec = spec_of("unix:" + dir.path() + "/app.sock");
    spec.owner = "no-such-user-here";
    try {
        open_listeners({spec});
        FAIL() << "no error";
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string(e.what()), "cannot listen on " + spec.text + ": socket owner no-such-user-here: no such user");
    }
}

TEST(Listeners, ASocketFileInTheFdStoreIsKeptAtExit)
{
    TempDir dir;
    ListenSpec spec = spec_of("unix:" + dir.path() + "/kept.sock");
    std::vector<Listener> ls = open_listeners({spec});
    ls[0].in_fd_store = true;
    remove_socket_files(ls);
    struct stat st;
    EXPECT_EQ(::lstat(spec.path.c_str(), &st), 0);
}

TEST(Listeners, DefaultFdNamesAreValidAndDistinct)
{
    EXPECT_EQ(default_fd_name(spec_of("127.0.0.1:8000")), "bind.127.0.0.1_8000");
    EXPECT_EQ(default_fd_name(spec_of("fastcgi://[::1]:9000")), "bind.__1_9000");
    EXPECT_EQ(default_fd_name(spec_of("unix:/run/drover/app.sock")), "bind.unix_/run/drover/app.sock");
    EXPECT_LE(default_fd_name(spec_of("unix:/" + std::string(100, 'a'))).size(), 255u);
}

// ---------------------------------------------------------------- sockets systemd passes

TEST(Listeners, APassedSocketIsTakenByItsExactAddress)
{
    uint16_t port = 0;
    UniqueFd s = tcp_listener("127.0.0.1", &port);
    std::string text = cat("127.0.0.1:", port);
    EXPECT_EQ(open_with_passed({s.get()}, {}, {spec_of(text)}),
              cat(text, "|tcp|systemd|bind.127.0.0.1_", port, "\n"));
}

TEST(Listeners, APassedSocketOnAnotherHostWithTheSamePortIsNotTaken)
{
    uint16_t port = 0;
    UniqueFd s = tcp_listener("127.0.0.1", &port);
    // 127.0.0.2 is loopback too: the entry binds it, and 127.0.0.1's socket
    // is left unclaimed, which is an error naming it.
    std::string out = open_with_passed({s.get()}, {"drover.socket"}, {spec_of(cat("127.0.0.2:", port))});
    EXPECT_EQ(out, cat("error: socket fd 3 (name \"drover.socket\", 127.0.0.1:", port,
                       ") passed by systemd is claimed by no bind entry: add its address, or { fd_name = "
                       "\"drover.socket\", protocol = \"...\" }, to bind (a socket in the file descriptor store "
                       "from an older bind list goes with `systemctl stop`)"));
}

TEST(Listeners, ANamedEntryTakesTheSocketOfThatName)
{
    TempDir dir;
    uint16_t port = 0;
    UniqueFd web = tcp_listener("127.0.0.1", &port);
    UniqueFd fcgi = unix_listener(dir.path() + "/fcgi.sock");
    std::string out = open_with_passed({web.get(), fcgi.get()}, {"web", "fcgi"},
                                       {named("fcgi"), named("web", Protocol::http)});
    EXPECT_EQ(out, "fastcgi://fd:fcgi|unix|systemd|fcgi\nfastcgi://fd:web|tcp|systemd|web\n");
}

TEST(Listeners, ANamedEntryWithAnAddressBindsItWhenNothingIsPassed)
{
    uint16_t port = 0;
    { UniqueFd probe = tcp_listener("127.0.0.1", &port); }
    ListenSpec spec = spec_of(cat("127.0.0.1:", port));
    spec.fd_name = "web";
    EXPECT_EQ(open_with_passed({}, {}, {spec}), cat("127.0.0.1:", port, "|tcp|bound|web\n"));
}

TEST(Listeners, ANamedEntryWithoutAnAddressNeedsItsSocket)
{
    uint16_t port = 0;
    UniqueFd other = tcp_listener("127.0.0.1", &port);
    EXPECT_EQ(open_with_passed({}, {}, {named("web")}),
              "error: cannot listen on fastcgi://fd:web: systemd passed no socket named \"web\" (no LISTEN_FDS)");
    ListenSpec other_spec = spec_of(cat("127.0.0.1:", port));
    EXPECT_EQ(open_with_passed({other.get()}, {"api"}, {named("web"), other_spec}),
              "error: cannot listen on fastcgi://fd:web: systemd passed no socket named \"web\" (it passed \"api\")");
}

TEST(Listeners, TheSameSocketPassedTwiceIsServedOnce)
{
    // A socket unit's socket that the fd store holds as well.
    uint16_t port = 0;
    UniqueFd s = tcp_listener("127.0.0.1", &port);
    std::string text = cat("127.0.0.1:", port);
    EXPECT_EQ(open_with_passed({s.get(), s.get()}, {"drover.socket", "bind.127.0.0.1_" + std::to_string(port)},
                               {spec_of(text)}),
              cat(text, "|tcp|systemd|bind.127.0.0.1_", port, "\n"));
}

TEST(Listeners, APassedSocketThatDoesNotListenIsRefused)
{
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_EQ(open_with_passed({s.get()}, {"web"}, {named("web")}),
              "error: cannot listen on fastcgi://fd:web: the socket systemd passed as fd 3 (name \"web\", "
              "0.0.0.0:0) is not a listening stream socket");
}

} // namespace
} // namespace drover

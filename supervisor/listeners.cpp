#include "supervisor/listeners.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <cstring>
#include <stdexcept>

#include "base/log.hpp"

namespace drover {

namespace {

[[noreturn]] void fail(const ListenSpec& spec, const char* op, int err)
{
    throw std::runtime_error("cannot listen on " + spec.text + ": " + op + " failed: " + std::strerror(err));
}

void set_nonblocking(int fd)
{
    int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

UniqueFd bind_unix(const ListenSpec& spec)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (spec.path.size() >= sizeof addr.sun_path)
        throw std::runtime_error("cannot listen on " + spec.text + ": path longer than " +
                                 std::to_string(sizeof addr.sun_path - 1) + " bytes");
    std::memcpy(addr.sun_path, spec.path.c_str(), spec.path.size() + 1);

    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd)
        fail(spec, "socket()", errno);
    struct stat st;
    if (::lstat(spec.path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            throw std::runtime_error("cannot listen on " + spec.text + ": the path exists and is not a socket");
        // A socket file left by a dead server is stale; one that accepts is
        // another server's, and is not taken over.
        UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
            throw std::runtime_error("cannot listen on " + spec.text + ": another server is listening there");
        ::unlink(spec.path.c_str());
    }
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
        fail(spec, "bind()", errno);
    if (::chmod(spec.path.c_str(), spec.mode) < 0)
        fail(spec, "chmod()", errno);
    return fd;
}

UniqueFd bind_inet(const ListenSpec& spec)
{
    addrinfo hints{};
    hints.ai_family = spec.family == ListenSpec::Family::inet6 ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    std::string port = std::to_string(spec.port);
    int rc = ::getaddrinfo(spec.host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0)
        throw std::runtime_error("cannot listen on " + spec.text + ": cannot resolve " + spec.host + ": " +
                                 gai_strerror(rc));
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(res, freeaddrinfo);

    UniqueFd fd(::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd)
        fail(spec, "socket()", errno);
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (res->ai_family == AF_INET6)
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd.get(), res->ai_addr, res->ai_addrlen) < 0)
        fail(spec, "bind()", errno);
    return fd;
}

/// The systemd-passed socket that matches spec, or -1.
int find_systemd_socket(const ListenSpec& spec, int count, std::vector<bool>& used)
{
    for (int i = 0; i < count; ++i) {
        int fd = SD_LISTEN_FDS_START + i;
        if (used[static_cast<size_t>(i)])
            continue;
        bool match = false;
        if (spec.is_unix()) {
            match = sd_is_socket_unix(fd, SOCK_STREAM, 1, spec.path.c_str(), 0) > 0;
        } else {
            int family = spec.family == ListenSpec::Family::inet6 ? AF_INET6 : AF_UNSPEC;
            match = sd_is_socket_inet(fd, family, SOCK_STREAM, 1, spec.port) > 0;
        }
        if (match) {
            used[static_cast<size_t>(i)] = true;
            return fd;
        }
    }
    return -1;
}

} // namespace

std::vector<Listener> open_listeners(const std::vector<ListenSpec>& specs)
{
    int passed = sd_listen_fds(1);
    if (passed < 0)
        throw std::runtime_error(std::string("sd_listen_fds() failed: ") + std::strerror(-passed));
    std::vector<bool> used(static_cast<size_t>(std::max(passed, 0)), false);

    std::vector<Listener> out;
    for (const ListenSpec& spec : specs) {
        Listener l;
        l.spec = spec;
        int inherited = find_systemd_socket(spec, passed, used);
        if (inherited >= 0) {
            l.fd.reset(inherited);
            l.from_systemd = true;
            log_info("listening on ", spec.text, " (socket from systemd, fd ", inherited, ")");
        } else {
            l.fd = spec.is_unix() ? bind_unix(spec) : bind_inet(spec);
            if (::listen(l.fd.get(), spec.backlog) < 0)
                fail(spec, "listen()", errno);
            log_info("listening on ", spec.text);
        }
        set_nonblocking(l.fd.get());
        out.push_back(std::move(l));
    }
    for (int i = 0; i < passed; ++i) {
        if (!used[static_cast<size_t>(i)]) {
            log_warning("socket fd ", SD_LISTEN_FDS_START + i,
                        " passed by systemd matches no bind address; it is not served");
            UniqueFd unused(SD_LISTEN_FDS_START + i);
        }
    }
    return out;
}

void remove_socket_files(const std::vector<Listener>& listeners)
{
    for (const Listener& l : listeners)
        if (l.spec.is_unix() && !l.from_systemd)
            ::unlink(l.spec.path.c_str());
}

} // namespace drover

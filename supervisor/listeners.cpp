#include "supervisor/listeners.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>

#include "base/log.hpp"
#include "supervisor/config_address.hpp"
#include "supervisor/config_values.hpp"

namespace drover {

namespace {

[[noreturn]] void fail(const ListenSpec& spec, const char* op, int err)
{
    throw std::runtime_error(cat("cannot listen on ", spec.text, ": ", op, " failed: ", std::strerror(err)));
}

void set_nonblocking(int fd)
{
    int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

// ---------------------------------------------------------------- unix sockets

/// Who a unix socket file is created for; unset parts are the process's.
struct FileOwner {
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
};

FileOwner resolve_owner(const ListenSpec& spec)
{
    FileOwner out;
    if (!spec.owner.empty()) {
        errno = 0;
        struct passwd* pw = ::getpwnam(spec.owner.c_str());
        if (!pw)
            throw std::runtime_error(cat("cannot listen on ", spec.text, ": socket owner ", spec.owner, ": ",
                                         errno ? std::strerror(errno) : "no such user"));
        out.uid = pw->pw_uid;
        out.gid = pw->pw_gid;
    }
    if (!spec.group.empty()) {
        errno = 0;
        struct group* gr = ::getgrnam(spec.group.c_str());
        if (!gr)
            throw std::runtime_error(cat("cannot listen on ", spec.text, ": socket group ", spec.group, ": ",
                                         errno ? std::strerror(errno) : "no such group"));
        out.gid = gr->gr_gid;
    }
    return out;
}

/// The process's umask and file-system ids, for the length of one bind():
/// the socket file is born with the mode, owner and group it is meant to
/// have. (fchown()/fchmod() on a unix socket's fd change the socket's own
/// inode, not the file bind() made, and chown() by path after the fact
/// leaves a moment with the wrong owner and follows whatever the path has
/// become.) The master is single-threaded here, so the process-wide umask
/// is safe to borrow. Dropping the fsuid from 0 also drops the file
/// capabilities: the directory must then be writable by the owner.
class BindCredentials {
public:
    BindCredentials(const ListenSpec& spec, const FileOwner& owner) : spec_(spec)
    {
        old_umask_ = ::umask(static_cast<mode_t>(~spec.mode & 0777));
        if (owner.gid)
            switch_id(::setfsgid, *owner.gid, old_fsgid_, "group");
        if (owner.uid)
            switch_id(::setfsuid, *owner.uid, old_fsuid_, "owner");
    }
    ~BindCredentials()
    {
        if (old_fsuid_)
            ::setfsuid(*old_fsuid_);
        if (old_fsgid_)
            ::setfsgid(*old_fsgid_);
        ::umask(old_umask_);
    }
    BindCredentials(const BindCredentials&) = delete;
    BindCredentials& operator=(const BindCredentials&) = delete;

private:
    template <typename Id>
    void switch_id(int (*set)(Id), Id id, std::optional<Id>& old, const char* what)
    {
        old = static_cast<Id>(set(id));
        // setfs*id() reports no error: read the id back.
        if (static_cast<Id>(set(static_cast<Id>(-1))) != id)
            throw std::runtime_error(cat("cannot listen on ", spec_.text, ": cannot create the socket file for its ",
                                         what, " (id ", id, "): only root can (drover runs as uid ", ::geteuid(), ")"));
    }

    const ListenSpec& spec_;
    mode_t old_umask_ = 022;
    std::optional<uid_t> old_fsuid_;
    std::optional<gid_t> old_fsgid_;
};

sockaddr_un unix_address(const ListenSpec& spec)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (spec.path.size() >= sizeof addr.sun_path)
        throw std::runtime_error(cat("cannot listen on ", spec.text, ": path longer than ", sizeof addr.sun_path - 1,
                                     " bytes"));
    std::memcpy(addr.sun_path, spec.path.c_str(), spec.path.size() + 1);
    return addr;
}

UniqueFd bind_unix(const ListenSpec& spec)
{
    sockaddr_un addr = unix_address(spec);
    const FileOwner owner = resolve_owner(spec);

    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd)
        fail(spec, "socket()", errno);
    struct stat st;
    if (::lstat(spec.path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            throw std::runtime_error(cat("cannot listen on ", spec.text, ": the path exists and is not a socket"));
        // A socket file left by a dead server is stale; one that accepts is
        // another server's, and is not taken over.
        UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
            throw std::runtime_error(cat("cannot listen on ", spec.text, ": another server is listening there"));
        ::unlink(spec.path.c_str());
    }
    int rc = 0;
    int err = 0;
    {
        BindCredentials as(spec, owner);
        rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        err = errno;
    }
    if (rc < 0) {
        if (owner.uid && err == EACCES)
            throw std::runtime_error(cat("cannot listen on ", spec.text, ": bind() as its owner ", spec.owner,
                                         " failed: ", std::strerror(err),
                                         " (the socket's directory must be writable by its owner)"));
        fail(spec, "bind()", err);
    }
    // Checked, never changed: a set-group-id directory gives its own group.
    if (::lstat(spec.path.c_str(), &st) < 0)
        fail(spec, "lstat()", errno);
    if ((st.st_mode & 0777) != spec.mode || (owner.uid && st.st_uid != *owner.uid) ||
        (owner.gid && st.st_gid != *owner.gid)) {
        ::unlink(spec.path.c_str());
        throw std::runtime_error(cat("cannot listen on ", spec.text, ": the socket file came out as uid ", st.st_uid,
                                     ", gid ", st.st_gid, ", mode 0", (st.st_mode & 0777) >> 6,
                                     (st.st_mode & 0077) >> 3, st.st_mode & 07,
                                     " (a set-group-id directory, or an ACL, decided otherwise)"));
    }
    return fd;
}

// ---------------------------------------------------------------- TCP

struct AddrInfoList {
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> head{nullptr, freeaddrinfo};
};

AddrInfoList resolve(const ListenSpec& spec)
{
    addrinfo hints{};
    hints.ai_family = spec.family == ListenSpec::Family::inet6 ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    std::string port = std::to_string(spec.port);
    int rc = ::getaddrinfo(spec.host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0)
        throw std::runtime_error(cat("cannot listen on ", spec.text, ": cannot resolve ", spec.host, ": ",
                                     gai_strerror(rc)));
    AddrInfoList out;
    out.head.reset(res);
    return out;
}

UniqueFd bind_inet(const ListenSpec& spec)
{
    AddrInfoList list = resolve(spec);
    const addrinfo* res = list.head.get();
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

// ---------------------------------------------------------------- passed sockets

/// One socket systemd passed.
struct Passed {
    int fd = -1;
    std::string name;  ///< from LISTEN_FDNAMES; "unknown" when it named none
    bool claimed = false;
    bool duplicate = false;  ///< the same socket as an earlier one (socket unit and fd store both)
};

/// "127.0.0.1:8000", "[::1]:8000", "unix:/run/app.sock": the address a
/// passed socket is bound to, for logs and errors.
std::string socket_address_text(int fd)
{
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0)
        return "?";
    char buf[INET6_ADDRSTRLEN] = "";
    switch (ss.ss_family) {
    case AF_INET: {
        auto* in = reinterpret_cast<sockaddr_in*>(&ss);
        ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
        return cat(buf, ':', ntohs(in->sin_port));
    }
    case AF_INET6: {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
        ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
        return cat('[', buf, "]:", ntohs(in6->sin6_port));
    }
    case AF_UNIX: {
        auto* un = reinterpret_cast<sockaddr_un*>(&ss);
        size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
        std::string path(un->sun_path, strnlen(un->sun_path, n));
        return path.empty() ? "unix:(unnamed)" : cat("unix:", path);
    }
    default:
        return cat("family ", ss.ss_family);
    }
}

std::string describe(const Passed& p)
{
    return cat("fd ", p.fd, " (name ", in_quotes(p.name), ", ", socket_address_text(p.fd), ")");
}

std::vector<Passed> passed_sockets()
{
    // unset_environment: workers, and what the app runs, see no LISTEN_*.
    int count = sd_listen_fds(0);
    if (count <= 0) {
        // None for us (LISTEN_PID another's, LISTEN_FDS=0): gone all the same.
        ::unsetenv("LISTEN_PID");
        ::unsetenv("LISTEN_FDS");
        ::unsetenv("LISTEN_FDNAMES");
        if (count < 0)
            throw std::runtime_error(cat("sd_listen_fds() failed: ", std::strerror(-count)));
        return {};
    }
    char** names = nullptr;
    int n = sd_listen_fds_with_names(1, &names);
    if (n < 0)
        throw std::runtime_error(cat("sd_listen_fds_with_names() failed: ", std::strerror(-n)));
    std::vector<Passed> out;
    for (int i = 0; i < n; ++i) {
        Passed p;
        p.fd = SD_LISTEN_FDS_START + i;
        p.name = names && names[i] ? names[i] : "unknown";
        out.push_back(std::move(p));
    }
    if (names) {
        for (int i = 0; names[i]; ++i)
            std::free(names[i]);
        std::free(names);
    }
    // The fd store and a socket unit may both pass one socket (an older
    // drover stored the unit's socket too): the second copy is not a socket
    // nobody claims. Each socket has its own inode.
    for (size_t i = 0; i < out.size(); ++i) {
        struct stat a;
        if (::fstat(out[i].fd, &a) < 0)
            continue;
        for (size_t j = 0; j < i; ++j) {
            struct stat b;
            if (!out[j].duplicate && ::fstat(out[j].fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
                out[i].duplicate = true;
                break;
            }
        }
    }
    return out;
}

/// Whether a passed socket is bound to exactly the entry's address.
bool same_address(const Passed& p, const ListenSpec& spec)
{
    if (!spec.has_address)
        return false;
    if (spec.is_unix())
        return sd_is_socket_unix(p.fd, SOCK_STREAM, 1, spec.path.c_str(), 0) > 0;
    AddrInfoList list;
    try {
        list = resolve(spec);
    } catch (const std::runtime_error&) {
        return false;
    }
    for (const addrinfo* a = list.head.get(); a; a = a->ai_next)
        if (sd_is_socket_sockaddr(p.fd, SOCK_STREAM, a->ai_addr, a->ai_addrlen, 1) > 0)
            return true;
    return false;
}

/// For an entry with no address: what the passed socket is, so the workers
/// and the metrics know a unix socket from a TCP one.
void learn_address(ListenSpec& spec, int fd)
{
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0)
        return;
    if (ss.ss_family == AF_UNIX) {
        spec.family = ListenSpec::Family::unix_path;
        std::string text = socket_address_text(fd);
        spec.path = text.starts_with("unix:") ? text.substr(5) : "";
        spec.allowed_clients.clear();
    } else if (ss.ss_family == AF_INET6) {
        spec.family = ListenSpec::Family::inet6;
        spec.port = ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    } else {
        spec.family = ListenSpec::Family::inet;
        spec.port = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    }
}

Listener adopt(const ListenSpec& spec, Passed& p, const char* how)
{
    if (sd_is_socket(p.fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
        throw std::runtime_error(cat("cannot listen on ", spec.text, ": the socket systemd passed as ", describe(p),
                                     " is not a listening stream socket"));
    p.claimed = true;
    Listener l;
    l.spec = spec;
    if (!spec.has_address)
        learn_address(l.spec, p.fd);
    l.fd.reset(p.fd);
    l.from_systemd = true;
    log_info("listening on ", spec.text, " (socket from systemd, fd ", p.fd, how, ")");
    return l;
}

} // namespace

std::string default_fd_name(const ListenSpec& spec)
{
    std::string name = cat("bind.", address_identity(spec));
    for (char& c : name)
        if (c < '!' || c > '~' || c == ':')
            c = '_';
    if (name.size() > 255)
        name.resize(255);
    return name;
}

std::vector<Listener> open_listeners(const std::vector<ListenSpec>& specs)
{
    std::vector<Passed> passed = passed_sockets();
    // Closes what no entry took, when open_listeners() returns or throws.
    struct CloseUnclaimed {
        std::vector<Passed>& passed;
        ~CloseUnclaimed()
        {
            for (const Passed& p : passed)
                if (!p.claimed)
                    UniqueFd discard(p.fd);
        }
    } close_unclaimed{passed};

    std::vector<std::optional<Listener>> slots(specs.size());
    // A name is the strongest claim: named entries choose first, preferring
    // the one of several same-named sockets that is bound to their address.
    for (size_t i = 0; i < specs.size(); ++i) {
        const ListenSpec& spec = specs[i];
        if (spec.fd_name.empty())
            continue;
        Passed* pick = nullptr;
        for (Passed& p : passed) {
            if (p.claimed || p.duplicate || p.name != spec.fd_name)
                continue;
            if (!pick || (same_address(p, spec) && !same_address(*pick, spec)))
                pick = &p;
        }
        if (pick) {
            slots[i] = adopt(spec, *pick, cat(", named ", in_quotes(spec.fd_name)).c_str());
        } else if (!spec.has_address) {
            std::string names;
            for (const Passed& p : passed)
                names += cat(names.empty() ? "" : ", ", in_quotes(p.name));
            throw std::runtime_error(cat("cannot listen on ", spec.text, ": systemd passed no socket named ",
                                         in_quotes(spec.fd_name), passed.empty() ? " (no LISTEN_FDS)" : cat(" (it passed ", names, ")")));
        }
    }
    // Then by address: the socket a unit (or the fd store) holds for it, or
    // a fresh one.
    for (size_t i = 0; i < specs.size(); ++i) {
        if (slots[i])
            continue;
        const ListenSpec& spec = specs[i];
        auto it = std::find_if(passed.begin(), passed.end(),
                               [&](const Passed& p) { return !p.claimed && !p.duplicate && same_address(p, spec); });
        if (it != passed.end()) {
            slots[i] = adopt(spec, *it, "");
            continue;
        }
        Listener l;
        l.spec = spec;
        l.fd = spec.is_unix() ? bind_unix(spec) : bind_inet(spec);
        if (::listen(l.fd.get(), spec.backlog) < 0)
            fail(spec, "listen()", errno);
        log_info("listening on ", spec.text);
        slots[i] = std::move(l);
    }
    for (const Passed& p : passed) {
        if (p.duplicate && !p.claimed)
            log_debug("socket ", describe(p), " passed by systemd twice; the second copy is closed");
        else if (!p.claimed)
            throw std::runtime_error(cat(
                "socket ", describe(p), " passed by systemd is claimed by no bind entry: add its address, or { fd_name = ",
                in_quotes(p.name), ", protocol = \"...\" }, to bind (a socket in the file descriptor store from an "
                "older bind list goes with `systemctl stop`)"));
    }

    std::vector<Listener> out;
    for (size_t i = 0; i < specs.size(); ++i) {
        Listener& l = *slots[i];
        l.fd_name = specs[i].fd_name.empty() ? default_fd_name(specs[i]) : specs[i].fd_name;
        set_nonblocking(l.fd.get());
        out.push_back(std::move(l));
    }
    return out;
}

void remove_socket_files(const std::vector<Listener>& listeners)
{
    for (const Listener& l : listeners)
        if (l.spec.is_unix() && !l.from_systemd && !l.in_fd_store)
            ::unlink(l.spec.path.c_str());
}

} // namespace drover

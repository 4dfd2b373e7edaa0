#include "supervisor/privileges.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "base/log.hpp"
#include "base/unique_fd.hpp"

namespace drover {

namespace {

[[noreturn]] void fail(const std::string& what, const char* op)
{
    throw std::runtime_error("cannot switch to " + what + ": " + op + " failed: " + std::strerror(errno));
}

struct Ids {
    uid_t uid;
    gid_t gid;
    std::string name;  ///< the user's, for initgroups(); empty: no user given
};

/// user's ids (or the process's own when it is empty), its gid replaced by
/// group's when that is given.
Ids lookup(const std::string& user, const std::string& group)
{
    Ids ids{::getuid(), ::getgid(), {}};
    if (!user.empty()) {
        errno = 0;
        struct passwd* pw = ::getpwnam(user.c_str());
        if (!pw)
            throw std::runtime_error("cannot switch to user " + user + ": " +
                                     (errno ? std::strerror(errno) : "no such user"));
        ids = {pw->pw_uid, pw->pw_gid, pw->pw_name};
    }
    if (!group.empty()) {
        errno = 0;
        struct group* gr = ::getgrnam(group.c_str());
        if (!gr)
            throw std::runtime_error("cannot switch to group " + group + ": " +
                                     (errno ? std::strerror(errno) : "no such group"));
        ids.gid = gr->gr_gid;
    }
    return ids;
}

} // namespace

void hand_logs_to_user(const std::vector<std::string>& paths, const std::string& user, const std::string& group)
{
    if (user.empty() || ::geteuid() != 0)
        return;
    const Ids ids = lookup(user, group);
    for (const std::string& path : paths) {
        if (path.empty() || path == "-")
            continue;
        // Through the fd, so what is changed is the file that was opened:
        // O_NOFOLLOW refuses a symlink planted in a log directory.
        UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640));
        if (!fd)
            throw std::runtime_error(cat("cannot open log ", path, ": ", std::strerror(errno)));
        struct stat st;
        if (::fstat(fd.get(), &st) < 0)
            throw std::runtime_error(cat("cannot stat log ", path, ": ", std::strerror(errno)));
        if (!S_ISREG(st.st_mode))
            continue;  // a pipe or a device: nothing to own
        // Already the user's (logrotate's `create 0640 drover adm`): its group
        // is the operator's choice and stays.
        if (st.st_uid != ids.uid && ::fchown(fd.get(), ids.uid, ids.gid) < 0)
            throw std::runtime_error(cat("cannot give log ", path, " to ", user, ": fchown() failed: ", std::strerror(errno)));
    }
}

void warn_if_root_without_user(const std::string& user)
{
    if (user.empty() && ::geteuid() == 0)
        log_warning("running as root with no `user` set: the application's workers run as root too; "
                    "set user = \"...\" (the Debian package's is \"drover\")");
}

void drop_privileges(const std::string& user, const std::string& group)
{
    if (user.empty() && group.empty())
        return;
    const Ids ids = lookup(user, group);
    const uid_t uid = ids.uid;
    const gid_t gid = ids.gid;
    const char* name = ids.name.empty() ? nullptr : ids.name.c_str();
    // Groups first: once the uid is dropped they can no longer be changed.
    if (name ? ::initgroups(name, gid) < 0 : ::setgroups(1, &gid) < 0)
        fail("the groups of " + (name ? std::string(name) : group), name ? "initgroups()" : "setgroups()");
    if (::setgid(gid) < 0)
        fail("group id " + std::to_string(gid), "setgid()");
    if (!user.empty() && ::setuid(uid) < 0)
        fail("user " + user, "setuid()");
    log_info("running as uid ", uid, ", gid ", gid);
}

} // namespace drover

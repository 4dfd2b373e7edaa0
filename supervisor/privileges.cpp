#include "supervisor/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "base/log.hpp"

namespace drover {

namespace {

[[noreturn]] void fail(const std::string& what, const char* op)
{
    throw std::runtime_error("cannot switch to " + what + ": " + op + " failed: " + std::strerror(errno));
}

} // namespace

void drop_privileges(const std::string& user, const std::string& group)
{
    if (user.empty() && group.empty())
        return;
    uid_t uid = ::getuid();
    gid_t gid = ::getgid();
    const char* name = nullptr;
    if (!user.empty()) {
        errno = 0;
        struct passwd* pw = ::getpwnam(user.c_str());
        if (!pw)
            throw std::runtime_error("cannot switch to user " + user + ": " +
                                     (errno ? std::strerror(errno) : "no such user"));
        uid = pw->pw_uid;
        gid = pw->pw_gid;
        name = pw->pw_name;
    }
    if (!group.empty()) {
        errno = 0;
        struct group* gr = ::getgrnam(group.c_str());
        if (!gr)
            throw std::runtime_error("cannot switch to group " + group + ": " +
                                     (errno ? std::strerror(errno) : "no such group"));
        gid = gr->gr_gid;
    }
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

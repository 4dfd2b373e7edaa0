#include "supervisor/exit_status.hpp"

#include <string.h>
#include <sys/wait.h>

#include "base/log.hpp"

namespace drover {

namespace {

std::string signal_name(int sig)
{
    const char* abbrev = sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

} // namespace

ExitStatus ExitStatus::from_wait_status(int status)
{
    if (WIFEXITED(status))
        return exited(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return killed(WTERMSIG(status), WCOREDUMP(status));
    return ExitStatus(Kind::other, status, false);
}

std::string ExitStatus::describe() const
{
    switch (kind_) {
    case Kind::exited: return cat("exited with code ", value_);
    case Kind::signaled:
        return cat("killed by signal ", value_, " (", signal_name(value_), ")", core_ ? ", core dumped" : "");
    case Kind::other: break;
    }
    return cat("ended with status ", value_);
}

} // namespace drover

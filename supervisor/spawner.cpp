#include "supervisor/spawner.hpp"

#include <linux/close_range.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace drover {

namespace {

/// Child side, right after fork(): leave nothing of the master behind.
void child_hygiene(const WorkerSpec& spec)
{
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP)
            ::sigaction(sig, &dfl, nullptr);
    }
    // The master coordinates Ctrl-C and job control; a broken pipe is an
    // error return, not a death.
    struct sigaction ign = {};
    ign.sa_handler = SIG_IGN;
    for (int sig : {SIGPIPE, SIGHUP, SIGTTIN, SIGTTOU})
        ::sigaction(sig, &ign, nullptr);

    std::vector<int> keep(spec.keep_fds);
    keep.push_back(STDERR_FILENO);
    std::sort(keep.begin(), keep.end());
    unsigned first = STDERR_FILENO + 1;
    for (int fd : keep) {
        if (fd < static_cast<int>(first))
            continue;
        if (static_cast<unsigned>(fd) > first)
            ::close_range(first, static_cast<unsigned>(fd) - 1, 0);
        first = static_cast<unsigned>(fd) + 1;
    }
    ::close_range(first, ~0U, 0);

    // The signals a worker acts on stay blocked until its loop handles them
    // (worker_signal_mask): one that arrives while the app imports is kept
    // pending, neither lost nor fatal.
    sigset_t pending = worker_signal_mask();
    ::sigprocmask(SIG_SETMASK, &pending, nullptr);
}

} // namespace

Result<pid_t> spawn_child(const WorkerSpec& spec, const std::function<int()>& entry)
{
    sigset_t all, old;
    sigfillset(&all);
    ::sigprocmask(SIG_SETMASK, &all, &old);
    pid_t pid = ::fork();
    if (pid == 0) {
        child_hygiene(spec);
        _exit(entry());
    }
    int saved = errno;
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0) {
        errno = saved;
        return SysError::from_errno("fork()");
    }
    return pid;
}

Result<pid_t> spawn_worker(const WorkerSpec& spec)
{
    return spawn_child(spec, [&spec] { return run_worker(spec); });
}

} // namespace drover

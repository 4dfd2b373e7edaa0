// The worker module's one entry point, run_worker(), and what it is given.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/cidr.hpp"
#include "ipc/scoreboard.hpp"
#include "ipc/slot.hpp"
#include "worker/codec.hpp"

namespace drover {

/// Everything about the application and its requests that a worker needs.
struct AppSettings {
    std::string callable;                 ///< "module:callable"; the callable defaults to "application"
    std::vector<std::string> pythonpath;  ///< prepended to sys.path, in order
    std::string chdir;                    ///< chdir() before the import, and put on sys.path
    std::string virtualenv;               ///< a venv whose site-packages are used
    std::string script_name;              ///< mount point stripped from PATH_INFO into SCRIPT_NAME
    CodecLimits limits;
    double keepalive = 5.0;               ///< idle kept-alive connection, seconds; 0 disables keep-alive
    double io_timeout = 30.0;             ///< one read or write on a client socket during a request
    /// The whole request head must arrive within this of the connection's
    /// first wait for it (408 after), however the bytes trickle in.
    double header_timeout = 10.0;
    /// Connections one worker holds at once; at the cap it stops accepting.
    uint32_t max_connections = 1000;
    /// FCGI_MAX_CONNS / FCGI_MAX_REQS answers: the configured worker limit.
    uint32_t max_conns = 1;
    /// Peers whose Forwarded / X-Forwarded-* headers are believed: addresses,
    /// CIDR ranges, or "*" (worker/forwarded.hpp says how they are read).
    std::vector<std::string> forwarded_allow_ips = {"127.0.0.1", "::1"};
};

struct ListenerFd {
    int fd = -1;
    Protocol protocol = Protocol::http;
    bool is_unix = false;
    /// Peer addresses and ranges allowed to connect (TCP only); empty allows
    /// everyone. Made from the configuration's texts when the master builds
    /// the spec, so a worker matches without parsing.
    CidrSet allowed_clients;
};

/// What one worker process serves, passed to run_worker() right after fork().
struct WorkerSpec {
    /// The master: a worker (and a zygote) leaves when it is gone.
    pid_t master_pid = 0;
    uint32_t slot = 0;
    uint32_t generation = 0;
    std::vector<ListenerFd> listeners;
    AppSettings app;
    Scoreboard* scoreboard = nullptr;
    /// The master's connection park (see supervisor/connection_park.hpp):
    /// idle kept connections go out on park_fd, readable ones come back on
    /// dispatch_fd, tagged with the index of their listener. -1: none.
    int park_fd = -1;
    int dispatch_fd = -1;
    /// The sending end of the dispatch queue, for connections whose next
    /// request is already there (no need to wait in the master).
    int dispatch_send_fd = -1;
    /// The access log ("" off, "-" stdout, or a file the worker opens itself).
    std::string access_log;
    /// File descriptors the child must keep; everything else the master holds
    /// (metrics socket, other workers' pipes) is closed by the supervisor's
    /// fork hygiene before run_worker() is called.
    std::vector<int> keep_fds;
};

/// What the master's signals ask of a worker. A retired worker has a
/// successor serving (reload, recycling, scale-down): it stops accepting at
/// once and only finishes what it holds. A draining worker stops with the
/// whole pool: nobody else will serve the listen queues, so it keeps taking
/// connections until they are empty.
inline constexpr int kSignalRetire = SIGTERM;
inline constexpr int kSignalDrain = SIGINT;
/// The master asks a busy worker for the idle connections it kept (see
/// worker/held_connections.hpp). SIGURG: ignored by default, so one that
/// reaches a worker before it is ready does nothing.
inline constexpr int kSignalHandoff = SIGURG;

/// The signals a worker's loop handles (retire, drain, reopen logs). They are
/// blocked from the fork until the loop is ready for them, so none is lost
/// (or kills) while the application imports.
inline sigset_t worker_signal_mask()
{
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {kSignalRetire, kSignalDrain, SIGUSR1})
        sigaddset(&set, sig);
    return set;
}

/// Reserved exit codes, so the master can tell a worker that could not boot
/// from one that crashed later.
enum WorkerExit : int {
    kWorkerExitOk = 0,
    kWorkerExitError = 1,
    kWorkerExitBootFailed = 3,  ///< interpreter or app import failed
};

/// Asks the kernel for `sig` when the master dies, then checks that it has
/// not died already (between the fork and the request the signal would be
/// lost). false: the master is gone, leave now.
bool follow_master(pid_t master_pid, int sig);

/// Runs a worker until it is told to stop. Never returns to the master's code:
/// the caller passes the result to _exit().
int run_worker(const WorkerSpec& spec);

} // namespace drover

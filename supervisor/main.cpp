// drover: the master process. Parses the command line and the config,
// binds the listeners, and hands over to the master loop.
//
// The start-up order is what makes the privilege drop safe and the logs
// usable: the logs are opened (and given to `user`) while still root, the
// listeners are bound or taken from systemd while still root (ports below
// 1024, socket files in /run, created with their owner and mode), the
// pidfile is written, and only then is root dropped, before the master loop
// forks any worker.
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "base/log.hpp"
#include "base/unique_fd.hpp"
#include "supervisor/config.hpp"
#include "supervisor/listeners.hpp"
#include "supervisor/master.hpp"
#include "supervisor/privileges.hpp"
#include "supervisor/sd_notify.hpp"

namespace {

using drover::log_warning;
using drover::UniqueFd;

/// Exit status for a configuration or command-line error.
constexpr int kExitConfig = 2;
/// Free memory at the top of a process's heap that is kept for reuse.
constexpr int kHeapKept = 4 << 20;

/// Written while still root, and kept open: `user` may not be allowed to
/// unlink it at exit (/run is root's), and can still empty it through this
/// fd, so a pid left in it never names another process later.
UniqueFd write_pidfile(const std::string& path)
{
    if (path.empty())
        return UniqueFd();
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644));
    std::string text = std::to_string(::getpid()) + "\n";
    if (!fd || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        throw std::runtime_error("cannot write pidfile " + path + ": " + std::strerror(errno));
    return fd;
}

void remove_pidfile(const std::string& path, const UniqueFd& fd)
{
    if (path.empty() || ::unlink(path.c_str()) == 0 || errno == ENOENT)
        return;
    int err = errno;
    if (::ftruncate(fd.get(), 0) == 0)
        log_warning("pidfile ", path, " emptied but left in place: unlink() failed: ", std::strerror(err),
                    " (its directory is not writable by `user`)");
    else
        log_warning("pidfile ", path, " left in place: unlink() failed: ", std::strerror(err));
}

} // namespace

int main(int argc, char** argv)
{
    using namespace drover;
    // Every process drover forks inherits this. glibc gives the top of the
    // heap back to the kernel once more than 128 KiB of it is free: a worker
    // whose request body and its copies (a 64 KiB POST) are freed at the end
    // of each request then shrinks and regrows its heap per request, the new
    // pages faulted in and zeroed each time (bench/TRIED.md: half the CPU of
    // such a request behind nginx). Up to this much free heap stays.
    ::mallopt(M_TRIM_THRESHOLD, kHeapKept);
    CommandLine cmd;
    Config config;
    try {
        cmd = parse_command_line(argc, argv);
        if (cmd.help) {
            std::fputs(usage_text(), stdout);
            return 0;
        }
        if (cmd.version) {
            // The master never initialises Python: the version is the one built against.
            std::printf("drover %s (Python %s)\n", DROVER_VERSION, DROVER_PYTHON_VERSION);
            return 0;
        }
        config = load_config(cmd);
    } catch (const ConfigError& e) {
        std::fprintf(stderr, "drover: %s\n", e.what());
        return kExitConfig;
    }
    if (cmd.check) {
        std::printf("%s: configuration OK\n", config.file.empty() ? "command line" : config.file.c_str());
        return 0;
    }

    try {
        ErrorLog::configure(config.error_log, config.log_level);
        warn_if_root_without_user(config.user);
        // Opened here only to fail early and clearly; each worker opens its
        // own, as `user`, and every process reopens both on SIGUSR1.
        AccessLog::configure(config.access_log);
        AccessLog::configure("");
        hand_logs_to_user({config.error_log, config.access_log}, config.user, config.group);
        std::vector<Listener> listeners = open_listeners(config.listeners);
        UniqueFd pidfile = write_pidfile(config.pidfile);
        drop_privileges(config.user, config.group);
        Master master(cmd, config, std::move(listeners));
        int rc = master.run();
        remove_pidfile(config.pidfile, pidfile);
        return rc;
    } catch (const std::exception& e) {
        log_error(e.what());
        // `systemctl status drover` shows why it did not start.
        notify::status(cat("failed to start: ", e.what()));
        return 1;
    }
}

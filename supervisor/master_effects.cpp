// How the master carries out what the pool decides (fork, kill, sd_notify,
// the zygotes, the configuration) and reads what the pool observes (the
// scoreboard through its checked read, /proc, the listen queues).
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "base/log.hpp"
#include "supervisor/config_reload.hpp"
#include "supervisor/master.hpp"
#include "supervisor/sd_notify.hpp"
#include "supervisor/spawner.hpp"

namespace drover {

// ---------------------------------------------------------------- effects

SpawnResult Master::spawn(uint32_t slot, uint32_t generation, const Config& config)
{
    Zygote* zygote = nullptr;
    if (config.preload) {
        zygote = zygote_for(generation, config);
        if (!zygote)
            return SpawnResult::failed_back_off();
    }
    Slot& s = scoreboard_.reset_slot(slot);
    s.generation.store(generation, std::memory_order_relaxed);
    s.set_state(WorkerState::starting);
    if (zygote) {
        // The pid comes with the zygote's answer (on_zygote_message).
        if (!zygote->request(slot)) {
            log_error("cannot ask the zygote (pid ", static_cast<long>(zygote->pid()), ") for a worker: ",
                      std::strerror(errno));
            return SpawnResult::failed();
        }
        return SpawnResult::pending();
    }
    Result<pid_t> pid = spawn_worker(worker_spec(slot, generation, config));
    if (!pid) {
        log_error(pid.error().message());
        return SpawnResult::failed_back_off();
    }
    return SpawnResult::forked(*pid);
}

void Master::signal(pid_t pid, int sig)
{
    if (pid > 0)
        ::kill(pid, sig);
}

void Master::ask_for_connections(pid_t pid)
{
    // At the worker's main thread, which runs the handler between its own
    // steps: an application thread must not run it (held_connections.hpp).
    if (pid > 0 && ::syscall(SYS_tgkill, pid, pid, kSignalHandoff) != 0 && errno != ESRCH)
        log_warning("tgkill(", static_cast<long>(pid), ", SIGURG) failed: ", std::strerror(errno));
}

void Master::announce(Announcement what)
{
    switch (what) {
    case Announcement::ready: notify::ready(); break;
    case Announcement::reloading: notify::reloading(); break;
    case Announcement::stopping: notify::stopping(); break;
    }
}

void Master::status(const std::string& text) { notify::status(text); }

std::optional<Config> Master::load_config(const Config& running)
{
    Config fresh;
    try {
        fresh = drover::load_config(cmd_);
    } catch (const ConfigError& e) {
        log_error("SIGHUP: the configuration is invalid, the running generation keeps serving: ", e.what());
        return std::nullopt;
    }
    // What the master opened at start (listening sockets, privileges, the
    // metrics server, ...) stays: those keys keep their running values.
    log_reload_diff(diff_for_reload(running, fresh));
    keep_restart_only(fresh, running);
    if (fresh.error_log != running.error_log || fresh.log_level != running.log_level) {
        try {
            ErrorLog::configure(fresh.error_log, fresh.log_level);
        } catch (const std::exception& e) {
            log_error("SIGHUP: ", e.what(), "; keeping the old error log");
            fresh.error_log = running.error_log;
        }
    }
    return fresh;
}

void Master::retire_zygotes(uint32_t keep_generation)
{
    for (auto it = zygotes_.begin(); it != zygotes_.end();) {
        if (it->first == keep_generation) {
            ++it;
            continue;
        }
        retired_zygotes_.insert(it->second->pid());
        it = zygotes_.erase(it);  // closing its socket ends it
    }
}

void Master::close_parked_connections()
{
    if (park_)
        park_->close_all();
}

void Master::reopen_log()
{
    ErrorLog::reopen();
}

void Master::log(LogLevel level, const std::string& message)
{
    ErrorLog::write(level, message);
}

// ---------------------------------------------------------------- readings

WorkerReading Master::slot(uint32_t index) const
{
    // Checked once, copied once: what the pool decides on cannot change
    // under it, and cannot be out of range.
    CheckedSlot c = scoreboard_.read(index);
    WorkerReading r;
    r.state = c.state;
    r.request_started = static_cast<double>(c.request_start_ns) / 1e9;  // the clock's seconds
    r.request_seq = c.request_seq;
    r.requests_served = c.counters.requests_served;
    r.held_connections = c.held_connections;
    r.summary.assign(c.summary, c.summary_size);
    return r;
}

uint64_t Master::rss_mib(pid_t pid) const
{
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%ld/statm", static_cast<long>(pid));
    std::ifstream in(path);
    uint64_t size = 0, resident = 0;
    if (!(in >> size >> resident))
        return 0;
    return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) / (1024 * 1024);
}

bool Master::connection_waiting() const
{
    std::vector<struct pollfd> fds;
    for (const Listener& l : listeners_)
        fds.push_back(pollfd{l.fd.get(), POLLIN, 0});
    return ::poll(fds.data(), fds.size(), 0) > 0;
}

// ---------------------------------------------------------------- preloading

WorkerSpec Master::worker_spec(uint32_t slot, uint32_t generation, const Config& config) const
{
    WorkerSpec spec;
    spec.master_pid = ::getpid();
    spec.slot = slot;
    spec.generation = generation;
    spec.app = config.app;
    spec.scoreboard = const_cast<Scoreboard*>(&scoreboard_);
    spec.access_log = config.access_log;
    for (const Listener& l : listeners_) {
        spec.listeners.push_back(ListenerFd{l.fd.get(), l.spec.protocol, l.spec.is_unix(), l.spec.allowed_clients});
        spec.keep_fds.push_back(l.fd.get());
    }
    if (park_) {
        spec.park_fd = park_->worker_park_fd();
        spec.dispatch_fd = park_->worker_dispatch_fd();
        spec.dispatch_send_fd = park_->dispatch_send_fd();
        spec.keep_fds.push_back(spec.park_fd);
        spec.keep_fds.push_back(spec.dispatch_fd);
        spec.keep_fds.push_back(spec.dispatch_send_fd);
    }
    return spec;
}

Zygote* Master::zygote_for(uint32_t generation, const Config& config)
{
    auto it = zygotes_.find(generation);
    if (it != zygotes_.end())
        return it->second.get();
    Result<std::unique_ptr<Zygote>> z =
        Zygote::start(worker_spec(0, generation, config), base_.get(),
                      [this](Zygote& zygote, const ZygoteMessage& m) { on_zygote_message(zygote, m); });
    if (!z) {
        log_error(z.error().message());
        return nullptr;
    }
    log_info("started zygote ", static_cast<long>((*z)->pid()), " to import the application for generation ",
             generation);
    Zygote* raw = z->get();
    zygotes_[generation] = std::move(*z);
    return raw;
}

void Master::on_zygote_message(Zygote& zygote, const ZygoteMessage& m)
{
    switch (m.kind) {
    case ZygoteMessage::ready:
        log_info("zygote ", static_cast<long>(zygote.pid()), " imported the application (generation ",
                 zygote.generation(), ")");
        break;
    case ZygoteMessage::spawned: pool_.worker_forked(m.slot, m.pid, zygote.pid()); break;
    case ZygoteMessage::failed:
        log_error("zygote ", static_cast<long>(zygote.pid()), " could not fork a worker: ", std::strerror(m.err));
        pool_.worker_not_forked(m.slot);
        break;
    default: break;
    }
}

bool Master::reap_zygote(pid_t pid, int status, double now)
{
    if (retired_zygotes_.erase(pid))
        return true;
    for (auto it = zygotes_.begin(); it != zygotes_.end(); ++it) {
        if (it->second->pid() != pid)
            continue;
        uint32_t generation = it->first;
        bool imported = it->second->ready();
        zygotes_.erase(it);
        pool_.zygote_exited(pid, generation, imported, ExitStatus::from_wait_status(status), now);
        return true;
    }
    return false;
}

} // namespace drover

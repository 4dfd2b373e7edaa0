// The master's transitions: reload to a new generation (and roll back),
// graceful and immediate stop, scaling by signal, log reopening, and what
// the master tells systemd and metrics about them.
#include <signal.h>
#include <systemd/sd-daemon.h>

#include "base/log.hpp"
#include "supervisor/config_reload.hpp"
#include "supervisor/master.hpp"

namespace drover {

void Master::reload()
{
    if (state_ != State::running)
        return;
    if (reload_.active) {
        reload_.pending = true;
        log_info("SIGHUP: a reload is in progress; the next one starts when it ends");
        return;
    }
    Config fresh;
    try {
        fresh = load_config(cmd_);
    } catch (const ConfigError& e) {
        ++reloads_failed_;
        log_error("SIGHUP: the configuration is invalid, the running generation keeps serving: ", e.what());
        return;
    }
    // What the master opened at start (listening sockets, privileges, the
    // metrics server, ...) stays: those keys keep their running values.
    log_reload_diff(diff_for_reload(config_, fresh));
    keep_restart_only(fresh, config_);
    if (fresh.error_log != config_.error_log || fresh.log_level != config_.log_level) {
        try {
            ErrorLog::configure(fresh.error_log, fresh.log_level);
        } catch (const std::exception& e) {
            log_error("SIGHUP: ", e.what(), "; keeping the old error log");
            fresh.error_log = config_.error_log;
        }
    }

    sd_notify(0, "RELOADING=1");
    previous_config_ = config_;
    config_ = std::move(fresh);
    reload_ = Reload{};
    reload_.active = true;
    reload_.old_generation = generation_;
    reload_.old_target = target_;
    reload_.started_at = now();
    ++generation_;
    target_ = initial_target(config_);
    backoff_.success();
    log_info("SIGHUP: reloading: starting generation ", generation_, " (generation ", reload_.old_generation,
             " serves until it is ready)");
    reconcile_worker_count();
    notify_status();
}

void Master::advance_reload()
{
    if (!reload_.active || state_ != State::running)
        return;
    if (reload_.boot_failures > 0) {
        rollback_reload(cat(reload_.boot_failures, " new worker(s) died before they were ready"));
        return;
    }
    if (now() - reload_.started_at > config_.startup_timeout) {
        rollback_reload(cat("the new workers were not ready within startup_timeout (", config_.startup_timeout, " s)"));
        return;
    }
    uint32_t ready = 0, wanted = 0;
    for (const WorkerProcess& w : table_.workers()) {
        if (w.generation == generation_ && !w.stopping()) {
            ++wanted;
            ready += w.ready ? 1 : 0;
        }
    }
    // The whole new generation must be ready before any old worker goes, so a
    // rollback never has to bring old workers back.
    uint32_t needed = config_.pm == ProcessManager::ondemand ? std::min<uint32_t>(wanted, 1) : wanted;
    if (wanted == 0 && config_.pm != ProcessManager::ondemand)
        return;
    if (ready < needed || (config_.pm == ProcessManager::static_pool && ready < target_))
        return;

    for (WorkerProcess& w : table_.workers())
        if (w.generation != generation_ && w.retire_reason == StopReason::none && !w.stopping())
            w.retire_reason = StopReason::reload;
    reload_.active = false;
    retire_zygotes(generation_);
    ++reloads_ok_;
    log_info("reload: generation ", generation_, " is ready; retiring generation ", reload_.old_generation, " (",
             config_.max_unavailable, " at a time)");
    sd_notify(0, "READY=1");
    notify_status();
    if (reload_.pending) {
        reload_.pending = false;
        reload();
    }
}

void Master::rollback_reload(const std::string& why)
{
    uint32_t failed_generation = generation_;
    for (WorkerProcess& w : table_.workers()) {
        if (w.generation != failed_generation)
            continue;
        if (w.ready) {
            stop_worker(w, StopReason::reload);
        } else if (!w.killed) {
            w.stop_reason = StopReason::reload;
            w.killed = true;
            signal_worker(w, SIGKILL);
        }
    }
    generation_ = reload_.old_generation;
    retire_zygotes(generation_);
    target_ = reload_.old_target;
    config_ = previous_config_;
    reload_.active = false;
    ++reloads_failed_;
    log_error("reload failed: ", why, "; generation ", failed_generation, " is rolled back and generation ",
              generation_, " keeps serving");
    sd_notify(0, "READY=1");
    notify_status();
    if (reload_.pending) {
        // It may carry a fix made while the failed reload was importing.
        reload_.pending = false;
        log_info("SIGHUP: running the reload that was asked for during the failed one");
        reload();
    }
}

void Master::graceful_stop(const char* why)
{
    if (state_ != State::running)
        return;
    state_ = State::stopping;
    stop_deadline_ = now() + config_.graceful_timeout;
    sd_notify(0, "STOPPING=1");
    log_info(why, ": stopping gracefully (graceful_timeout ", config_.graceful_timeout, " s)");
    if (park_)
        park_->close_all();
    for (WorkerProcess& w : table_.workers()) {
        if (w.stopping() && !w.killed) {
            // Retiring already: now it drains too, as nobody stays to.
            w.stop_reason = StopReason::shutdown;
            signal_worker(w, stop_signal(w));
        }
        stop_worker(w, StopReason::shutdown);
    }
    finish_stop_if_done();
}

void Master::immediate_stop()
{
    if (state_ == State::quitting)
        return;
    state_ = State::quitting;
    sd_notify(0, "STOPPING=1");
    log_info("SIGQUIT: stopping now");
    for (WorkerProcess& w : table_.workers()) {
        w.stop_reason = StopReason::shutdown;
        w.killed = true;
        signal_worker(w, SIGKILL);
    }
    finish_stop_if_done();
}

void Master::reopen_logs()
{
    ErrorLog::reopen();
    for (const WorkerProcess& w : table_.workers())
        signal_worker(w, SIGUSR1);
    log_info("SIGUSR1: log files reopened");
}

void Master::change_target(int delta)
{
    if (state_ != State::running)
        return;
    uint32_t limit = scoreboard_.slot_count() / 2 - 8;
    if (delta > 0 && target_ < limit)
        ++target_;
    else if (delta < 0 && target_ > 1)
        --target_;
    else
        return;
    log_info(delta > 0 ? "SIGTTIN" : "SIGTTOU", ": ", config_.pm == ProcessManager::static_pool ? "" : "at most ",
             target_, " workers");
    // Above the target: the newest serving workers of this generation go.
    for (;;) {
        PoolCounts c = count_pool();
        if (c.serving <= target_)
            break;
        WorkerProcess* newest = nullptr;
        for (WorkerProcess& w : table_.workers())
            if (w.generation == generation_ && !w.stopping() && w.retire_reason == StopReason::none &&
                (!newest || w.spawned_at > newest->spawned_at))
                newest = &w;
        if (!newest)
            break;
        stop_worker(*newest, StopReason::scale_down);
    }
    reconcile_worker_count();
    notify_status();
}

void Master::notify_status() const
{
    PoolCounts c = count_pool();
    std::string status;
    if (backoff_.active())
        status = cat("crash loop: the application fails to start (", backoff_.failures(), " failures); retrying in ",
                     backoff_.delay(), " s");
    else
        status = cat("generation ", generation_, ": ", c.serving, " workers (", c.idle, " idle, ", c.busy, " busy)",
                     reload_.active ? ", reloading" : "");
    sd_notify(0, ("STATUS=" + status).c_str());
}

PoolState Master::pool_state() const
{
    PoolState p;
    p.start_time_unix = start_time_unix_;
    p.generation = generation_;
    p.target_workers = target_;
    p.max_workers = config_.pm == ProcessManager::static_pool ? target_ : config_.max_workers;
    p.pm = config_.pm == ProcessManager::static_pool    ? "static"
           : config_.pm == ProcessManager::dynamic_pool ? "dynamic"
                                                        : "ondemand";
    p.stopping = state_ != State::running;
    p.crash_loop = backoff_.active();
    p.crash_backoff_seconds = backoff_.delay();
    p.max_workers_reached = max_reached_;
    p.restarts = restarts_;
    p.reloads_ok = reloads_ok_;
    p.reloads_failed = reloads_failed_;
    p.slow_requests = slow_requests_;
    p.timeouts = timeouts_;
    for (const Listener& l : listeners_) {
        ListenerState s;
        s.name = l.spec.text;
        s.protocol = protocol_name(l.spec.protocol);
        s.fd = l.fd.get();
        s.is_unix = l.spec.is_unix();
        s.backlog = static_cast<uint32_t>(l.spec.backlog);
        p.listeners.push_back(std::move(s));
    }
    double wall_offset = static_cast<double>(::time(nullptr)) - now();
    for (const WorkerProcess& w : table_.workers())
        if (w.pid > 0)
            p.workers.push_back(WorkerInfo{w.pid, w.slot, w.generation, w.spawned_at + wall_offset});
    p.scoreboard = &scoreboard_;
    p.retired = &retired_;
    p.python_version = DROVER_PYTHON_VERSION;
    return p;
}

} // namespace drover

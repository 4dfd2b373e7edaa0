#include "supervisor/master.hpp"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ipc/log.hpp"
#include "supervisor/spawner.hpp"

namespace drover {

namespace {

constexpr double kTickSeconds = 0.1;

uint32_t slot_count_for(const Config& c)
{
    // Two generations side by side during a reload, plus scaling headroom.
    uint32_t peak = std::max(c.workers, c.pm == ProcessManager::static_pool ? c.workers : c.max_workers);
    return std::min<uint32_t>(2 * peak + 16, 4096);
}

std::string signal_name(int sig)
{
    const char* abbrev = sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

} // namespace

Master::Master(Config config, std::vector<Listener> listeners)
    : config_(std::move(config)),
      listeners_(std::move(listeners)),
      scoreboard_(slot_count_for(config_)),
      table_(scoreboard_.slot_count()),
      base_(event_base_new(), event_base_free),
      tick_event_(nullptr, event_free)
{
    if (!base_)
        throw std::runtime_error("event_base_new() failed");
    target_ = config_.workers;
}

Master::~Master() = default;

double Master::now() const
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

int Master::run()
{
    signals_ = std::make_unique<SignalEvents>(base_.get());
    signals_->on(SIGCHLD, [this] {
        reap();
        reconcile_worker_count();
        finish_stop_if_done();
    });
    signals_->on(SIGTERM, [this] { graceful_stop("SIGTERM"); });
    signals_->on(SIGINT, [this] { graceful_stop("SIGINT"); });
    signals_->on(SIGQUIT, [this] { immediate_stop(); });
    signals_->on(SIGUSR1, [this] { reopen_logs(); });
    signals_->on(SIGTTIN, [this] { change_target(+1); });
    signals_->on(SIGTTOU, [this] { change_target(-1); });
    signals_->on(SIGPIPE, [] {});

    tick_event_.reset(event_new(
        base_.get(), -1, EV_PERSIST, [](evutil_socket_t, short, void* arg) { static_cast<Master*>(arg)->tick(); },
        this));
    struct timeval tv = {0, static_cast<suseconds_t>(kTickSeconds * 1e6)};
    event_add(tick_event_.get(), &tv);

    log_info("drover ", DROVER_VERSION, " starting ", target_, " workers for ", config_.app.callable);
    reconcile_worker_count();
    event_base_dispatch(base_.get());

    remove_socket_files(listeners_);
    log_info("stopped");
    return 0;
}

void Master::tick()
{
    reap();
    observe_workers();
    enforce_limits();
    reconcile_worker_count();
    finish_stop_if_done();
}

void Master::reap()
{
    for (;;) {
        int status = 0;
        pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid == 0)
            return;
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            if (errno != ECHILD)
                log_error("waitpid() failed: ", std::strerror(errno));
            return;
        }
        std::optional<WorkerProcess> worker = table_.remove(pid);
        if (!worker) {
            log_error("reaped unknown child ", static_cast<long>(pid), " (a bug)");
            continue;
        }
        on_worker_exit(*worker, status);
    }
}

void Master::on_worker_exit(const WorkerProcess& w, int status)
{
    const Slot& slot = scoreboard_.slot(w.slot);
    retired_.fold(slot);
    bool ready = w.ready || slot.load_state() != WorkerState::starting;
    double uptime = now() - w.spawned_at;

    std::string how;
    bool clean = false;
    if (WIFEXITED(status)) {
        how = cat("exited with code ", WEXITSTATUS(status));
        clean = WEXITSTATUS(status) == 0;
    } else if (WIFSIGNALED(status)) {
        how = cat("killed by signal ", WTERMSIG(status), " (", signal_name(WTERMSIG(status)), ")",
                  WCOREDUMP(status) ? ", core dumped" : "");
    } else {
        how = cat("ended with status ", status);
    }
    std::string who = cat("worker ", static_cast<long>(w.pid), " (slot ", w.slot, ", generation ", w.generation, ")");

    if (!ready) {
        backoff_.failure(now());
        log_error(who, " ", how, " before it was ready",
                  WIFEXITED(status) && WEXITSTATUS(status) == kWorkerExitBootFailed ? " (the application failed to load)"
                                                                                   : "",
                  "; failure ", backoff_.failures(), ", next attempt in ", backoff_.delay(), " s");
        return;
    }
    if (w.stopping() && (clean || w.killed)) {
        log_info(who, " ", how, " after ", uptime, " s (", stop_reason_name(w.stop_reason), ")");
        return;
    }
    log_error(who, " ", how, " after ", uptime, " s", w.stopping() ? " while stopping" : "; replacing it");
}

void Master::observe_workers()
{
    for (WorkerProcess& w : table_.workers()) {
        if (w.ready)
            continue;
        WorkerState s = scoreboard_.slot(w.slot).load_state();
        if (s == WorkerState::idle || s == WorkerState::busy) {
            w.ready = true;
            if (backoff_.active())
                log_info("worker ", static_cast<long>(w.pid), " is ready: the application loads again");
            backoff_.success();
        }
    }
}

void Master::enforce_limits()
{
    // Request timeouts, recycling and scaling come with the scoreboard policy.
}

void Master::reconcile_worker_count()
{
    if (state_ != State::running)
        return;
    uint32_t serving = table_.serving(generation_);
    while (serving < target_workers()) {
        if (!backoff_.allows(now()))
            return;
        bool was_backing_off = backoff_.active();
        spawn_worker_now();
        ++serving;
        if (was_backing_off)
            return;  // one probe at a time while the app fails to boot
    }
}

void Master::spawn_worker_now()
{
    std::optional<uint32_t> slot = table_.take_slot();
    if (!slot) {
        log_error("no free scoreboard slot; not spawning");
        return;
    }
    Slot& s = scoreboard_.reset_slot(*slot);
    s.generation.store(generation_, std::memory_order_relaxed);
    s.set_state(WorkerState::starting);

    WorkerSpec spec;
    spec.slot = *slot;
    spec.generation = generation_;
    spec.app = config_.app;
    spec.scoreboard = &scoreboard_;
    spec.access_log = config_.access_log;
    for (const Listener& l : listeners_) {
        spec.listeners.push_back(ListenerFd{l.fd.get(), l.spec.protocol, l.spec.is_unix(), l.spec.allowed_clients});
        spec.keep_fds.push_back(l.fd.get());
    }
    Result<pid_t> pid = spawn_worker(spec);
    if (!pid) {
        log_error(pid.error().message());
        table_.release_slot(*slot);
        backoff_.failure(now());
        return;
    }
    WorkerProcess w;
    w.pid = *pid;
    w.slot = *slot;
    w.generation = generation_;
    w.spawned_at = now();
    table_.add(w);
    log_info("spawned worker ", static_cast<long>(w.pid), " (slot ", w.slot, ", generation ", w.generation, ")");
}

void Master::stop_worker(WorkerProcess& w, StopReason reason)
{
    if (w.stopping())
        return;
    w.stop_reason = reason;
    w.stop_sent_at = now();
    ::kill(w.pid, SIGTERM);
}

void Master::graceful_stop(const char* why)
{
    if (state_ != State::running)
        return;
    state_ = State::stopping;
    stop_deadline_ = now() + config_.graceful_timeout;
    log_info(why, ": stopping gracefully (graceful_timeout ", config_.graceful_timeout, " s)");
    for (WorkerProcess& w : table_.workers())
        stop_worker(w, StopReason::shutdown);
    finish_stop_if_done();
}

void Master::immediate_stop()
{
    if (state_ == State::quitting)
        return;
    state_ = State::quitting;
    log_info("SIGQUIT: stopping now");
    for (WorkerProcess& w : table_.workers()) {
        w.stop_reason = StopReason::shutdown;
        w.killed = true;
        ::kill(w.pid, SIGKILL);
    }
    finish_stop_if_done();
}

void Master::finish_stop_if_done()
{
    if (state_ == State::running)
        return;
    if (table_.empty()) {
        event_base_loopbreak(base_.get());
        return;
    }
    if (state_ == State::stopping && now() >= stop_deadline_) {
        for (WorkerProcess& w : table_.workers()) {
            if (w.killed)
                continue;
            char summary[Slot::kSummaryBytes];
            scoreboard_.slot(w.slot).read_summary(summary, sizeof summary);
            log_warning("graceful_timeout passed: killing worker ", static_cast<long>(w.pid),
                        summary[0] ? cat(" (busy on '", summary, "')") : std::string());
            w.killed = true;
            ::kill(w.pid, SIGKILL);
        }
    }
}

void Master::reopen_logs()
{
    ErrorLog::reopen();
    for (const WorkerProcess& w : table_.workers())
        ::kill(w.pid, SIGUSR1);
    log_info("SIGUSR1: log files reopened");
}

void Master::change_target(int delta)
{
    if (state_ != State::running)
        return;
    uint32_t limit = scoreboard_.slot_count() / 2;
    if (delta > 0 && target_ < limit)
        ++target_;
    else if (delta < 0 && target_ > 1)
        --target_;
    else
        return;
    log_info(delta > 0 ? "SIGTTIN" : "SIGTTOU", ": ", target_, " workers");
    // One fewer: the newest serving worker of this generation goes gracefully.
    while (table_.serving(generation_) > target_) {
        WorkerProcess* newest = nullptr;
        for (WorkerProcess& w : table_.workers())
            if (w.generation == generation_ && !w.stopping() && (!newest || w.spawned_at > newest->spawned_at))
                newest = &w;
        if (!newest)
            break;
        stop_worker(*newest, StopReason::scale_down);
    }
    reconcile_worker_count();
}

} // namespace drover

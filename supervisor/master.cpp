#include "supervisor/master.hpp"

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "base/clock.hpp"
#include "base/log.hpp"
#include "metrics/server.hpp"
#include "supervisor/limits.hpp"
#include "supervisor/spawner.hpp"

namespace drover {

namespace {

constexpr double kTickSeconds = 0.1;
/// How long faulthandler gets to write a timed-out worker's traceback
/// before SIGKILL.
constexpr double kTracebackGrace = 0.3;
/// RSS is read from /proc once a second, not every tick.
constexpr uint64_t kRssEveryTicks = 10;
/// A worker that dies this soon after it was ready, before serving a request,
/// counts toward the crash-loop backoff like one that never got ready: an
/// app that crashes on its first request must not make the master fork in
/// a tight loop under load.
constexpr double kEarlyCrashSeconds = 5.0;

uint32_t slot_count_for(const Config& c)
{
    // Two generations side by side during a reload, plus scaling headroom
    // (SIGTTIN may raise the target up to half the slots).
    uint32_t peak = std::max(c.workers, c.max_workers);
    return std::min<uint32_t>(2 * peak + 16, 2 * kMaxWorkerCount + 16);
}

std::string signal_name(int sig)
{
    const char* abbrev = sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

uint64_t read_rss_mib(pid_t pid)
{
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%ld/statm", static_cast<long>(pid));
    std::ifstream in(path);
    uint64_t size = 0, resident = 0;
    if (!(in >> size >> resident))
        return 0;
    return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) / (1024 * 1024);
}

size_t restart_index(StopReason reason)
{
    switch (reason) {
    case StopReason::crash: return 0;
    case StopReason::timeout: return 1;
    case StopReason::max_requests: return 2;
    case StopReason::max_rss: return 3;
    case StopReason::max_lifetime: return 4;
    case StopReason::reload: return 5;
    case StopReason::scale_down: return 6;
    default: return kRestartReasons.size();
    }
}

std::string worker_name(const WorkerProcess& w)
{
    return cat("worker ", static_cast<long>(w.pid), " (slot ", w.slot, ", generation ", w.generation, ")");
}

} // namespace

Master::Master(CommandLine cmd, Config config, std::vector<Listener> listeners)
    : cmd_(std::move(cmd)),
      config_(std::move(config)),
      listeners_(std::move(listeners)),
      scoreboard_(slot_count_for(config_)),
      table_(scoreboard_.slot_count()),
      base_(event_base_new()),
      tick_event_()
{
    if (!base_)
        throw std::runtime_error("event_base_new() failed");
    target_ = initial_target(config_);
    previous_config_ = config_;
    start_time_unix_ = static_cast<double>(::time(nullptr));
}

Master::~Master() = default;

double Master::now() const
{
    return monotonic_seconds();
}

int Master::run()
{
    // Workers forked by a preloading zygote are orphaned on purpose and must
    // be adopted here, not by init; processes an application leaves behind
    // are reaped here too.
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        log_warning("prctl(PR_SET_CHILD_SUBREAPER) failed: ", std::strerror(errno));
    signals_ = std::make_unique<SignalEvents>(base_.get());
    signals_->on(SIGCHLD, [this] {
        reap();
        advance_reload();
        reconcile_worker_count();
        finish_stop_if_done();
    });
    signals_->on(SIGHUP, [this] { reload(); });
    signals_->on(SIGTERM, [this] { graceful_stop("SIGTERM"); });
    signals_->on(SIGINT, [this] { graceful_stop("SIGINT"); });
    signals_->on(SIGQUIT, [this] { immediate_stop(); });
    signals_->on(SIGUSR1, [this] { reopen_logs(); });
    signals_->on(SIGTTIN, [this] { change_target(+1); });
    signals_->on(SIGTTOU, [this] { change_target(-1); });
    signals_->on(SIGPIPE, [] {});

    if (!config_.metrics_address.empty()) {
        // Serving the application matters more than its metrics: a metrics
        // address that cannot be bound is an error in the log, not a stop
        // (and /healthz failing tells a load balancer).
        try {
            metrics_ = std::make_unique<MetricsServer>(base_.get(), config_.metrics_address, *this);
            log_info("metrics on http://", config_.metrics_address, "/metrics (also /healthz, /status)");
        } catch (const std::exception& e) {
            log_error(e.what(), "; serving without /metrics, /healthz and /status");
        }
    }
    if (config_.app.keepalive > 0)
        park_ = std::make_unique<ConnectionPark>(
            base_.get(), ConnectionPark::Timeouts{config_.app.keepalive, config_.app.header_timeout}, clock_);

    tick_event_.reset(event_new(
        base_.get(), -1, EV_PERSIST, [](evutil_socket_t, short, void* arg) { static_cast<Master*>(arg)->tick(); },
        this));
    struct timeval tv = {0, static_cast<suseconds_t>(kTickSeconds * 1e6)};
    event_add(tick_event_.get(), &tv);

    log_info("drover ", DROVER_VERSION, " serving ", config_.app.callable, " (pm ",
             config_.pm == ProcessManager::static_pool    ? "static"
             : config_.pm == ProcessManager::dynamic_pool ? "dynamic"
                                                          : "ondemand",
             ", ", target_, config_.pm == ProcessManager::static_pool ? " workers)" : " workers at most)");
    reconcile_worker_count();
    event_base_dispatch(base_.get());

    metrics_.reset();
    park_.reset();
    remove_socket_files(listeners_);
    log_info("stopped");
    return 0;
}

// ---------------------------------------------------------------- the tick

void Master::tick()
{
    ++ticks_;
    if (park_)
        park_->tick(now());
    reap();
    observe_workers();
    enforce_limits();
    advance_reload();
    retire_replaced();
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
        if (reap_zygote(pid, status))
            continue;
        std::optional<WorkerProcess> worker = table_.remove(pid);
        if (!worker) {
            // A subreaper adopts what workers' own children leave orphaned.
            log_info("reaped process ", static_cast<long>(pid), ", not a worker (an orphaned descendant)");
            continue;
        }
        on_worker_exit(*worker, status);
    }
}

void Master::on_worker_exit(const WorkerProcess& w, int status)
{
    const Slot& slot = scoreboard_.slot(w.slot);
    // The checked counters, never below what /metrics has shown of this worker.
    retired_.add(scoreboard_.counters(w.slot));
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

    bool expected = w.stopping() && (clean || w.killed);
    StopReason reason = expected ? w.stop_reason : StopReason::crash;
    if (w.stop_reason == StopReason::timeout)
        reason = StopReason::timeout;
    if (size_t i = restart_index(reason); i < restarts_.size())
        ++restarts_[i];

    if (!ready && !w.stopping()) {
        if (reload_.active && w.generation == generation_) {
            ++reload_.boot_failures;
            log_error(worker_name(w), " ", how, " before it was ready",
                      WIFEXITED(status) && WEXITSTATUS(status) == kWorkerExitBootFailed
                          ? " (the new application failed to load)"
                          : "");
            return;
        }
        backoff_.failure(now());
        log_error(worker_name(w), " ", how, " before it was ready",
                  WIFEXITED(status) && WEXITSTATUS(status) == kWorkerExitBootFailed ? " (the application failed to load)"
                                                                                   : "",
                  "; failure ", backoff_.failures(), ", next attempt in ", backoff_.delay(), " s");
        notify_status();
        return;
    }
    if (expected) {
        log_info(worker_name(w), " ", how, " after ", uptime, " s (", stop_reason_name(w.stop_reason), ")");
        return;
    }
    if (!w.stopping() && !w.proven && slot.requests_served.load() == 0) {
        double since_ready = w.ready_at > 0 ? now() - w.ready_at : 0;
        backoff_.failure(now());
        log_error(worker_name(w), " ", how, " ", since_ready, " s after it was ready, before its first answer; failure ",
                  backoff_.failures(), ", next attempt in ", backoff_.delay(), " s");
        notify_status();
        return;
    }
    log_error(worker_name(w), " ", how, " after ", uptime, " s",
              w.stopping() ? cat(" while stopping (", stop_reason_name(w.stop_reason), ")") : "; replacing it");
}

void Master::observe_workers()
{
    double t = now();
    for (WorkerProcess& w : table_.workers()) {
        const Slot& slot = scoreboard_.slot(w.slot);
        WorkerState s = slot.load_state();
        if (!w.ready && (s == WorkerState::idle || s == WorkerState::busy)) {
            w.ready = true;
            w.ready_at = t;
            w.last_active = t;
        }
        uint64_t served = slot.requests_served.load();
        // The backoff ends with a worker that has shown it runs, not one that
        // merely imported the app: it may crash on its first request.
        if (w.ready && !w.proven && (served > 0 || t - w.ready_at >= kEarlyCrashSeconds)) {
            w.proven = true;
            if (backoff_.active())
                log_info(worker_name(w), " is serving: the application runs again");
            backoff_.success();
        }
        if (s == WorkerState::busy || served != w.last_served) {
            w.last_active = t;
            w.last_served = served;
        }
    }
    if (!announced_ready_ && state_ == State::running) {
        uint32_t ready = 0;
        for (const WorkerProcess& w : table_.workers())
            ready += w.ready ? 1 : 0;
        if (ready > 0 && (ready >= std::min(target_, config_.workers) || config_.pm == ProcessManager::ondemand)) {
            announced_ready_ = true;
            sd_notify(0, "READY=1");
            notify_status();
        }
    }
}

void Master::enforce_limits()
{
    double t = now();
    uint64_t now_ns = static_cast<uint64_t>(t * 1e9);
    bool read_rss = config_.max_rss_mib > 0 && ticks_ % kRssEveryTicks == 0;
    for (WorkerProcess& w : table_.workers()) {
        // A timed-out worker had its traceback asked for; now it goes.
        if (w.timeout_dump_at > 0 && !w.killed && t - w.timeout_dump_at >= kTracebackGrace) {
            w.killed = true;
            signal_worker(w, SIGKILL);
        }
        // Graceful stops that overrun graceful_timeout are escalated.
        if (w.stop_sent_at > 0 && !w.killed && t - w.stop_sent_at > config_.graceful_timeout) {
            log_warning(worker_name(w), " did not stop within graceful_timeout (", config_.graceful_timeout,
                        " s): killing it");
            w.killed = true;
            signal_worker(w, SIGKILL);
        }
        if (!w.ready || w.killed || w.timeout_dump_at > 0)
            continue;

        const Slot& slot = scoreboard_.slot(w.slot);
        SlotReading r;
        uint64_t start_ns = slot.request_start_ns.load(std::memory_order_acquire);
        r.busy = start_ns != 0 && slot.load_state() == WorkerState::busy;
        r.request_age = r.busy && now_ns > start_ns ? static_cast<double>(now_ns - start_ns) / 1e9 : 0;
        r.request_seq = slot.request_seq.load(std::memory_order_relaxed);
        r.requests_served = slot.requests_served.load();
        if (read_rss)
            r.rss_mib = read_rss_mib(w.pid);

        LimitDecision d = check_limits(config_, w, r, t);
        char summary[Slot::kSummaryBytes];
        switch (d.action) {
        case LimitAction::none: break;
        case LimitAction::log_slow:
            slot.read_summary(summary, sizeof summary);
            log_warning("slow request: ", worker_name(w), " has been busy for ", r.request_age, " s on '", summary,
                        "'; its traceback follows");
            signal_worker(w, SIGUSR2);
            w.slow_logged_seq = r.request_seq;
            ++slow_requests_;
            break;
        case LimitAction::timeout:
            slot.read_summary(summary, sizeof summary);
            log_error("request timeout: ", worker_name(w), " has been busy for ", r.request_age, " s (timeout ",
                      config_.timeout, " s) on '", summary, "'; its traceback follows, then it is killed and replaced");
            signal_worker(w, SIGUSR2);
            w.timeout_dump_at = t;
            w.stop_reason = StopReason::timeout;
            ++timeouts_;
            break;
        case LimitAction::recycle:
            log_info(worker_name(w), " reached ", stop_reason_name(d.reason), ": replacing it once a new worker is ready");
            w.retire_reason = d.reason;
            break;
        }

        // ondemand: a worker idle for idle_timeout goes.
        if (config_.pm == ProcessManager::ondemand && !r.busy && w.retire_reason == StopReason::none &&
            w.generation == generation_ && t - w.last_active > config_.idle_timeout) {
            log_info(worker_name(w), " idle for ", config_.idle_timeout, " s: stopping it");
            w.retire_reason = StopReason::scale_down;
        }
    }
}

void Master::retire_replaced()
{
    uint32_t old_stopping = 0;
    for (const WorkerProcess& w : table_.workers())
        if (w.generation != generation_ && w.stopping() && w.stop_reason == StopReason::reload)
            ++old_stopping;

    for (WorkerProcess& w : table_.workers()) {
        if (w.retire_reason == StopReason::none || w.stopping())
            continue;
        switch (w.retire_reason) {
        case StopReason::reload:
            // Old generation: a few at a time, so in-flight work drains smoothly.
            if (old_stopping < config_.max_unavailable) {
                stop_worker(w, StopReason::reload);
                ++old_stopping;
            }
            break;
        case StopReason::scale_down: stop_worker(w, StopReason::scale_down); break;
        default: {
            // Recycling: only once the replacement serves.
            WorkerProcess* r = w.replacement ? table_.find_slot(*w.replacement) : nullptr;
            if (r && r->ready)
                stop_worker(w, w.retire_reason);
            else if (!r)
                w.replacement.reset();  // it died: reconcile spawns another
            break;
        }
        }
    }
}

PoolCounts Master::count_pool() const
{
    PoolCounts c;
    for (const WorkerProcess& w : table_.workers()) {
        if (w.generation != generation_ || w.stopping() || w.retire_reason != StopReason::none)
            continue;
        ++c.serving;
        switch (scoreboard_.slot(w.slot).load_state()) {
        case WorkerState::idle: ++c.idle; break;
        case WorkerState::busy: ++c.busy; break;
        default: ++c.starting; break;
        }
    }
    return c;
}

bool Master::listen_queue_waiting() const
{
    std::vector<struct pollfd> fds;
    for (const Listener& l : listeners_)
        fds.push_back(pollfd{l.fd.get(), POLLIN, 0});
    return ::poll(fds.data(), fds.size(), 0) > 0;
}

void Master::reconcile_worker_count()
{
    if (state_ != State::running || !backoff_.allows(now()))
        return;
    bool probing = backoff_.active();  // one attempt at a time while the app fails to boot

    // Recycled workers get their replacement first, whatever the pm mode.
    std::optional<uint32_t> needs_replacement;
    for (const WorkerProcess& w : table_.workers()) {
        if (w.retire_reason != StopReason::none && w.retire_reason != StopReason::reload &&
            w.retire_reason != StopReason::scale_down && !w.stopping() && !w.replacement) {
            needs_replacement = w.slot;
            break;  // one a tick
        }
    }
    if (needs_replacement) {
        std::optional<uint32_t> slot = spawn_worker_now();  // may grow the table: look the old one up again
        if (WorkerProcess* old = table_.find_slot(*needs_replacement); old && slot)
            old->replacement = slot;
    }

    bool ondemand = config_.pm == ProcessManager::ondemand;
    PoolCounts counts = count_pool();
    ScalingDecision d = decide_scaling(config_, target_, counts, ondemand && listen_queue_waiting());
    if (d.max_reached)
        ++max_reached_;
    for (uint32_t i = 0; i < d.spawn; ++i) {
        if (!spawn_worker_now() || probing)
            break;
    }
    for (uint32_t i = 0; i < d.retire_idle; ++i) {
        // The newest idle worker of this generation goes.
        WorkerProcess* newest = nullptr;
        for (WorkerProcess& w : table_.workers())
            if (w.generation == generation_ && !w.stopping() && w.retire_reason == StopReason::none &&
                scoreboard_.slot(w.slot).load_state() == WorkerState::idle &&
                (!newest || w.spawned_at > newest->spawned_at))
                newest = &w;
        if (newest)
            stop_worker(*newest, StopReason::scale_down);
    }
}

WorkerSpec Master::worker_spec(uint32_t slot) const
{
    WorkerSpec spec;
    spec.master_pid = ::getpid();
    spec.slot = slot;
    spec.generation = generation_;
    spec.app = config_.app;
    spec.scoreboard = const_cast<Scoreboard*>(&scoreboard_);
    spec.access_log = config_.access_log;
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

std::optional<uint32_t> Master::spawn_worker_now()
{
    Zygote* zygote = nullptr;
    if (config_.preload) {
        zygote = zygote_for_current_generation();
        if (!zygote)
            return std::nullopt;
    }
    std::optional<uint32_t> slot = table_.take_slot();
    if (!slot) {
        log_error("no free scoreboard slot; not spawning");
        return std::nullopt;
    }
    Slot& s = scoreboard_.reset_slot(*slot);
    s.generation.store(generation_, std::memory_order_relaxed);
    s.set_state(WorkerState::starting);

    WorkerProcess w;
    w.slot = *slot;
    w.generation = generation_;
    w.spawned_at = now();
    w.request_limit = request_limit_for(config_, std::uniform_real_distribution<double>(0.0, 1.0)(random_));
    if (zygote) {
        // The pid comes with the zygote's answer (on_zygote_message).
        if (!zygote->request(*slot)) {
            log_error("cannot ask the zygote (pid ", static_cast<long>(zygote->pid()), ") for a worker: ",
                      std::strerror(errno));
            table_.release_slot(*slot);
            return std::nullopt;
        }
        table_.add(w);
        return slot;
    }
    Result<pid_t> pid = spawn_worker(worker_spec(*slot));
    if (!pid) {
        log_error(pid.error().message());
        table_.release_slot(*slot);
        backoff_.failure(now());
        return std::nullopt;
    }
    w.pid = *pid;
    table_.add(w);
    log_info("spawned ", worker_name(w));
    return slot;
}

Zygote* Master::zygote_for_current_generation()
{
    auto it = zygotes_.find(generation_);
    if (it != zygotes_.end())
        return it->second.get();
    Result<std::unique_ptr<Zygote>> z = Zygote::start(
        worker_spec(0), base_.get(), [this](Zygote& zygote, const ZygoteMessage& m) { on_zygote_message(zygote, m); });
    if (!z) {
        log_error(z.error().message());
        backoff_.failure(now());
        return nullptr;
    }
    log_info("started zygote ", static_cast<long>((*z)->pid()), " to import the application for generation ",
             generation_);
    Zygote* raw = z->get();
    zygotes_[generation_] = std::move(*z);
    return raw;
}

void Master::on_zygote_message(Zygote& zygote, const ZygoteMessage& m)
{
    switch (m.kind) {
    case ZygoteMessage::ready:
        log_info("zygote ", static_cast<long>(zygote.pid()), " imported the application (generation ",
                 zygote.generation(), ")");
        break;
    case ZygoteMessage::spawned:
        if (WorkerProcess* w = table_.find_slot(m.slot); w && w->pid == 0) {
            w->pid = m.pid;
            log_info("spawned ", worker_name(*w), " from zygote ", static_cast<long>(zygote.pid()));
            if (w->stopping())
                signal_worker(*w, stop_signal(*w));
        }
        break;
    case ZygoteMessage::failed:
        log_error("zygote ", static_cast<long>(zygote.pid()), " could not fork a worker: ", std::strerror(m.err));
        if (WorkerProcess* w = table_.find_slot(m.slot); w && w->pid == 0)
            table_.remove_slot(m.slot);
        break;
    default: break;
    }
}

bool Master::reap_zygote(pid_t pid, int status)
{
    if (retired_zygotes_.erase(pid))
        return true;
    for (auto it = zygotes_.begin(); it != zygotes_.end(); ++it) {
        if (it->second->pid() != pid)
            continue;
        uint32_t generation = it->first;
        bool was_ready = it->second->ready();
        zygotes_.erase(it);
        // Workers it was still forking will never come.
        std::vector<uint32_t> orphans;
        for (const WorkerProcess& w : table_.workers())
            if (w.pid == 0 && w.generation == generation)
                orphans.push_back(w.slot);
        for (uint32_t slot : orphans)
            table_.remove_slot(slot);
        std::string how = WIFEXITED(status) ? cat("exited with code ", WEXITSTATUS(status))
                                            : cat("killed by signal ", WTERMSIG(status));
        if (was_ready) {
            log_error("zygote ", static_cast<long>(pid), " of generation ", generation, " ", how,
                      "; the next spawn starts another");
        } else if (reload_.active && generation == generation_) {
            ++reload_.boot_failures;
            log_error("zygote ", static_cast<long>(pid), " ", how, " before it imported the new application");
        } else {
            backoff_.failure(now());
            log_error("zygote ", static_cast<long>(pid), " ", how,
                      " before it imported the application; failure ", backoff_.failures(), ", next attempt in ",
                      backoff_.delay(), " s");
        }
        return true;
    }
    return false;
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

void Master::signal_worker(const WorkerProcess& w, int sig)
{
    if (w.pid > 0)
        ::kill(w.pid, sig);
}

int Master::stop_signal(const WorkerProcess& w)
{
    if (w.killed)
        return SIGKILL;
    // A stop of the whole pool drains the listen queues; any other stop
    // leaves them to the workers that stay.
    return w.stop_reason == StopReason::shutdown ? kSignalDrain : kSignalRetire;
}

void Master::stop_worker(WorkerProcess& w, StopReason reason)
{
    if (w.stopping())
        return;
    w.stop_reason = reason;
    w.stop_sent_at = now();
    signal_worker(w, stop_signal(w));
}

void Master::finish_stop_if_done()
{
    if (state_ == State::running)
        return;
    if (table_.empty()) {
        retire_zygotes(0);
        if (retired_zygotes_.empty())
            event_base_loopbreak(base_.get());
        return;
    }
    if (state_ == State::stopping && now() >= stop_deadline_) {
        for (WorkerProcess& w : table_.workers()) {
            if (w.killed)
                continue;
            char summary[Slot::kSummaryBytes];
            scoreboard_.slot(w.slot).read_summary(summary, sizeof summary);
            log_warning("graceful_timeout passed: killing ", worker_name(w),
                        summary[0] ? cat(" (busy on '", summary, "')") : std::string());
            w.killed = true;
            signal_worker(w, SIGKILL);
        }
    }
}

} // namespace drover

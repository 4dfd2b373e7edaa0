#include "supervisor/master.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "base/log.hpp"
#include "metrics/server.hpp"
#include "supervisor/sd_notify.hpp"

namespace drover {

namespace {

constexpr double kTickSeconds = 0.1;

uint32_t slot_count_for(const Config& c)
{
    // Two generations side by side during a reload, plus scaling headroom
    // (SIGTTIN may raise the target up to half the slots).
    uint32_t peak = std::max(c.workers, c.max_workers);
    return std::min<uint32_t>(2 * peak + 16, 2 * kMaxWorkerCount + 16);
}

const char* pm_name(ProcessManager pm)
{
    switch (pm) {
    case ProcessManager::static_pool: return "static";
    case ProcessManager::dynamic_pool: return "dynamic";
    case ProcessManager::ondemand: return "ondemand";
    }
    return "unknown";
}

} // namespace

Master::Master(CommandLine cmd, Config config, std::vector<Listener> listeners)
    : cmd_(std::move(cmd)),
      listeners_(std::move(listeners)),
      scoreboard_(slot_count_for(config)),
      pool_(std::move(config), scoreboard_.slot_count(), *this, *this, std::random_device{}()),
      start_time_unix_(static_cast<double>(::time(nullptr))),
      base_(event_base_new())
{
    if (!base_)
        throw std::runtime_error("event_base_new() failed");
}

Master::~Master() = default;

int Master::run()
{
    // Workers forked by a preloading zygote are orphaned on purpose and must
    // be adopted here, not by init; processes an application leaves behind
    // are reaped here too.
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        log_warning("prctl(PR_SET_CHILD_SUBREAPER) failed: ", std::strerror(errno));

    tick_event_.reset(event_new(
        base_.get(), -1, EV_PERSIST, [](evutil_socket_t, short, void* arg) { static_cast<Master*>(arg)->tick(); },
        this));
    // One table from signal to intent; the tick reaps, so SIGCHLD only wakes it.
    signals_ = std::make_unique<SignalEvents>(base_.get());
    signals_->on(SIGCHLD, [this] { wake(); });
    signals_->on(SIGHUP, [this] { on_signal(Intent::reload, "SIGHUP"); });
    signals_->on(SIGTERM, [this] { on_signal(Intent::graceful_stop, "SIGTERM"); });
    signals_->on(SIGINT, [this] { on_signal(Intent::graceful_stop, "SIGINT"); });
    signals_->on(SIGQUIT, [this] { on_signal(Intent::quit, "SIGQUIT"); });
    signals_->on(SIGUSR1, [this] { on_signal(Intent::reopen_logs, "SIGUSR1"); });
    signals_->on(SIGTTIN, [this] { on_signal(Intent::add_worker, "SIGTTIN"); });
    signals_->on(SIGTTOU, [this] { on_signal(Intent::remove_worker, "SIGTTOU"); });
    signals_->on(SIGPIPE, [] {});

    const Config& config = pool_.config();
    if (!config.metrics_address.empty()) {
        // Serving the application matters more than its metrics: a metrics
        // address that cannot be bound is an error in the log, not a stop
        // (and /healthz failing tells a load balancer).
        try {
            metrics_ = std::make_unique<MetricsServer>(base_.get(), config.metrics_address, *this, this);
            log_info("metrics on http://", config.metrics_address, "/metrics (also /healthz, /status, /drain)");
        } catch (const std::exception& e) {
            log_error(e.what(), "; serving without /metrics, /healthz, /status and /drain");
        }
    }
    if (config.app.keepalive > 0)
        park_ = std::make_unique<ConnectionPark>(
            base_.get(), ConnectionPark::Timeouts{config.app.keepalive, config.app.header_timeout}, clock_);

    struct timeval tv = {0, static_cast<suseconds_t>(kTickSeconds * 1e6)};
    event_add(tick_event_.get(), &tv);

    // systemd keeps the listening sockets across a restart (with
    // FileDescriptorStoreMax=) and hands them back at the next start, so
    // connections queued on them meanwhile are served, not refused.
    for (Listener& l : listeners_)
        notify::store_listener(l);
    if (auto interval = notify::watchdog_interval()) {
        watchdog_every_ = static_cast<double>(interval->count()) / 1e6;
        log_info("systemd watchdog: pinging every ", watchdog_every_, " s from the master's tick");
    }

    bool fixed = config.pm == ProcessManager::static_pool;
    log_info("drover ", DROVER_VERSION, " serving ", config.app.callable, " (pm ", pm_name(config.pm), ", ",
             pool_.target(), fixed ? " workers)" : " workers at most)");
    tick();  // the first workers
    event_base_dispatch(base_.get());

    metrics_.reset();
    park_.reset();
    remove_socket_files(listeners_);
    log_info("stopped");
    return 0;
}

void Master::on_signal(Intent intent, const char* source)
{
    pool_.request(intent, source);
    wake();
}

bool Master::request_drain(bool drain, const char* source)
{
    bool queued = pool_.request(drain ? Intent::drain : Intent::undrain, source);
    wake();
    return queued;
}

void Master::wake()
{
    // Runs the tick from the loop at once; its timer restarts from now.
    event_active(tick_event_.get(), EV_TIMEOUT, 0);
}

// ---------------------------------------------------------------- the tick

void Master::tick()
{
    double now = clock_.now();
    // From the tick, not a timer of its own: a loop that stalls stops the
    // pings, and systemd kills and restarts the master.
    if (watchdog_every_ > 0 && now - watchdog_sent_ >= watchdog_every_) {
        notify::watchdog();
        watchdog_sent_ = now;
    }
    if (park_)
        park_->tick(now);
    reap(now);
    pool_.tick(now);
    if (pool_.finished() && retired_zygotes_.empty())
        event_base_loopbreak(base_.get());
}

void Master::reap(double now)
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
        if (reap_zygote(pid, status, now))
            continue;
        std::optional<WorkerProcess> worker = pool_.worker_exited(pid, ExitStatus::from_wait_status(status), now);
        if (!worker) {
            // A subreaper adopts what workers' own children leave orphaned.
            log_info("reaped process ", static_cast<long>(pid), ", not a worker (an orphaned descendant)");
            continue;
        }
        // The checked counters, never below what /metrics has shown of this
        // worker; its slot is reset only when the next worker takes it.
        retired_.add(scoreboard_.counters(worker->slot));
    }
}

// ---------------------------------------------------------------- metrics

PoolState Master::pool_state() const
{
    const Config& config = pool_.config();
    PoolState p;
    p.start_time_unix = start_time_unix_;
    p.generation = pool_.generation();
    p.target_workers = pool_.target();
    p.max_workers = config.pm == ProcessManager::static_pool ? pool_.target() : config.max_workers;
    p.pm = pm_name(config.pm);
    p.stopping = pool_.state() == MasterState::stopping || pool_.state() == MasterState::quitting;
    p.crash_loop = pool_.backoff().active();
    p.crash_backoff_seconds = pool_.backoff().delay();
    p.draining = pool_.draining();
    p.healthz_max_queue = config.healthz_max_queue;
    const PoolCounters& counters = pool_.counters();
    p.max_workers_reached = counters.max_workers_reached;
    p.restarts = counters.restarts;
    p.reloads_ok = counters.reloads_ok;
    p.reloads_failed = counters.reloads_failed;
    p.slow_requests = counters.slow_requests;
    p.timeouts = counters.timeouts;
    for (const Listener& l : listeners_) {
        ListenerState s;
        s.name = l.spec.text;
        s.protocol = protocol_name(l.spec.protocol);
        s.fd = l.fd.get();
        s.is_unix = l.spec.is_unix();
        s.backlog = static_cast<uint32_t>(l.spec.backlog);
        p.listeners.push_back(std::move(s));
    }
    double wall_offset = static_cast<double>(::time(nullptr)) - clock_.now();
    for (const WorkerProcess& w : pool_.table().workers())
        if (w.pid > 0)
            p.workers.push_back(WorkerInfo{w.pid, w.slot, w.generation, w.spawned_at + wall_offset});
    p.scoreboard = &scoreboard_;
    p.retired = &retired_;
    p.python_version = DROVER_PYTHON_VERSION;
    return p;
}

} // namespace drover

// The pool's work on single workers: what an exit means, readiness, the
// limits, replacement, the worker count, and the transitions that send each
// phase's signal.
#include <signal.h>

#include <algorithm>

#include "supervisor/pool.hpp"
#include "worker/worker_spec.hpp"

namespace drover {

namespace {

/// RSS costs a read of /proc per worker: once a second is enough.
constexpr double kRssInterval = 1.0;
/// How long a request runs before the idle connections its worker kept are
/// asked for (when another worker is idle): short requests never pay for a
/// pass, and a kept connection waits at most about this plus a tick.
constexpr double kHandoffAfter = 0.05;

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

} // namespace

std::string Pool::name(const WorkerProcess& w) const
{
    return cat("worker ", static_cast<long>(w.pid), " (slot ", w.slot, ", generation ", w.generation, ")");
}

void Pool::count_restart(StopReason reason)
{
    if (size_t i = restart_index(reason); i < counters_.restarts.size())
        ++counters_.restarts[i];
}

void Pool::backoff_failure(double now)
{
    backoff_.failure(now);
    status_changed_ = true;
}

// ---------------------------------------------------------------- exits

std::optional<WorkerProcess> Pool::worker_exited(pid_t pid, ExitStatus status, double now)
{
    std::optional<WorkerProcess> gone = table_.remove(pid);
    if (!gone)
        return std::nullopt;
    const WorkerProcess& w = *gone;
    WorkerReading slot = readings_.slot(w.slot);
    // It may have become ready (or served) since the last tick.
    bool ready = w.ready() || slot.ready() || slot.state == WorkerState::stopping;
    uint64_t served = std::max(w.last_served, slot.requests_served);
    double uptime = now - w.spawned_at;
    std::string how = status.describe();
    bool boot_failed = status.exited_with(kWorkerExitBootFailed);

    bool expected = w.stopping() && (status.clean() || w.phase == WorkerPhase::killed);
    count_restart(expected || w.why == StopReason::timeout ? w.why : StopReason::crash);

    if (expected) {
        info(name(w), " ", how, " after ", uptime, " s (", stop_reason_name(w.why), ")");
        return gone;
    }
    if (w.stopping()) {
        error(name(w), " ", how, " after ", uptime, " s while stopping (", stop_reason_name(w.why), ")");
        return gone;
    }
    bool new_generation = state_ == MasterState::reloading && w.generation == generation_;
    if (!ready && new_generation) {
        ++reload_.boot_failures;  // the reload rolls back at this tick
        error(name(w), " ", how, " before it was ready", boot_failed ? " (the new application failed to load)" : "");
        return gone;
    }
    if (!ready) {
        backoff_failure(now);
        error(name(w), " ", how, " before it was ready", boot_failed ? " (the application failed to load)" : "",
              "; failure ", backoff_.failures(), ", next attempt in ", backoff_.delay(), " s");
        return gone;
    }
    if (new_generation) {
        // Ready, then dead before the rest of its generation: the new code
        // does not run, and retrying it under the backoff until
        // startup_timeout would only delay the rollback.
        ++reload_.crashes;
        error(name(w), " ", how, " after ", uptime, " s, before generation ", w.generation, " was ready");
        return gone;
    }
    double since_ready = w.ready_at ? now - *w.ready_at : 0;
    if (served == 0 && since_ready < kEarlyCrashSeconds) {
        backoff_failure(now);
        error(name(w), " ", how, " ", since_ready, " s after it was ready, before its first answer; failure ",
              backoff_.failures(), ", next attempt in ", backoff_.delay(), " s");
        return gone;
    }
    error(name(w), " ", how, " after ", uptime, " s; replacing it");
    return gone;
}

void Pool::worker_forked(uint32_t slot, pid_t pid, pid_t zygote)
{
    WorkerProcess* w = table_.find_slot(slot);
    if (!w || w->pid != 0)
        return;
    w->pid = pid;
    info("spawned ", name(*w), " from zygote ", static_cast<long>(zygote));
    // Asked to stop before anyone knew whom to signal.
    if (w->stopping())
        signal(*w, phase_signal(*w));
}

void Pool::worker_not_forked(uint32_t slot)
{
    if (WorkerProcess* w = table_.find_slot(slot); w && w->pid == 0)
        table_.remove_slot(slot);
}

void Pool::zygote_exited(pid_t pid, uint32_t generation, bool imported, ExitStatus status, double now)
{
    // The workers it was still forking will never come.
    table_.remove_unforked(generation);
    std::string how = status.describe();
    if (imported) {
        error("zygote ", static_cast<long>(pid), " of generation ", generation, " ", how,
              "; the next spawn starts another");
    } else if (state_ == MasterState::reloading && generation == generation_) {
        ++reload_.boot_failures;
        error("zygote ", static_cast<long>(pid), " ", how, " before it imported the new application");
    } else {
        backoff_failure(now);
        error("zygote ", static_cast<long>(pid), " ", how, " before it imported the application; failure ",
              backoff_.failures(), ", next attempt in ", backoff_.delay(), " s");
    }
}

// ---------------------------------------------------------------- observe

void Pool::observe(double now)
{
    for (WorkerProcess& w : table_.workers()) {
        WorkerReading slot = readings_.slot(w.slot);
        bool was_proven = w.proven(observed_at_);
        if (!w.ready() && slot.ready()) {
            w.ready_at = now;
            w.last_active = now;
            w.enter(WorkerPhase::serving, StopReason::none, now);  // unless it is leaving already
        }
        if (slot.state == WorkerState::busy || slot.requests_served != w.last_served) {
            w.last_active = now;
            w.last_served = slot.requests_served;
        }
        // The backoff ends with a worker that has shown it runs, not one that
        // merely imported the app: it may crash on its first request.
        if (!was_proven && w.proven(now) && backoff_.active()) {
            info(name(w), " is serving: the application runs again");
            backoff_.success();
            status_changed_ = true;
        }
    }
    observed_at_ = now;

    if (!announced_ready_ && state_ == MasterState::running) {
        // ondemand starts no worker until a connection waits: it is ready
        // once the master serves its listeners, or Type=notify would hang.
        uint32_t ready = table_.ready();
        if (config_.pm == ProcessManager::ondemand || (ready > 0 && ready >= std::min(target_, config_.workers))) {
            announced_ready_ = true;
            effects_.announce(Announcement::ready);
            status_changed_ = true;
        }
    }
}

// ---------------------------------------------------------------- limits

void Pool::enforce_limits(double now)
{
    bool read_rss = config_.max_rss_mib > 0 && now >= rss_due_;
    if (read_rss)
        rss_due_ = now + kRssInterval;
    for (WorkerProcess& w : table_.workers()) {
        escalate(w, now);
        // A stopping worker is still held to its request timeout.
        bool timed_out = w.stopping() && w.why == StopReason::timeout;
        if (w.ready() && w.pid > 0 && w.phase != WorkerPhase::killed && !timed_out)
            apply_limits(w, read_rss, now);
    }
}

void Pool::apply_limits(WorkerProcess& w, bool read_rss, double now)
{
    WorkerReading slot = readings_.slot(w.slot);
    SlotReading r;
    r.busy = slot.busy();
    // A worker writes its own start time and could write anything: no request
    // of it is older than the worker.
    if (r.busy)
        r.request_age = std::clamp(now - slot.request_started, 0.0, std::max(0.0, now - w.spawned_at));
    r.request_seq = slot.request_seq;
    r.requests_served = slot.requests_served;
    if (read_rss && w.phase == WorkerPhase::serving)
        r.rss_mib = readings_.rss_mib(w.pid);

    LimitDecision d = check_limits(config_, w, r, now);
    switch (d.action) {
    case LimitAction::none: break;
    case LimitAction::log_slow:
        warning("slow request: ", name(w), " has been busy for ", r.request_age, " s on '", slot.summary,
                "'; its traceback follows");
        signal(w, SIGUSR2);
        w.slow_logged_seq = r.request_seq;
        ++counters_.slow_requests;
        break;
    case LimitAction::timeout:
        error("request timeout: ", name(w), " has been busy for ", r.request_age, " s (timeout ", config_.timeout,
              " s) on '", slot.summary, "'; its traceback follows, then it is killed and replaced");
        ++counters_.timeouts;
        stop(w, StopReason::timeout, now);  // SIGUSR2 now, SIGKILL after kTracebackGrace
        break;
    case LimitAction::recycle:
        info(name(w), " reached ", stop_reason_name(d.reason), ": replacing it once a new worker is ready");
        retire(w, d.reason, now);
        break;
    }

    // A request that runs long on a worker that kept its idle connections
    // (every other worker was busy when it began): once another worker is
    // idle, they are asked for, so none waits behind it for long.
    if (r.busy && slot.held_connections > 0 && r.request_age >= kHandoffAfter && w.handoff_asked_seq != r.request_seq &&
        another_idle(w)) {
        effects_.ask_for_connections(w.pid);
        w.handoff_asked_seq = r.request_seq;
    }

    // ondemand: a worker idle for idle_timeout goes.
    if (config_.pm == ProcessManager::ondemand && !r.busy && w.phase == WorkerPhase::serving &&
        w.generation == generation_ && now - w.last_active > config_.idle_timeout) {
        info(name(w), " idle for ", config_.idle_timeout, " s: stopping it");
        retire(w, StopReason::scale_down, now);
    }
}

bool Pool::another_idle(const WorkerProcess& w) const
{
    for (const WorkerProcess& o : table_.workers())
        if (&o != &w && o.phase == WorkerPhase::serving && readings_.slot(o.slot).state == WorkerState::idle)
            return true;
    return false;
}

void Pool::escalate(WorkerProcess& w, double now)
{
    if (w.phase != WorkerPhase::stopping || now < w.deadline)
        return;
    if (w.why == StopReason::shutdown) {
        std::string summary = readings_.slot(w.slot).summary;
        warning("graceful_timeout passed: killing ", name(w),
                summary.empty() ? std::string() : cat(" (busy on '", summary, "')"));
    } else if (w.why != StopReason::timeout) {  // that one's traceback had its time
        warning(name(w), " did not stop within graceful_timeout (", config_.graceful_timeout, " s): killing it");
    }
    kill(w, w.why, now);
}

// ---------------------------------------------------------------- replacing

void Pool::retire_replaced(double now)
{
    uint32_t old_stopping = table_.stopping_elsewhere(generation_, StopReason::reload);
    for (WorkerProcess& w : table_.workers()) {
        if (w.phase != WorkerPhase::retiring)
            continue;
        if (w.why == StopReason::reload) {
            // The old generation a few at a time, so its in-flight work drains
            // while the rest still serves.
            if (old_stopping < config_.max_unavailable) {
                stop(w, StopReason::reload, now);
                ++old_stopping;
            }
        } else if (w.why == StopReason::scale_down) {
            stop(w, StopReason::scale_down, now);
        } else {
            // Recycling: only once the replacement serves.
            WorkerProcess* r = w.replacement ? table_.find_slot(*w.replacement) : nullptr;
            if (r && r->ready())
                stop(w, w.why, now);
            else if (!r)
                w.replacement.reset();  // it died: reconcile spawns another
        }
    }
}

PoolCounts Pool::count_pool() const
{
    PoolCounts c;
    for (const WorkerProcess& w : table_.workers()) {
        if (w.generation != generation_ || !w.active())
            continue;
        ++c.serving;
        std::optional<WorkerState> state = readings_.slot(w.slot).state;
        if (state == WorkerState::idle)
            ++c.idle;
        else if (state == WorkerState::busy)
            ++c.busy;
        else
            ++c.starting;
    }
    return c;
}

void Pool::reconcile(double now)
{
    if (state_ != MasterState::running && state_ != MasterState::reloading)
        return;
    if (!backoff_.allows(now))
        return;
    // While the app fails, one probe at a time: no spawn while a worker of
    // this generation is still starting. (Not "until one is proven": a
    // healthy worker that has had no request yet would hold the pool below
    // its target for kEarlyCrashSeconds.)
    bool probing = backoff_.active();
    auto may_spawn = [&] { return !probing || table_.starting(generation_) == 0; };

    // Recycled workers get their replacement first, whatever the pm mode, one
    // a tick; until theirs is spawned they still hold their place in the
    // count, or scaling would start one more for each of them.
    std::optional<uint32_t> needs_replacement;
    uint32_t awaiting = 0;
    for (const WorkerProcess& w : table_.workers()) {
        if (w.phase == WorkerPhase::retiring && is_recycling(w.why) && !w.replacement) {
            if (!needs_replacement)
                needs_replacement = w.slot;
            ++awaiting;
        }
    }
    if (needs_replacement && may_spawn()) {
        std::optional<uint32_t> slot = spawn(now);  // may move the table: look the old one up again
        if (WorkerProcess* old = table_.find_slot(*needs_replacement); old && slot) {
            old->replacement = slot;
            --awaiting;
        }
    }

    bool ondemand = config_.pm == ProcessManager::ondemand;
    PoolCounts counts = count_pool();
    counts.serving += awaiting;
    ScalingDecision d = decide_scaling(config_, target_, counts, ondemand && readings_.connection_waiting());
    if (d.max_reached)
        ++counters_.max_workers_reached;
    for (uint32_t i = 0; i < d.spawn; ++i)
        if (!may_spawn() || !spawn(now))
            break;
    for (uint32_t i = 0; i < d.retire_idle; ++i) {
        // The newest idle worker goes.
        WorkerProcess* newest = table_.newest_active(
            generation_, [this](const WorkerProcess& w) { return readings_.slot(w.slot).state == WorkerState::idle; });
        if (newest)
            stop(*newest, StopReason::scale_down, now);
    }
}

// ---------------------------------------------------------------- transitions

std::optional<uint32_t> Pool::spawn(double now)
{
    std::optional<uint32_t> slot = table_.take_slot();
    if (!slot) {
        error("no free scoreboard slot; not spawning");
        return std::nullopt;
    }
    SpawnResult r = effects_.spawn(*slot, generation_, config_);
    if (r.outcome == SpawnResult::Outcome::failed || r.outcome == SpawnResult::Outcome::failed_back_off) {
        table_.release_slot(*slot);
        if (r.outcome == SpawnResult::Outcome::failed_back_off)
            backoff_failure(now);
        return std::nullopt;
    }
    WorkerProcess w;
    w.pid = r.pid;  // 0 until the zygote reports it (worker_forked)
    w.slot = *slot;
    w.generation = generation_;
    w.spawned_at = now;
    w.since = now;
    w.request_limit = request_limit_for(config_, std::uniform_real_distribution<double>(0.0, 1.0)(random_));
    table_.add(w);
    if (w.pid > 0)
        info("spawned ", name(w));
    return slot;
}

void Pool::retire(WorkerProcess& w, StopReason why, double now)
{
    w.enter(WorkerPhase::retiring, why, now);
}

void Pool::stop(WorkerProcess& w, StopReason why, double now)
{
    bool was_stopping = w.stopping();
    if (!w.enter(WorkerPhase::stopping, why, now))
        return;
    if (why == StopReason::timeout)
        w.deadline = now + kTracebackGrace;
    else if (!was_stopping)
        w.deadline = now + config_.graceful_timeout;
    signal(w, phase_signal(w));
}

void Pool::kill(WorkerProcess& w, StopReason why, double now)
{
    if (w.enter(WorkerPhase::killed, why, now))
        signal(w, SIGKILL);
}

int Pool::phase_signal(const WorkerProcess& w)
{
    if (w.phase == WorkerPhase::killed)
        return SIGKILL;
    switch (w.why) {
    case StopReason::timeout: return SIGUSR2;  // faulthandler's traceback first
    // A stop of the whole pool drains the listen queues; any other stop
    // leaves them to the workers that stay.
    case StopReason::shutdown: return kSignalDrain;
    default: return kSignalRetire;
    }
}

void Pool::signal(const WorkerProcess& w, int sig)
{
    // pid 0 is a worker a zygote has not reported yet: kill(0) would reach
    // the master's whole process group. worker_forked() signals it later.
    if (w.pid > 0)
        effects_.signal(w.pid, sig);
}

} // namespace drover

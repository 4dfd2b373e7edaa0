// The pool's tick, the intents signals queue, and the master's own states:
// stopping, quitting, scaling by signal, log reopening, draining, what
// systemd is told.
#include "supervisor/pool.hpp"

#include <signal.h>

#include <algorithm>

namespace drover {

namespace {

/// Signals coalesce in the kernel; a flood that still outruns the tick is
/// cut here rather than queued without bound.
constexpr size_t kMaxIntents = 64;

} // namespace

Pool::Pool(Config config, uint32_t slot_count, PoolEffects& effects, const PoolReadings& readings, uint64_t seed)
    : effects_(effects),
      readings_(readings),
      config_(std::move(config)),
      previous_config_(config_),
      table_(slot_count),
      random_(seed),
      target_(initial_target(config_))
{
}

bool Pool::request(Intent intent, const char* source)
{
    if (intents_.size() >= kMaxIntents) {
        warning(source, ": ", kMaxIntents, " signals are waiting for the loop already; this one is dropped");
        return false;
    }
    intents_.push_back(Request{intent, source});
    return true;
}

void Pool::tick(double now)
{
    take_intents(now);
    observe(now);
    enforce_limits(now);
    advance_reload(now);
    retire_replaced(now);
    reconcile(now);
    finish_stop();
    publish_status();
}

void Pool::take_intents(double now)
{
    // Emptied before acting, so that nothing done here can see it change.
    std::vector<Request> intents;
    intents.swap(intents_);
    for (const Request& r : intents) {
        switch (r.intent) {
        case Intent::reload: begin_reload(now); break;
        case Intent::graceful_stop: begin_stop(r.source, now); break;
        case Intent::quit: quit(r.source, now); break;
        case Intent::reopen_logs: reopen_logs(r.source); break;
        case Intent::add_worker: change_target(+1, r.source, now); break;
        case Intent::remove_worker: change_target(-1, r.source, now); break;
        case Intent::drain: set_draining(true, r.source); break;
        case Intent::undrain: set_draining(false, r.source); break;
        }
    }
}

bool Pool::enter(MasterState next)
{
    if (!master_may_enter(state_, next))
        return false;
    state_ = next;
    return true;
}

bool Pool::finished() const
{
    return (state_ == MasterState::stopping || state_ == MasterState::quitting) && table_.empty();
}

void Pool::begin_stop(const char* source, double now)
{
    if (!enter(MasterState::stopping))
        return;
    reload_ = ReloadRecord{};  // its new generation drains with the rest; a pending one is moot
    effects_.announce(Announcement::stopping);
    info(source, ": stopping gracefully (graceful_timeout ", config_.graceful_timeout, " s)");
    effects_.close_parked_connections();
    // Retiring and stopping workers too: they drain now, as nobody stays to.
    for (WorkerProcess& w : table_.workers())
        stop(w, StopReason::shutdown, now);
}

void Pool::quit(const char* source, double now)
{
    if (!enter(MasterState::quitting))
        return;
    reload_ = ReloadRecord{};
    effects_.announce(Announcement::stopping);
    info(source, ": stopping now");
    for (WorkerProcess& w : table_.workers())
        kill(w, StopReason::shutdown, now);
}

void Pool::finish_stop()
{
    if (finished())
        effects_.retire_zygotes(0);
}

void Pool::reopen_logs(const char* source)
{
    effects_.reopen_log();
    for (const WorkerProcess& w : table_.workers())
        signal(w, SIGUSR1);
    info(source, ": log files reopened");
}

void Pool::change_target(int delta, const char* source, double now)
{
    if (state_ != MasterState::running && state_ != MasterState::reloading)
        return;
    // Half the slots stay for a reload's second generation.
    uint32_t limit = std::max<uint32_t>(table_.slot_count() / 2, 9) - 8;
    if (delta > 0 && target_ < limit)
        ++target_;
    else if (delta < 0 && target_ > 1)
        --target_;
    else
        return;
    info(source, ": ", config_.pm == ProcessManager::static_pool ? "" : "at most ", target_, " workers");
    // Above the target: the newest workers of this generation go.
    while (table_.active(generation_) > target_) {
        WorkerProcess* newest = table_.newest_active(generation_);
        if (!newest)
            break;
        stop(*newest, StopReason::scale_down, now);
    }
    status_changed_ = true;
}

void Pool::set_draining(bool on, const char* source)
{
    if (draining_ == on) {
        info(source, on ? ": draining already" : ": not draining");
        return;
    }
    draining_ = on;
    // Nothing else changes: workers keep accepting, so the requests a
    // balancer still sends (until its health check sees the 503) are served.
    if (on)
        info(source, ": draining: /healthz answers 503 so that load balancers move traffic away; requests are "
                     "still served");
    else
        info(source, ": draining ended: /healthz answers for the pool again");
    status_changed_ = true;
}

void Pool::publish_status()
{
    if (!status_changed_)
        return;
    status_changed_ = false;
    if (backoff_.active()) {
        effects_.status(cat("crash loop: the application fails to start (", backoff_.failures(),
                            " failures); retrying in ", backoff_.delay(), " s"));
        return;
    }
    PoolCounts c = count_pool();
    effects_.status(cat("generation ", generation_, ": ", c.serving, " workers (", c.idle, " idle, ", c.busy, " busy)",
                        state_ == MasterState::reloading ? ", reloading" : "", draining_ ? ", draining" : ""));
}

} // namespace drover

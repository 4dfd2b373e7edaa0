// Reloading to a new generation: it starts beside the old one, which is
// retired only once all of the new one is ready, max_unavailable at a time;
// if the new one cannot get ready (a worker or its zygote dies, or
// startup_timeout passes) it is rolled back and the old one keeps serving.
#include "supervisor/pool.hpp"

#include <algorithm>

namespace drover {

void Pool::begin_reload(double now)
{
    if (state_ == MasterState::reloading) {
        reload_.pending = true;
        info("SIGHUP: a reload is in progress; the next one starts when it ends");
        return;
    }
    if (state_ != MasterState::running)
        return;
    std::optional<Config> fresh = effects_.load_config(config_);
    if (!fresh) {
        ++counters_.reloads_failed;
        return;
    }
    effects_.announce(Announcement::reloading);
    previous_config_ = config_;
    config_ = std::move(*fresh);
    reload_ = ReloadRecord{};
    reload_.old_generation = generation_;
    reload_.old_target = target_;
    reload_.started_at = now;
    enter(MasterState::reloading);
    ++generation_;
    target_ = initial_target(config_);
    backoff_.success();  // the new code gets its own chance
    info("SIGHUP: reloading: starting generation ", generation_, " (generation ", reload_.old_generation,
         " serves until it is ready)");
    status_changed_ = true;
    // This tick's reconcile starts the new generation.
}

void Pool::advance_reload(double now)
{
    if (state_ != MasterState::reloading)
        return;
    if (reload_.boot_failures > 0) {
        roll_back(cat(reload_.boot_failures, " new worker(s) died before they were ready"), now);
        return;
    }
    if (reload_.crashes > 0) {
        roll_back(cat(reload_.crashes, " new worker(s) died before the whole generation was ready"), now);
        return;
    }
    if (now - reload_.started_at > config_.startup_timeout) {
        roll_back(cat("the new workers were not ready within startup_timeout (", config_.startup_timeout, " s)"), now);
        return;
    }
    uint32_t wanted = table_.staying(generation_);
    uint32_t ready = table_.ready_staying(generation_);
    // The whole new generation must be ready before any old worker goes, so a
    // rollback never has to bring old workers back.
    bool ondemand = config_.pm == ProcessManager::ondemand;
    uint32_t needed = ondemand ? std::min<uint32_t>(wanted, 1) : wanted;
    if (wanted == 0 && !ondemand)
        return;
    if (ready < needed || (config_.pm == ProcessManager::static_pool && ready < target_))
        return;
    complete_reload(now);
}

void Pool::complete_reload(double now)
{
    for (WorkerProcess& w : table_.workers()) {
        if (w.generation == generation_)
            continue;
        if (w.phase == WorkerPhase::serving)
            retire(w, StopReason::reload, now);
        else if (w.phase == WorkerPhase::starting)
            stop(w, StopReason::reload, now);  // serves nobody yet: nothing to pace
    }
    bool again = reload_.pending;
    uint32_t old_generation = reload_.old_generation;
    reload_ = ReloadRecord{};
    enter(MasterState::running);
    effects_.retire_zygotes(generation_);
    ++counters_.reloads_ok;
    info("reload: generation ", generation_, " is ready; retiring generation ", old_generation, " (",
         config_.max_unavailable, " at a time)");
    effects_.announce(Announcement::ready);
    announced_ready_ = true;
    status_changed_ = true;
    if (again)
        begin_reload(now);
}

void Pool::roll_back(const std::string& why, double now)
{
    uint32_t failed_generation = generation_;
    for (WorkerProcess& w : table_.workers()) {
        if (w.generation != failed_generation)
            continue;
        // A ready worker may hold requests: it finishes them. One that is
        // still importing holds nothing.
        if (w.ready())
            stop(w, StopReason::reload, now);
        else
            kill(w, StopReason::reload, now);
    }
    generation_ = reload_.old_generation;
    target_ = reload_.old_target;
    config_ = previous_config_;
    bool again = reload_.pending;
    reload_ = ReloadRecord{};
    enter(MasterState::running);
    effects_.retire_zygotes(generation_);
    ++counters_.reloads_failed;
    error("reload failed: ", why, "; generation ", failed_generation, " is rolled back and generation ", generation_,
          " keeps serving");
    effects_.announce(Announcement::ready);
    announced_ready_ = true;
    status_changed_ = true;
    if (again) {
        // It may carry a fix made while the failed reload was importing.
        info("SIGHUP: running the reload that was asked for during the failed one");
        begin_reload(now);
    }
}

} // namespace drover

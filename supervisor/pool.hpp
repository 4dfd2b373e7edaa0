// The pool: the workers of every generation and the policy that keeps them.
// It spawns to the target, observes readiness, enforces the limits, reloads
// to a new generation (and rolls back), backs off crash loops, scales, and
// stops. It has no clock, no event loop and no syscalls: every verb takes
// now (monotonic seconds), every effect goes through PoolEffects and every
// reading through PoolReadings, so tests/unit/supervisor/pool_test.cpp runs
// it without processes.
//
// Signals only queue intents (request()); tick() acts on them and then does
// the rest of the work in one order. The shell reaps before each tick and
// reports each exit (worker_exited), so a tick always sees the table as it
// is.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "metrics/pool_state.hpp"
#include "supervisor/config.hpp"
#include "supervisor/exit_status.hpp"
#include "supervisor/lifecycle.hpp"
#include "supervisor/limits.hpp"
#include "supervisor/pool_effects.hpp"
#include "supervisor/pool_readings.hpp"
#include "supervisor/process_table.hpp"
#include "supervisor/restart_policy.hpp"
#include "supervisor/scaling.hpp"

namespace drover {

/// What a signal asks of the pool.
enum class Intent {
    reload,         ///< HUP
    graceful_stop,  ///< TERM, INT
    quit,           ///< QUIT
    reopen_logs,    ///< USR1
    add_worker,     ///< TTIN
    remove_worker,  ///< TTOU
    drain,          ///< POST /drain: /healthz says 503 so a balancer moves traffic away; serving goes on
    undrain,        ///< DELETE /drain
};

/// The pool's counters, as metrics/ exports them.
struct PoolCounters {
    std::array<uint64_t, kRestartReasons.size()> restarts{};  ///< by kRestartReasons
    uint64_t reloads_ok = 0;
    uint64_t reloads_failed = 0;
    uint64_t slow_requests = 0;
    uint64_t timeouts = 0;
    uint64_t max_workers_reached = 0;
};

/// A reload under way: a new generation starts while the old one serves.
struct ReloadRecord {
    bool pending = false;         ///< a SIGHUP came during this reload: run it next
    uint32_t old_generation = 0;
    uint32_t old_target = 0;
    double started_at = 0;
    uint32_t boot_failures = 0;   ///< new workers (or their zygote) that died before ready
    uint32_t crashes = 0;         ///< new workers that died after ready, before the generation was
};

class Pool {
public:
    /// slot_count: the scoreboard's. seed: for the max_requests jitter.
    Pool(Config config, uint32_t slot_count, PoolEffects& effects, const PoolReadings& readings, uint64_t seed);
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    /// Records what a signal asks for; the next tick acts on it, in arrival
    /// order. source names the signal in the log ("SIGTERM"). false when the
    /// intent was dropped (too many wait for the tick already).
    bool request(Intent intent, const char* source);

    /// One turn: intents -> observe -> enforce limits -> advance a reload ->
    /// retire replaced workers -> reconcile the worker count -> finish a stop.
    void tick(double now);

    // ---- facts the shell reports (pool_workers.cpp)
    /// A child was reaped: the worker it was (removed from the table), or
    /// nothing when it was not one. What the exit means (expected, a boot
    /// failure, an early crash, a crash) is logged and counted here; the
    /// next tick acts on it.
    std::optional<WorkerProcess> worker_exited(pid_t pid, ExitStatus status, double now);
    /// A zygote forked the worker asked for in slot.
    void worker_forked(uint32_t slot, pid_t pid, pid_t zygote);
    /// A zygote could not fork the worker asked for in slot.
    void worker_not_forked(uint32_t slot);
    /// A generation's zygote ended; imported: after it had imported the app.
    void zygote_exited(pid_t pid, uint32_t generation, bool imported, ExitStatus status, double now);

    // ---- what the shell and metrics read
    MasterState state() const { return state_; }
    /// Stopping or quitting, and no worker left.
    bool finished() const;
    const Config& config() const { return config_; }
    uint32_t generation() const { return generation_; }
    uint32_t target() const { return target_; }
    const ProcessTable& table() const { return table_; }
    const ReloadRecord& reload() const { return reload_; }
    const PoolCounters& counters() const { return counters_; }
    const CrashBackoff& backoff() const { return backoff_; }
    /// Told to drain and not told to stop: /healthz fails on purpose. Only
    /// the health answer changes; a reload keeps it, a restart clears it.
    bool draining() const { return draining_; }

private:
    struct Request {
        Intent intent;
        const char* source;
    };

    // the tick's steps
    void take_intents(double now);
    void observe(double now);
    void enforce_limits(double now);
    void advance_reload(double now);
    void retire_replaced(double now);
    void reconcile(double now);
    void finish_stop();
    void publish_status();

    // intents (pool.cpp, pool_reload.cpp)
    void begin_reload(double now);
    void complete_reload(double now);
    void roll_back(const std::string& why, double now);
    void begin_stop(const char* source, double now);
    void quit(const char* source, double now);
    void reopen_logs(const char* source);
    void change_target(int delta, const char* source, double now);
    void set_draining(bool on, const char* source);
    bool enter(MasterState next);

    // one worker (pool_workers.cpp)
    std::optional<uint32_t> spawn(double now);
    void retire(WorkerProcess& worker, StopReason why, double now);
    void stop(WorkerProcess& worker, StopReason why, double now);
    void kill(WorkerProcess& worker, StopReason why, double now);
    void escalate(WorkerProcess& worker, double now);
    void apply_limits(WorkerProcess& worker, bool read_rss, double now);
    /// Another serving worker's slot says idle.
    bool another_idle(const WorkerProcess& worker) const;
    void signal(const WorkerProcess& worker, int sig);
    /// The signal a worker's phase and reason ask for.
    static int phase_signal(const WorkerProcess& worker);
    void backoff_failure(double now);
    void count_restart(StopReason reason);
    PoolCounts count_pool() const;
    std::string name(const WorkerProcess& worker) const;

    template <typename... Args>
    void info(const Args&... args)
    {
        effects_.log(LogLevel::info, cat(args...));
    }
    template <typename... Args>
    void warning(const Args&... args)
    {
        effects_.log(LogLevel::warning, cat(args...));
    }
    template <typename... Args>
    void error(const Args&... args)
    {
        effects_.log(LogLevel::error, cat(args...));
    }

    PoolEffects& effects_;
    const PoolReadings& readings_;
    Config config_;
    Config previous_config_;  ///< what a failed reload rolls back to
    ProcessTable table_;
    CrashBackoff backoff_;
    std::mt19937_64 random_;

    MasterState state_ = MasterState::running;
    uint32_t generation_ = 1;
    uint32_t target_ = 0;
    ReloadRecord reload_;
    std::vector<Request> intents_;
    PoolCounters counters_;

    double observed_at_ = 0;      ///< the previous observe(): proofs are edges between two
    double rss_due_ = 0;          ///< RSS is read from /proc once a second, not every tick
    bool announced_ready_ = false;
    bool draining_ = false;
    bool status_changed_ = false; ///< STATUS= goes out once, at the end of the tick
};

} // namespace drover

// The master: a libevent loop that owns the listeners, the scoreboard and the
// process table, and reads like its tick: reap -> observe -> enforce limits
// -> advance a reload -> retire replaced workers -> reconcile the worker
// count. Callbacks only record facts; the master never sleeps and never runs
// application code.
#pragma once

#include <event2/event.h>

#include <array>
#include <map>
#include <set>
#include <memory>
#include <random>
#include <vector>

#include "base/event.hpp"
#include "ipc/scoreboard.hpp"
#include "ipc/slot.hpp"
#include "metrics/pool_state.hpp"
#include "supervisor/config.hpp"
#include "supervisor/connection_park.hpp"
#include "supervisor/listeners.hpp"
#include "supervisor/process_table.hpp"
#include "supervisor/restart_policy.hpp"
#include "supervisor/scaling.hpp"
#include "supervisor/signals.hpp"
#include "supervisor/zygote.hpp"

namespace drover {

class MetricsServer;

class Master final : public PoolStateSource {
public:
    /// cmd is kept to re-read the configuration on SIGHUP.
    Master(CommandLine cmd, Config config, std::vector<Listener> listeners);
    ~Master() override;
    Master(const Master&) = delete;
    Master& operator=(const Master&) = delete;

    /// Runs until a stop completes; returns the process exit status.
    int run();

    PoolState pool_state() const override;

private:
    enum class State { running, stopping, quitting };

    // the tick, in order (master.cpp)
    void tick();
    void reap();
    void observe_workers();
    void enforce_limits();
    void retire_replaced();
    void reconcile_worker_count();
    void finish_stop_if_done();

    void on_worker_exit(const WorkerProcess& worker, int status);
    /// Spawns one worker of the current generation (through the zygote when
    /// preloading); its slot, or nothing.
    std::optional<uint32_t> spawn_worker_now();
    WorkerSpec worker_spec(uint32_t slot) const;
    void stop_worker(WorkerProcess& worker, StopReason reason);
    /// The signal that asks for the stop a worker is in.
    static int stop_signal(const WorkerProcess& worker);
    /// kill() that never reaches pid 0 (a worker a zygote is still forking).
    static void signal_worker(const WorkerProcess& worker, int sig);
    // preloading (master.cpp)
    Zygote* zygote_for_current_generation();
    void on_zygote_message(Zygote& zygote, const ZygoteMessage& message);
    bool reap_zygote(pid_t pid, int status);
    void retire_zygotes(uint32_t keep_generation);
    PoolCounts count_pool() const;
    bool listen_queue_waiting() const;

    // generations and stopping (lifecycle.cpp)
    void reload();
    void advance_reload();
    void rollback_reload(const std::string& why);
    void graceful_stop(const char* why);
    void immediate_stop();
    void reopen_logs();
    void change_target(int delta);
    void notify_status() const;

    double now() const;

    CommandLine cmd_;
    Config config_;
    Config previous_config_;  ///< what a failed reload rolls back to
    std::vector<Listener> listeners_;
    Scoreboard scoreboard_;
    ProcessTable table_;
    CounterTotals retired_;
    CrashBackoff backoff_;
    std::mt19937_64 random_{std::random_device{}()};
    MonotonicClock clock_;

    EventBasePtr base_;
    EventPtr tick_event_;
    std::unique_ptr<SignalEvents> signals_;
    std::unique_ptr<MetricsServer> metrics_;
    std::unique_ptr<ConnectionPark> park_;
    std::map<uint32_t, std::unique_ptr<Zygote>> zygotes_;  ///< by generation
    std::set<pid_t> retired_zygotes_;                      ///< asked to exit, not yet reaped

    State state_ = State::running;
    double stop_deadline_ = 0;
    double start_time_unix_ = 0;
    uint32_t generation_ = 1;
    uint32_t target_ = 0;
    uint64_t ticks_ = 0;
    bool announced_ready_ = false;

    struct Reload {
        bool active = false;
        bool pending = false;        ///< a SIGHUP came during a reload: run it next
        uint32_t old_generation = 0;
        uint32_t old_target = 0;
        double started_at = 0;
        uint32_t boot_failures = 0;  ///< new-generation workers that died before ready
    } reload_;

    // counters for metrics
    std::array<uint64_t, kRestartReasons.size()> restarts_{};
    uint64_t reloads_ok_ = 0;
    uint64_t reloads_failed_ = 0;
    uint64_t slow_requests_ = 0;
    uint64_t timeouts_ = 0;
    uint64_t max_reached_ = 0;
};

} // namespace drover

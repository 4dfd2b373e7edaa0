// The master: the thin shell that runs the pool (pool.hpp) on a libevent
// loop. It owns what the pool must not: the listeners, the scoreboard, the
// signal events, the tick timer, the metrics server, the connection park and
// the preloading zygotes; and it carries out the pool's effects with fork,
// kill, waitpid and sd_notify. Signal callbacks only queue an intent and
// wake the tick; the tick reaps and then lets the pool act. The master never
// sleeps and never runs application code.
#pragma once

#include <event2/event.h>

#include <map>
#include <memory>
#include <set>
#include <vector>

#include "base/clock.hpp"
#include "base/event.hpp"
#include "ipc/scoreboard.hpp"
#include "ipc/slot.hpp"
#include "metrics/pool_control.hpp"
#include "metrics/pool_state.hpp"
#include "supervisor/config.hpp"
#include "supervisor/connection_park.hpp"
#include "supervisor/listeners.hpp"
#include "supervisor/pool.hpp"
#include "supervisor/signals.hpp"
#include "supervisor/zygote.hpp"

namespace drover {

class MetricsServer;

class Master final : public PoolStateSource, public PoolControl, private PoolEffects, private PoolReadings {
public:
    /// cmd is kept to re-read the configuration on SIGHUP.
    Master(CommandLine cmd, Config config, std::vector<Listener> listeners);
    ~Master() override;
    Master(const Master&) = delete;
    Master& operator=(const Master&) = delete;

    /// Runs until a stop completes; returns the process exit status.
    int run();

    PoolState pool_state() const override;
    /// POST and DELETE /drain: queued as an intent, like a signal.
    bool request_drain(bool drain, const char* source) override;

private:
    // the loop (master.cpp)
    void tick();
    /// waitpid() until nothing is left to reap; each exit goes to the pool.
    void reap(double now);
    /// A signal's callback: the intent waits for the tick, which runs now.
    void on_signal(Intent intent, const char* source);
    void wake();

    // PoolEffects (master_effects.cpp)
    SpawnResult spawn(uint32_t slot, uint32_t generation, const Config& config) override;
    void signal(pid_t pid, int sig) override;
    void ask_for_connections(pid_t pid) override;
    void announce(Announcement what) override;
    void status(const std::string& text) override;
    std::optional<Config> load_config(const Config& running) override;
    void retire_zygotes(uint32_t keep_generation) override;
    void close_parked_connections() override;
    void reopen_log() override;
    void log(LogLevel level, const std::string& message) override;

    // PoolReadings (master_effects.cpp)
    WorkerReading slot(uint32_t slot) const override;
    uint64_t rss_mib(pid_t pid) const override;
    bool connection_waiting() const override;

    // preloading (master_effects.cpp)
    WorkerSpec worker_spec(uint32_t slot, uint32_t generation, const Config& config) const;
    Zygote* zygote_for(uint32_t generation, const Config& config);
    void on_zygote_message(Zygote& zygote, const ZygoteMessage& message);
    /// true when pid was a zygote (and the pool heard of it).
    bool reap_zygote(pid_t pid, int status, double now);

    CommandLine cmd_;
    std::vector<Listener> listeners_;
    Scoreboard scoreboard_;
    CounterTotals retired_;  ///< counters of reaped workers, for metrics
    MonotonicClock clock_;
    Pool pool_;
    double start_time_unix_ = 0;

    EventBasePtr base_;
    double watchdog_every_ = 0;  ///< seconds between WATCHDOG=1; 0 without systemd's watchdog
    double watchdog_sent_ = 0;
    EventPtr tick_event_;
    std::unique_ptr<SignalEvents> signals_;
    std::unique_ptr<MetricsServer> metrics_;
    std::unique_ptr<ConnectionPark> park_;
    std::map<uint32_t, std::unique_ptr<Zygote>> zygotes_;  ///< by generation
    std::set<pid_t> retired_zygotes_;                      ///< asked to exit, not yet reaped
};

} // namespace drover

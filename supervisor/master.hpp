// The master: a libevent loop that owns the listeners, the scoreboard and the
// process table, and reads like its tick: reap -> observe -> enforce limits
// -> reconcile the worker count. Callbacks only record facts; the master
// never sleeps and never runs application code.
#pragma once

#include <event2/event.h>

#include <memory>
#include <vector>

#include "ipc/scoreboard.hpp"
#include "ipc/slot.hpp"
#include "supervisor/config.hpp"
#include "supervisor/listeners.hpp"
#include "supervisor/process_table.hpp"
#include "supervisor/restart_policy.hpp"
#include "supervisor/signals.hpp"

namespace drover {

class Master {
public:
    Master(Config config, std::vector<Listener> listeners);
    ~Master();
    Master(const Master&) = delete;
    Master& operator=(const Master&) = delete;

    /// Runs until a stop completes; returns the process exit status.
    int run();

private:
    enum class State { running, stopping, quitting };

    void tick();
    void reap();
    void observe_workers();
    void enforce_limits();
    void reconcile_worker_count();
    void finish_stop_if_done();

    void spawn_worker_now();
    void on_worker_exit(const WorkerProcess& worker, int status);
    void stop_worker(WorkerProcess& worker, StopReason reason);

    void graceful_stop(const char* why);
    void immediate_stop();
    void reopen_logs();
    void change_target(int delta);

    double now() const;
    uint32_t target_workers() const { return target_; }

    Config config_;
    std::vector<Listener> listeners_;
    Scoreboard scoreboard_;
    ProcessTable table_;
    RetiredTotals retired_;
    CrashBackoff backoff_;

    std::unique_ptr<event_base, void (*)(event_base*)> base_;
    std::unique_ptr<event, void (*)(event*)> tick_event_;
    std::unique_ptr<SignalEvents> signals_;

    State state_ = State::running;
    double stop_deadline_ = 0;
    uint32_t generation_ = 1;
    uint32_t target_ = 0;
};

} // namespace drover

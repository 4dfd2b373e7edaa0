// The master's table of its worker processes and of the scoreboard slots
// they occupy.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace drover {

/// Why the master asked a worker to go (or why it went).
enum class StopReason { none, crash, timeout, max_requests, max_rss, max_lifetime, reload, scale_down, shutdown };
const char* stop_reason_name(StopReason reason);

struct WorkerProcess {
    pid_t pid = 0;               ///< 0 until a preloading zygote reports it
    uint32_t slot = 0;
    uint32_t generation = 0;
    double spawned_at = 0;       ///< monotonic seconds
    bool ready = false;          ///< has reported idle/busy in its slot once
    double ready_at = 0;         ///< when the master saw it ready (monotonic)
    /// Served a request, or stayed up kEarlyCrashSeconds after it was ready:
    /// its app is not crash-looping.
    bool proven = false;
    StopReason stop_reason = StopReason::none;
    double stop_sent_at = 0;     ///< when SIGTERM went out; 0 if not asked to stop
    bool killed = false;         ///< SIGKILL sent
    /// Set when the worker is to be replaced (recycling, reload, scale-down):
    /// it keeps serving until its replacement is ready, then gets SIGTERM.
    StopReason retire_reason = StopReason::none;
    std::optional<uint32_t> replacement;  ///< slot of the worker spawned to take over a recycled one
    uint64_t request_limit = 0;      ///< max_requests with this worker's jitter; 0: none
    uint64_t slow_logged_seq = 0;    ///< the request whose slowness was logged
    double timeout_dump_at = 0;      ///< when the timeout traceback was asked for
    double last_active = 0;          ///< last tick it was seen busy (for idle_timeout)
    uint64_t last_served = 0;

    bool stopping() const { return stop_reason != StopReason::none; }
};

class ProcessTable {
public:
    explicit ProcessTable(uint32_t slot_count);

    /// A free scoreboard slot, or nothing when all are taken.
    std::optional<uint32_t> take_slot();
    /// Gives back a slot taken for a worker that was never added.
    void release_slot(uint32_t slot) { slot_used_[slot] = false; }
    void add(const WorkerProcess& worker);
    /// pid 0 is a worker a zygote is still forking: find it by slot.
    WorkerProcess* find(pid_t pid);
    WorkerProcess* find_slot(uint32_t slot);
    std::optional<WorkerProcess> remove_slot(uint32_t slot);
    /// Removes the worker and frees its slot.
    std::optional<WorkerProcess> remove(pid_t pid);

    std::vector<WorkerProcess>& workers() { return workers_; }
    const std::vector<WorkerProcess>& workers() const { return workers_; }
    bool empty() const { return workers_.empty(); }
    size_t size() const { return workers_.size(); }
    /// Workers of this generation that are neither stopping nor retiring.
    uint32_t serving(uint32_t generation) const;

private:
    std::vector<WorkerProcess> workers_;
    std::vector<bool> slot_used_;
};

} // namespace drover

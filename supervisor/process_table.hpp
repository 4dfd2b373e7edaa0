// The master's table of its worker processes, the scoreboard slots they
// occupy, and the questions the pool asks of them.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "supervisor/lifecycle.hpp"

namespace drover {

struct WorkerProcess {
    pid_t pid = 0;                ///< 0 until a preloading zygote reports it
    uint32_t slot = 0;
    uint32_t generation = 0;
    double spawned_at = 0;        ///< monotonic seconds

    WorkerPhase phase = WorkerPhase::starting;
    StopReason why = StopReason::none;  ///< why it retires, stops or was killed
    double since = 0;             ///< when it entered its phase
    double deadline = 0;          ///< stopping: SIGKILL if still there at this time

    /// When the master first saw its slot say idle or busy. A worker can be
    /// asked to stop before that (and be seen ready while it stops), so this
    /// is kept apart from the phase.
    std::optional<double> ready_at;
    /// The worker spawned to take over a recycled one (its slot).
    std::optional<uint32_t> replacement;
    uint64_t request_limit = 0;   ///< max_requests with this worker's jitter; 0: none
    uint64_t slow_logged_seq = 0; ///< the request whose slowness was logged
    uint64_t handoff_asked_seq = 0; ///< the request during which its kept connections were asked for
    double last_active = 0;       ///< last time it was seen busy or serving (idle_timeout)
    uint64_t last_served = 0;     ///< requests served, as last read

    bool ready() const { return ready_at.has_value(); }
    /// Its stop signal (or SIGKILL) went out.
    bool stopping() const { return phase == WorkerPhase::stopping || phase == WorkerPhase::killed; }
    /// Counts toward the pool's target: neither retiring nor stopping.
    bool active() const { return phase == WorkerPhase::starting || phase == WorkerPhase::serving; }
    /// Has shown that its app runs: served a request, or stayed up
    /// kEarlyCrashSeconds after it was ready.
    bool proven(double now) const
    {
        return ready_at && (last_served > 0 || now - *ready_at >= kEarlyCrashSeconds);
    }
    /// Moves to next for reason, if the lifecycle's order allows it (see
    /// lifecycle.hpp); in the same phase only the reason may change. since
    /// is the time of the phase change. false: nothing changed.
    bool enter(WorkerPhase next, StopReason reason, double now);
};

class ProcessTable {
public:
    using Filter = std::function<bool(const WorkerProcess&)>;

    explicit ProcessTable(uint32_t slot_count);

    uint32_t slot_count() const { return static_cast<uint32_t>(slot_used_.size()); }
    /// A free scoreboard slot, or nothing when all are taken.
    std::optional<uint32_t> take_slot();
    /// Gives back a slot taken for a worker that was never added.
    void release_slot(uint32_t slot) { slot_used_[slot] = false; }
    void add(const WorkerProcess& worker);
    /// pid 0 is a worker a zygote is still forking: find it by slot.
    WorkerProcess* find(pid_t pid);
    WorkerProcess* find_slot(uint32_t slot);
    /// Removes the worker and frees its slot.
    std::optional<WorkerProcess> remove(pid_t pid);
    std::optional<WorkerProcess> remove_slot(uint32_t slot);
    /// Removes the workers of generation that a zygote has not forked yet
    /// (pid 0); how many.
    uint32_t remove_unforked(uint32_t generation);

    std::vector<WorkerProcess>& workers() { return workers_; }
    const std::vector<WorkerProcess>& workers() const { return workers_; }
    bool empty() const { return workers_.empty(); }
    size_t size() const { return workers_.size(); }

    // ---- queries
    /// Workers of generation that count toward the target (starting or serving).
    uint32_t active(uint32_t generation) const;
    /// Workers of generation whose stop has not begun (starting, serving or
    /// retiring), and of those the ready ones: a generation is ready when
    /// these two agree.
    uint32_t staying(uint32_t generation) const;
    uint32_t ready_staying(uint32_t generation) const;
    /// Workers of generation that are starting (not ready, not asked to go).
    uint32_t starting(uint32_t generation) const;
    /// Workers of other generations than this one stopping for reason.
    uint32_t stopping_elsewhere(uint32_t generation, StopReason reason) const;
    /// Workers seen ready, of any generation and phase.
    uint32_t ready() const;
    /// The newest worker of generation that counts toward the target and
    /// passes filter (if any): the first to go when the pool shrinks.
    WorkerProcess* newest_active(uint32_t generation, const Filter& filter = {});

private:
    uint32_t count(const Filter& filter) const;

    std::vector<WorkerProcess> workers_;
    std::vector<bool> slot_used_;
};

} // namespace drover

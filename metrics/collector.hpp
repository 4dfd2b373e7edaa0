// Reading the scoreboard, the listeners and /proc into one snapshot of the
// pool, and the snapshot as Prometheus metric families (prometheus-cpp's
// data model; PoolCollector is the library's Collectable, read at scrape
// time).
//
// Counters are the sum of the live workers' slots and the retired totals the
// master folded in when it reaped a worker; the master folds a slot and drops
// the worker from PoolState::workers in the same step of its loop, so a
// counter never goes backwards across restarts and reloads. Only the slots of
// live workers are read: a reaped worker's slot keeps its old counters until
// it is reset for the next fork and must not be counted twice.
//
// A slot is written by a worker that runs application code, so every value
// is read through Scoreboard::read() and checked here again against what the
// master knows itself (its clocks, the worker's start): a value that cannot
// be true is skipped or clamped, and never used as an index.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "ipc/slot.hpp"
#include "metrics/exposition.hpp"
#include "metrics/listen_queue.hpp"
#include "metrics/pool_state.hpp"

namespace drover {

struct WorkerSnapshot {
    pid_t pid = 0;
    uint32_t slot = 0;
    uint32_t generation = 0;
    /// A live worker whose slot still says `empty` (forked, not yet running)
    /// is reported as `starting`.
    WorkerState state = WorkerState::starting;
    /// False when the slot's state word is outside WorkerState: the worker
    /// is then counted in no state, and `state` means nothing.
    bool state_known = true;
    uint64_t requests_served = 0;
    double request_seconds = 0;  ///< age of the current request; 0 when none
    bool has_proc = false;       ///< /proc/PID/stat was readable
    double cpu_seconds = 0;
    uint64_t rss_bytes = 0;
    size_t summary_size = 0;
    char summary[Slot::kSummaryBytes] = {};
};

struct ListenerSnapshot {
    const ListenerState* listener = nullptr;  ///< points into the PoolState
    ListenQueue queue;
};

struct PoolSnapshot {
    /// Counters summed over live and retired workers.
    CounterTotals totals;
    /// Live workers per WorkerState (index = the enum value); those whose
    /// slot holds no valid state are in none.
    std::array<uint32_t, kWorkerStateCount> workers_by_state{};
    std::vector<WorkerSnapshot> workers;
    std::vector<ListenerSnapshot> listeners;

    uint32_t workers_in(WorkerState state) const
    {
        auto i = static_cast<size_t>(state);
        return i < workers_by_state.size() ? workers_by_state[i] : 0;
    }
    /// Connections waiting in all listeners' accept queues (those the kernel reported).
    uint64_t listen_queue() const;
    /// The sum of the listeners' backlogs.
    uint64_t listen_backlog() const;
};

/// One pass over the live workers' slots, one read of each worker's
/// /proc/PID/stat, one query per listener. `now_monotonic_ns` (base/clock's
/// monotonic_ns(), the clock workers stamp requests with) ages the current
/// requests; `now_unix` (realtime seconds) the workers, whose age bounds
/// their request's. The snapshot points into `pool`.
PoolSnapshot take_snapshot(const PoolState& pool, uint64_t now_monotonic_ns, double now_unix);

/// PHP-FPM's "max listen queue" and "max active processes": the highest
/// values seen since the tracker was made. drover does not sample between
/// scrapes, so these are the maxima seen when /metrics or /status was read;
/// a peak that comes and goes between two scrapes is missed.
struct PoolPeaks {
    uint64_t listen_queue = 0;
    uint32_t active_processes = 0;

    void observe(const PoolSnapshot& snapshot);
};

/// Every family /metrics exports: the drover_* families, the listener
/// queues, and the standard process_* families of the calling (master)
/// process, from a snapshot already taken.
Families metric_families(const PoolState& pool, const PoolSnapshot& snapshot);
/// A fresh snapshot's families; when `peaks` is given, the snapshot is also
/// recorded there.
Families collect_families(const PoolState& pool, PoolPeaks* peaks = nullptr);
/// The whole /metrics body (collect_families(), serialized).
std::string collect_metrics(const PoolState& pool, PoolPeaks* peaks = nullptr);
/// The same for a snapshot already taken.
std::string format_metrics(const PoolState& pool, const PoolSnapshot& snapshot);

/// The pool as a prometheus-cpp Collectable: each Collect() asks the master
/// for a fresh PoolState and reads the scoreboard and /proc then. `source`
/// (and `peaks`, when given) must outlive it; Collect() is called from the
/// master's loop only.
class PoolCollector final : public prometheus::Collectable {
public:
    explicit PoolCollector(const PoolStateSource& source, PoolPeaks* peaks = nullptr)
        : source_(source), peaks_(peaks)
    {
    }
    std::vector<prometheus::MetricFamily> Collect() const override;

private:
    const PoolStateSource& source_;
    PoolPeaks* peaks_;
};

} // namespace drover

// What the master tells metrics/ about itself. metrics/ may not use
// supervisor/, so the master fills this plain struct and hands it over with
// the scoreboard; metrics/ turns both (and /proc) into metric families, the
// /healthz answer and the /status page.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "ipc/scoreboard.hpp"
#include "ipc/slot.hpp"

namespace drover {

/// Reasons a worker was replaced; the label values of drover_worker_restarts_total.
inline constexpr std::array<const char*, 7> kRestartReasons = {"crash",      "timeout",      "max_requests", "max_rss",
                                                               "max_lifetime", "reload", "scale_down"};

struct ListenerState {
    std::string name;      ///< as configured, e.g. "fastcgi://unix:/run/drover.sock"
    std::string protocol;  ///< "http", "fastcgi", "scgi"
    int fd = -1;           ///< the listening socket (read for its queue length)
    bool is_unix = false;
    uint32_t backlog = 0;  ///< the configured backlog
};

struct WorkerInfo {
    pid_t pid = 0;
    uint32_t slot = 0;
    uint32_t generation = 0;
    double started_unix = 0;  ///< wall-clock seconds
};

struct PoolState {
    double start_time_unix = 0;      ///< master start, wall-clock seconds
    uint32_t generation = 0;         ///< the current generation
    uint32_t target_workers = 0;
    uint32_t max_workers = 0;        ///< the configured limit (dynamic/ondemand), else target
    std::string pm;                  ///< "static", "dynamic", "ondemand"
    bool stopping = false;           ///< graceful stop or quit in progress
    bool crash_loop = false;         ///< workers fail to boot; spawning is backed off
    bool draining = false;           ///< told to drain (POST /drain): /healthz answers 503
    /// [metrics] healthz_max_queue: /healthz answers 503 while more
    /// connections than this wait in the listen queues; 0 is off.
    uint64_t healthz_max_queue = 0;
    double crash_backoff_seconds = 0;
    uint64_t max_workers_reached = 0;  ///< times scaling wanted more than max_workers
    std::array<uint64_t, kRestartReasons.size()> restarts{};
    uint64_t reloads_ok = 0;
    uint64_t reloads_failed = 0;
    uint64_t slow_requests = 0;
    uint64_t timeouts = 0;
    std::vector<ListenerState> listeners;
    std::vector<WorkerInfo> workers;  ///< live workers (slots in use)
    const Scoreboard* scoreboard = nullptr;
    const CounterTotals* retired = nullptr;
    std::string python_version;       ///< "3.11.2"
};

/// The master implements this; metrics/ calls it on each scrape.
class PoolStateSource {
public:
    virtual ~PoolStateSource() = default;
    virtual PoolState pool_state() const = 0;
};

} // namespace drover

// Per-worker limits the master's tick enforces, as a pure decision over what
// the master knows of a worker and what its scoreboard slot says. No clock,
// no syscalls: the caller passes the time, so the policy is unit-tested.
#pragma once

#include <cstdint>

#include "supervisor/config.hpp"
#include "supervisor/process_table.hpp"

namespace drover {

/// What the scoreboard says of one worker at this tick.
struct SlotReading {
    bool busy = false;
    double request_age = 0;       ///< seconds the current request has run (busy only)
    uint64_t request_seq = 0;     ///< which request that is
    uint64_t requests_served = 0;
    uint64_t rss_mib = 0;         ///< 0 when not read this tick
};

enum class LimitAction {
    none,
    log_slow,          ///< log the request and its traceback; keep running
    timeout,           ///< dump the traceback, then kill and replace
    recycle,           ///< replace gracefully (reason says why)
};

struct LimitDecision {
    LimitAction action = LimitAction::none;
    StopReason reason = StopReason::none;
};

/// The request limit for one worker: max_requests plus a jitter drawn once
/// per worker (so a pool does not recycle all at once). random is uniform in [0, 1).
uint64_t request_limit_for(const Config& config, double random);

/// Decides what to do with one ready worker, not killed nor timed out yet,
/// at time now (monotonic seconds). A request timeout applies in every such
/// phase (a stopping worker stuck in a request is killed at the timeout, not
/// at graceful_timeout); recycling only to a serving worker.
LimitDecision check_limits(const Config& config, const WorkerProcess& worker, const SlotReading& slot, double now);

} // namespace drover

// How many workers to start or retire this tick, per process manager mode
// (PHP-FPM's static, dynamic and ondemand), as a pure decision.
#pragma once

#include <cstdint>

#include "supervisor/config.hpp"

namespace drover {

/// The current generation's workers as the scoreboard shows them.
struct PoolCounts {
    uint32_t serving = 0;   ///< not stopping, not retiring
    uint32_t starting = 0;  ///< of those, not ready yet
    uint32_t idle = 0;
    uint32_t busy = 0;
};

struct ScalingDecision {
    uint32_t spawn = 0;
    uint32_t retire_idle = 0;     ///< retire this many idle workers (scale_down)
    bool max_reached = false;     ///< more were wanted than max_workers allows
};

/// target: static pool size (static) or the ceiling (dynamic, ondemand;
/// SIGTTIN/SIGTTOU move it). queue_waiting: a listener has connections no
/// worker has accepted yet.
ScalingDecision decide_scaling(const Config& config, uint32_t target, const PoolCounts& counts, bool queue_waiting);

/// The target a pool starts with.
uint32_t initial_target(const Config& config);

} // namespace drover

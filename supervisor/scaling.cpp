#include "supervisor/scaling.hpp"

#include <algorithm>

namespace drover {

uint32_t initial_target(const Config& config)
{
    return config.pm == ProcessManager::static_pool ? config.workers : config.max_workers;
}

ScalingDecision decide_scaling(const Config& config, uint32_t target, const PoolCounts& c, bool queue_waiting)
{
    ScalingDecision d;
    switch (config.pm) {
    case ProcessManager::static_pool:
        if (c.serving < target)
            d.spawn = target - c.serving;
        break;

    case ProcessManager::dynamic_pool: {
        uint32_t floor = std::min(config.workers, target);
        uint32_t spare = c.idle + c.starting;
        uint32_t want = 0;
        if (c.serving < floor)
            want = floor - c.serving;
        if (spare + want < config.min_spare)
            want = config.min_spare - spare;
        uint32_t room = target > c.serving ? target - c.serving : 0;
        d.spawn = std::min(want, room);
        d.max_reached = want > room;
        if (d.spawn == 0 && c.idle > config.max_spare && c.serving > floor)
            d.retire_idle = 1;  // one a tick: shrink gently, as PHP-FPM does once a second
        break;
    }

    case ProcessManager::ondemand:
        if (queue_waiting && c.idle + c.starting == 0) {
            if (c.serving < target)
                d.spawn = 1;
            else
                d.max_reached = true;
        }
        break;
    }
    return d;
}

} // namespace drover

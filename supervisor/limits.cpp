#include "supervisor/limits.hpp"

namespace drover {

uint64_t request_limit_for(const Config& config, double random)
{
    if (config.max_requests == 0)
        return 0;
    return config.max_requests + static_cast<uint64_t>(random * static_cast<double>(config.max_requests_jitter + 1));
}

LimitDecision check_limits(const Config& config, const WorkerProcess& w, const SlotReading& slot, double now)
{
    if (slot.busy && config.timeout > 0 && slot.request_age > config.timeout)
        return {LimitAction::timeout, StopReason::timeout};
    if (slot.busy && config.slow_request_timeout > 0 && slot.request_age > config.slow_request_timeout &&
        w.slow_logged_seq != slot.request_seq)
        return {LimitAction::log_slow, StopReason::none};
    if (w.phase != WorkerPhase::serving)
        return {};  // already being replaced, or going
    if (w.request_limit > 0 && slot.requests_served >= w.request_limit)
        return {LimitAction::recycle, StopReason::max_requests};
    if (config.max_rss_mib > 0 && slot.rss_mib > config.max_rss_mib)
        return {LimitAction::recycle, StopReason::max_rss};
    if (config.max_lifetime > 0 && now - w.spawned_at > config.max_lifetime)
        return {LimitAction::recycle, StopReason::max_lifetime};
    return {};
}

} // namespace drover

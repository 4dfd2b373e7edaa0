// The /status page (PHP-FPM's status page, as JSON) and the /healthz answer.
#pragma once

#include <string>
#include <string_view>

#include "metrics/collector.hpp"
#include "metrics/pool_state.hpp"

namespace drover {

/// The /status body:
///   {"pool": {"start_time", "start_since", "accepted_conn", "listen_queue",
///             "max_listen_queue", "listen_queue_len", "idle_processes",
///             "active_processes", "total_processes", "max_active_processes",
///             "max_children_reached", "slow_requests", "generation", "pm",
///             "draining"},
///    "workers": [{"pid", "slot", "generation", "state", "requests",
///                 "request_duration", "request", "rss", "cpu"}]}
/// Times are seconds (start_time a unix time), rss bytes. The max_* fields
/// come from `peaks` (see PoolPeaks: maxima seen at scrapes), which this call
/// also updates; without it they are this call's own values.
std::string status_json(const PoolState& pool, PoolPeaks* peaks = nullptr);
/// The same with the clocks given (CLOCK_REALTIME and CLOCK_MONOTONIC), for tests.
std::string status_json(const PoolState& pool, const PoolSnapshot& snapshot, const PoolPeaks& peaks, double now_unix);

/// Appends `text` as a JSON string literal. Request summaries carry
/// client-controlled bytes: control bytes, DEL and every byte >= 0x80 become
/// \u00XX, so the page is plain ASCII and valid JSON whatever the bytes.
void append_json_string(std::string& out, std::string_view text);

struct HealthAnswer {
    int status = 200;  ///< 200 or 503
    std::string body;  ///< one line, ending in '\n'
};

/// 200 while the pool can serve: at least one live worker is idle or busy,
/// the master is neither stopping nor backing off a crash loop nor told to
/// drain, and (with healthz_max_queue) no more connections than that wait
/// in the listen queues. Otherwise 503 with the reason.
HealthAnswer health(const PoolState& pool);

} // namespace drover

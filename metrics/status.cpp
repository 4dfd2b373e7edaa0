#include "metrics/status.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include "base/clock.hpp"
#include "base/log.hpp"
#include "metrics/listen_queue.hpp"

namespace drover {

namespace {

void append_uint(std::string& out, uint64_t v)
{
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

void append_int(std::string& out, int64_t v)
{
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

/// A JSON number; JSON has no NaN or infinity, so those become null.
void append_double(std::string& out, double v)
{
    if (!std::isfinite(v)) {
        out.append("null");
        return;
    }
    if (v == 0) {
        out.push_back('0');
        return;
    }
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

/// Writes `"key": ` with the separator a JSON object needs before it.
class JsonObject {
public:
    explicit JsonObject(std::string& out) : out_(out) { out_.push_back('{'); }
    std::string& key(std::string_view k)
    {
        if (!first_)
            out_.append(", ");
        first_ = false;
        append_json_string(out_, k);
        out_.append(": ");
        return out_;
    }
    void close() { out_.push_back('}'); }

private:
    std::string& out_;
    bool first_ = true;
};

void append_worker(std::string& out, const WorkerSnapshot& ws)
{
    JsonObject o(out);
    append_int(o.key("pid"), ws.pid);
    append_uint(o.key("slot"), ws.slot);
    append_uint(o.key("generation"), ws.generation);
    // A state word outside the enum is shown as what it is: unknown.
    append_json_string(o.key("state"), ws.state_known ? worker_state_name(ws.state) : "unknown");
    append_uint(o.key("requests"), ws.requests_served);
    append_double(o.key("request_duration"), ws.request_seconds);
    append_json_string(o.key("request"), std::string_view(ws.summary, ws.summary_size));
    // A worker whose /proc entry is gone (exiting) has no rss or cpu to tell.
    if (ws.has_proc) {
        append_uint(o.key("rss"), ws.rss_bytes);
        append_double(o.key("cpu"), ws.cpu_seconds);
    } else {
        o.key("rss").append("null");
        o.key("cpu").append("null");
    }
    o.close();
}

} // namespace

void append_json_string(std::string& out, std::string_view text)
{
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        switch (c) {
        case '"': out.append("\\\""); continue;
        case '\\': out.append("\\\\"); continue;
        case '\n': out.append("\\n"); continue;
        case '\r': out.append("\\r"); continue;
        case '\t': out.append("\\t"); continue;
        default: break;
        }
        if (byte < 0x20 || byte >= 0x7f) {
            out.append("\\u00");
            out.push_back(kHex[byte >> 4]);
            out.push_back(kHex[byte & 0xf]);
        } else {
            out.push_back(c);
        }
    }
    out.push_back('"');
}

std::string status_json(const PoolState& pool, const PoolSnapshot& snap, const PoolPeaks& peaks, double now_unix)
{
    std::string out;
    out.reserve(1024 + 256 * snap.workers.size());
    JsonObject root(out);
    {
        JsonObject p(root.key("pool"));
        append_int(p.key("start_time"), static_cast<int64_t>(pool.start_time_unix));
        double since = now_unix - pool.start_time_unix;
        append_int(p.key("start_since"), since > 0 ? static_cast<int64_t>(since) : 0);
        append_uint(p.key("accepted_conn"), snap.totals.accepted_connections);
        append_uint(p.key("listen_queue"), snap.listen_queue());
        append_uint(p.key("max_listen_queue"), std::max(peaks.listen_queue, snap.listen_queue()));
        append_uint(p.key("listen_queue_len"), snap.listen_backlog());
        append_uint(p.key("idle_processes"), snap.workers_in(WorkerState::idle));
        append_uint(p.key("active_processes"), snap.workers_in(WorkerState::busy));
        append_uint(p.key("total_processes"), snap.workers.size());
        append_uint(p.key("max_active_processes"),
                    std::max(peaks.active_processes, snap.workers_in(WorkerState::busy)));
        append_uint(p.key("max_children_reached"), pool.max_workers_reached);
        append_uint(p.key("slow_requests"), pool.slow_requests);
        append_uint(p.key("generation"), pool.generation);
        append_json_string(p.key("pm"), pool.pm);
        p.key("draining").append(pool.draining ? "true" : "false");
        p.close();
    }
    std::string& workers = root.key("workers");
    workers.push_back('[');
    for (size_t i = 0; i < snap.workers.size(); ++i) {
        if (i != 0)
            workers.append(", ");
        append_worker(workers, snap.workers[i]);
    }
    workers.push_back(']');
    root.close();
    out.push_back('\n');
    return out;
}

std::string status_json(const PoolState& pool, PoolPeaks* peaks)
{
    double now_unix = static_cast<double>(realtime_ns()) / 1e9;
    PoolSnapshot snap = take_snapshot(pool, monotonic_ns(), now_unix);
    PoolPeaks local;
    PoolPeaks& tracked = peaks != nullptr ? *peaks : local;
    tracked.observe(snap);
    return status_json(pool, snap, tracked, now_unix);
}

HealthAnswer health(const PoolState& pool)
{
    if (pool.stopping)
        return {503, "stopping: shutdown in progress\n"};
    if (pool.crash_loop)
        return {503, cat("crash loop: workers fail to boot; next spawn in ", pool.crash_backoff_seconds, "s\n")};
    if (pool.draining)
        return {503, "draining: requests are still served; DELETE /drain ends it\n"};

    uint32_t serving = 0, starting = 0, stopping = 0;
    const uint32_t slot_count = pool.scoreboard != nullptr ? pool.scoreboard->slot_count() : 0;
    for (const WorkerInfo& info : pool.workers) {
        if (info.slot >= slot_count)
            continue;
        // A state word outside the enum counts as nothing: not ready.
        std::optional<WorkerState> state = pool.scoreboard->slot(info.slot).checked_state();
        if (!state)
            continue;
        switch (*state) {
        case WorkerState::idle:
        case WorkerState::busy: ++serving; break;
        case WorkerState::empty:
        case WorkerState::starting: ++starting; break;
        case WorkerState::stopping: ++stopping; break;
        }
    }
    if (serving > 0) {
        // Read only when asked for: one getsockopt (or netlink query) per
        // listener, on every health check.
        if (pool.healthz_max_queue > 0) {
            uint64_t queued = 0;
            for (const ListenerState& listener : pool.listeners) {
                ListenQueue q = read_listen_queue(listener);
                queued += q.has_length ? q.length : 0;
            }
            if (queued > pool.healthz_max_queue)
                return {503, cat("saturated: ", queued, " connections wait in the listen queues (healthz_max_queue ",
                                 pool.healthz_max_queue, "); ", serving, " workers ready\n")};
        }
        return {200, cat("ok: ", serving, " workers ready\n")};
    }
    if (pool.workers.empty())
        return {503, "no workers\n"};
    return {503, cat("no worker ready: ", starting, " starting, ", stopping, " stopping\n")};
}

} // namespace drover

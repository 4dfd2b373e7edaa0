#include "metrics/collector.hpp"

#include <time.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string_view>

#include "base/clock.hpp"
#include "metrics/exposition.hpp"
#include "metrics/proc_stat.hpp"

#ifndef DROVER_VERSION
#define DROVER_VERSION "unknown"
#endif

namespace drover {

namespace {

/// A number as label text, in a caller-provided buffer: no allocation.
std::string_view number_label(char (&buf)[24], uint64_t value)
{
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    return std::string_view(buf, static_cast<size_t>(r.ptr - buf));
}

constexpr std::array<const char*, kStatusClasses> kStatusClassNames = {"1xx", "2xx", "3xx", "4xx", "5xx"};
constexpr std::array<WorkerState, 4> kExportedStates = {WorkerState::starting, WorkerState::idle, WorkerState::busy,
                                                        WorkerState::stopping};

void write_requests(ExpositionWriter& w, const PoolSnapshot& snap)
{
    w.family("drover_requests_total", MetricType::counter, "Requests answered, by protocol and status class.");
    for (size_t p = 0; p < kProtocolCount; ++p) {
        const char* proto = protocol_name(static_cast<Protocol>(p));
        for (size_t c = 0; c < kStatusClasses; ++c)
            w.sample("drover_requests_total", {{"protocol", proto}, {"status_class", kStatusClassNames[c]}},
                     snap.totals.protocols[p].requests_by_class[c]);
    }

    w.family("drover_request_duration_seconds", MetricType::histogram,
             "Time from the request head to the last byte of the response, by protocol.");
    for (size_t p = 0; p < kProtocolCount; ++p) {
        const CounterTotals::Protocol& t = snap.totals.protocols[p];
        w.histogram("drover_request_duration_seconds", {{"protocol", protocol_name(static_cast<Protocol>(p))}},
                    kDurationBounds, t.duration_buckets, static_cast<double>(t.duration_us_sum) / 1e6);
    }

    w.family("drover_request_bytes_total", MetricType::counter, "Bytes of request bodies read, by protocol.");
    for (size_t p = 0; p < kProtocolCount; ++p)
        w.sample("drover_request_bytes_total", {{"protocol", protocol_name(static_cast<Protocol>(p))}},
                 snap.totals.protocols[p].request_bytes);

    w.family("drover_response_bytes_total", MetricType::counter, "Bytes of responses written, by protocol.");
    for (size_t p = 0; p < kProtocolCount; ++p)
        w.sample("drover_response_bytes_total", {{"protocol", protocol_name(static_cast<Protocol>(p))}},
                 snap.totals.protocols[p].response_bytes);

    w.family("drover_requests_in_flight", MetricType::gauge, "Requests being handled now (workers in state busy).");
    w.sample("drover_requests_in_flight", {}, snap.workers_in(WorkerState::busy));

    w.family("drover_accepted_connections_total", MetricType::counter, "Connections accepted by workers.");
    w.sample("drover_accepted_connections_total", {}, snap.totals.accepted_connections);
}

void write_workers(ExpositionWriter& w, const PoolState& pool, const PoolSnapshot& snap)
{
    w.family("drover_workers", MetricType::gauge, "Live worker processes, by state.");
    for (WorkerState s : kExportedStates)
        w.sample("drover_workers", {{"state", worker_state_name(s)}}, snap.workers_in(s));

    w.family("drover_workers_target", MetricType::gauge, "Worker processes the master aims to keep.");
    w.sample("drover_workers_target", {}, pool.target_workers);
    w.family("drover_workers_max", MetricType::gauge, "The configured limit of worker processes.");
    w.sample("drover_workers_max", {}, pool.max_workers);

    w.family("drover_worker_restarts_total", MetricType::counter, "Workers replaced, by reason.");
    for (size_t i = 0; i < kRestartReasons.size(); ++i)
        w.sample("drover_worker_restarts_total", {{"reason", kRestartReasons[i]}}, pool.restarts[i]);

    char pid_buf[24], slot_buf[24];
    w.family("drover_worker_resident_memory_bytes", MetricType::gauge, "Resident memory of each live worker.");
    for (const WorkerSnapshot& ws : snap.workers) {
        if (ws.has_proc)
            w.sample("drover_worker_resident_memory_bytes",
                     {{"pid", number_label(pid_buf, static_cast<uint64_t>(ws.pid))},
                      {"slot", number_label(slot_buf, ws.slot)}},
                     ws.rss_bytes);
    }
    w.family("drover_worker_cpu_seconds_total", MetricType::counter, "User and system CPU time of each live worker.");
    for (const WorkerSnapshot& ws : snap.workers) {
        if (ws.has_proc)
            w.sample("drover_worker_cpu_seconds_total",
                     {{"pid", number_label(pid_buf, static_cast<uint64_t>(ws.pid))},
                      {"slot", number_label(slot_buf, ws.slot)}},
                     ws.cpu_seconds);
    }

    w.family("drover_crash_loop_backoff_seconds", MetricType::gauge,
             "Delay before the next spawn while workers fail to boot; 0 when not backing off.");
    w.sample("drover_crash_loop_backoff_seconds", {}, pool.crash_loop ? pool.crash_backoff_seconds : 0.0);

    w.family("drover_max_workers_reached_total", MetricType::counter,
             "Times scaling wanted more workers than the configured maximum.");
    w.sample("drover_max_workers_reached_total", {}, pool.max_workers_reached);
}

void write_listeners(ExpositionWriter& w, const PoolSnapshot& snap)
{
    w.family("drover_listener_queue_length", MetricType::gauge,
             "Connections waiting in a listening socket's accept queue.");
    for (const ListenerSnapshot& ls : snap.listeners) {
        if (ls.queue.has_length)
            w.sample("drover_listener_queue_length",
                     {{"listener", ls.listener->name}, {"protocol", ls.listener->protocol}}, ls.queue.length);
    }
    w.family("drover_listener_backlog", MetricType::gauge, "Maximum length of a listening socket's accept queue.");
    for (const ListenerSnapshot& ls : snap.listeners)
        w.sample("drover_listener_backlog", {{"listener", ls.listener->name}, {"protocol", ls.listener->protocol}},
                 ls.queue.backlog);
}

void write_master(ExpositionWriter& w, const PoolState& pool)
{
    w.family("drover_reloads_total", MetricType::counter, "Reloads (SIGHUP), by result; a failed one was rolled back.");
    w.sample("drover_reloads_total", {{"result", "success"}}, pool.reloads_ok);
    w.sample("drover_reloads_total", {{"result", "failure"}}, pool.reloads_failed);

    w.family("drover_generation", MetricType::gauge, "The current worker generation; each successful reload adds one.");
    w.sample("drover_generation", {}, pool.generation);

    w.family("drover_slow_requests_total", MetricType::counter,
             "Requests that ran past slow_request_timeout (their traceback was logged).");
    w.sample("drover_slow_requests_total", {}, pool.slow_requests);
    w.family("drover_request_timeouts_total", MetricType::counter,
             "Requests that ran past timeout; their worker was killed and replaced.");
    w.sample("drover_request_timeouts_total", {}, pool.timeouts);

    w.family("drover_build_info", MetricType::gauge, "Always 1; the labels name the drover and Python versions.");
    w.sample("drover_build_info", {{"version", DROVER_VERSION}, {"python", pool.python_version}}, 1);
}

/// The standard process_* families that client libraries export, for the master.
void write_process(ExpositionWriter& w)
{
    ProcStat self;
    if (read_self_proc_stat(self)) {
        w.family("process_cpu_seconds_total", MetricType::counter, "Total user and system CPU time spent in seconds.");
        w.sample("process_cpu_seconds_total", {}, self.cpu_seconds());
        w.family("process_resident_memory_bytes", MetricType::gauge, "Resident memory size in bytes.");
        w.sample("process_resident_memory_bytes", {}, self.rss_bytes());
        w.family("process_virtual_memory_bytes", MetricType::gauge, "Virtual memory size in bytes.");
        w.sample("process_virtual_memory_bytes", {}, self.vsize_bytes);
        w.family("process_start_time_seconds", MetricType::gauge,
                 "Start time of the process since unix epoch in seconds.");
        w.sample("process_start_time_seconds", {}, self.start_time_unix());
    }
    int64_t open_fds = count_open_fds();
    if (open_fds >= 0) {
        w.family("process_open_fds", MetricType::gauge, "Number of open file descriptors.");
        w.sample("process_open_fds", {}, open_fds);
    }
    int64_t max_fds = max_open_fds();
    if (max_fds >= 0) {
        w.family("process_max_fds", MetricType::gauge, "Maximum number of open file descriptors.");
        w.sample("process_max_fds", {}, max_fds);
    }
}

} // namespace

uint64_t PoolSnapshot::listen_queue() const
{
    uint64_t total = 0;
    for (const ListenerSnapshot& ls : listeners)
        total += ls.queue.has_length ? ls.queue.length : 0;
    return total;
}

uint64_t PoolSnapshot::listen_backlog() const
{
    uint64_t total = 0;
    for (const ListenerSnapshot& ls : listeners)
        total += ls.queue.backlog;
    return total;
}

uint64_t monotonic_now_ns()
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

namespace {

/// The age of a worker's current request, from its slot's start time, or 0
/// when that time cannot be true: in the future, or before the worker was
/// forked (`worker_age` seconds ago, when the master knows it).
double request_age(const CheckedSlot& slot, uint64_t now_ns, double worker_age)
{
    uint64_t started = slot.request_start_ns;
    if (slot.state != WorkerState::busy || started == 0 || started >= now_ns)
        return 0;
    double age = static_cast<double>(now_ns - started) / 1e9;
    // A second of slack for the two clocks the ages come from.
    if (worker_age > 0 && age > worker_age + 1.0)
        return 0;
    return age;
}

} // namespace

PoolSnapshot take_snapshot(const PoolState& pool, uint64_t now_monotonic_ns, double now_unix)
{
    PoolSnapshot snap;
    snap.workers.reserve(pool.workers.size());
    const uint32_t slot_count = pool.scoreboard != nullptr ? pool.scoreboard->slot_count() : 0;
    for (const WorkerInfo& info : pool.workers) {
        if (info.slot >= slot_count)
            continue;  // no scoreboard, or a slot index the master got wrong: nothing to read
        CheckedSlot slot = pool.scoreboard->read(info.slot);
        snap.totals.add(slot.counters);

        WorkerSnapshot& ws = snap.workers.emplace_back();
        ws.pid = info.pid;
        ws.slot = info.slot;
        ws.generation = info.generation;
        if (slot.state) {
            ws.state = *slot.state == WorkerState::empty ? WorkerState::starting : *slot.state;
            snap.workers_by_state[static_cast<size_t>(ws.state)] += 1;
        } else {
            ws.state_known = false;
        }
        ws.requests_served = slot.counters.requests_served;
        double worker_age = info.started_unix > 0 ? now_unix - info.started_unix : 0;
        ws.request_seconds = request_age(slot, now_monotonic_ns, worker_age);
        ws.summary_size = slot.summary_size;
        std::memcpy(ws.summary, slot.summary, sizeof ws.summary);

        ProcStat stat;
        if (info.pid > 0 && read_proc_stat(info.pid, stat)) {
            ws.has_proc = true;
            ws.cpu_seconds = stat.cpu_seconds();
            ws.rss_bytes = stat.rss_bytes();
        }
    }
    if (pool.retired != nullptr)
        snap.totals.add(*pool.retired);

    snap.listeners.reserve(pool.listeners.size());
    for (const ListenerState& listener : pool.listeners)
        snap.listeners.push_back(ListenerSnapshot{&listener, read_listen_queue(listener)});
    return snap;
}

void PoolPeaks::observe(const PoolSnapshot& snapshot)
{
    listen_queue = std::max(listen_queue, snapshot.listen_queue());
    active_processes = std::max(active_processes, snapshot.workers_in(WorkerState::busy));
}

std::string format_metrics(const PoolState& pool, const PoolSnapshot& snapshot)
{
    std::string out;
    // About 9 KB of fixed families and 200 bytes per worker: one allocation.
    out.reserve(12288 + 256 * snapshot.workers.size() + 256 * snapshot.listeners.size());
    ExpositionWriter w(out);
    write_requests(w, snapshot);
    write_workers(w, pool, snapshot);
    write_listeners(w, snapshot);
    write_master(w, pool);
    write_process(w);
    return out;
}

std::string collect_metrics(const PoolState& pool, PoolPeaks* peaks)
{
    PoolSnapshot snapshot = take_snapshot(pool, monotonic_now_ns(), static_cast<double>(realtime_ns()) / 1e9);
    if (peaks != nullptr)
        peaks->observe(snapshot);
    return format_metrics(pool, snapshot);
}

} // namespace drover

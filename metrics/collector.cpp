#include "metrics/collector.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "base/clock.hpp"
#include "metrics/exposition.hpp"
#include "metrics/proc_stat.hpp"

#ifndef DROVER_VERSION
#define DROVER_VERSION "unknown"
#endif

namespace drover {

namespace {

using prometheus::MetricType;

constexpr std::array<const char*, kStatusClasses> kStatusClassNames = {"1xx", "2xx", "3xx", "4xx", "5xx"};
constexpr std::array<WorkerState, 4> kExportedStates = {WorkerState::starting, WorkerState::idle, WorkerState::busy,
                                                        WorkerState::stopping};

double as_value(uint64_t v) { return static_cast<double>(v); }

const char* proto_label(size_t p) { return protocol_name(static_cast<Protocol>(p)); }

void add_requests(Families& out, const PoolSnapshot& snap)
{
    auto& requests = add_family(out, "drover_requests_total", MetricType::Counter,
                                "Requests answered, by protocol and status class.");
    for (size_t p = 0; p < kProtocolCount; ++p)
        for (size_t c = 0; c < kStatusClasses; ++c)
            add_sample(requests, {{"protocol", proto_label(p)}, {"status_class", kStatusClassNames[c]}},
                       as_value(snap.totals.protocols[p].requests_by_class[c]));

    auto& duration = add_family(out, "drover_request_duration_seconds", MetricType::Histogram,
                                "Time from the request head to the last byte of the response, by protocol.");
    for (size_t p = 0; p < kProtocolCount; ++p) {
        const CounterTotals::Protocol& t = snap.totals.protocols[p];
        add_histogram(duration, {{"protocol", proto_label(p)}}, kDurationBounds, t.duration_buckets,
                      static_cast<double>(t.duration_us_sum) / 1e6);
    }

    auto& in = add_family(out, "drover_request_bytes_total", MetricType::Counter,
                          "Bytes of request bodies read, by protocol.");
    for (size_t p = 0; p < kProtocolCount; ++p)
        add_sample(in, {{"protocol", proto_label(p)}}, as_value(snap.totals.protocols[p].request_bytes));

    auto& out_bytes = add_family(out, "drover_response_bytes_total", MetricType::Counter,
                                 "Bytes of responses written, by protocol.");
    for (size_t p = 0; p < kProtocolCount; ++p)
        add_sample(out_bytes, {{"protocol", proto_label(p)}}, as_value(snap.totals.protocols[p].response_bytes));

    add_sample(add_family(out, "drover_requests_in_flight", MetricType::Gauge,
                          "Requests being handled now (workers in state busy)."),
               {}, snap.workers_in(WorkerState::busy));
    add_sample(add_family(out, "drover_accepted_connections_total", MetricType::Counter,
                          "Connections accepted by workers."),
               {}, as_value(snap.totals.accepted_connections));
}

void add_workers(Families& out, const PoolState& pool, const PoolSnapshot& snap)
{
    auto& workers = add_family(out, "drover_workers", MetricType::Gauge, "Live worker processes, by state.");
    for (WorkerState s : kExportedStates)
        add_sample(workers, {{"state", worker_state_name(s)}}, snap.workers_in(s));

    add_sample(add_family(out, "drover_workers_target", MetricType::Gauge, "Worker processes the master aims to keep."),
               {}, pool.target_workers);
    add_sample(add_family(out, "drover_workers_max", MetricType::Gauge, "The configured limit of worker processes."),
               {}, pool.max_workers);

    auto& restarts = add_family(out, "drover_worker_restarts_total", MetricType::Counter, "Workers replaced, by reason.");
    for (size_t i = 0; i < kRestartReasons.size(); ++i)
        add_sample(restarts, {{"reason", kRestartReasons[i]}}, as_value(pool.restarts[i]));

    auto& rss = add_family(out, "drover_worker_resident_memory_bytes", MetricType::Gauge,
                           "Resident memory of each live worker.");
    for (const WorkerSnapshot& ws : snap.workers)
        if (ws.has_proc)
            add_sample(rss, {{"pid", std::to_string(ws.pid)}, {"slot", std::to_string(ws.slot)}},
                       as_value(ws.rss_bytes));
    auto& cpu = add_family(out, "drover_worker_cpu_seconds_total", MetricType::Counter,
                           "User and system CPU time of each live worker.");
    for (const WorkerSnapshot& ws : snap.workers)
        if (ws.has_proc)
            add_sample(cpu, {{"pid", std::to_string(ws.pid)}, {"slot", std::to_string(ws.slot)}}, ws.cpu_seconds);

    add_sample(add_family(out, "drover_crash_loop_backoff_seconds", MetricType::Gauge,
                          "Delay before the next spawn while workers fail to boot; 0 when not backing off."),
               {}, pool.crash_loop ? pool.crash_backoff_seconds : 0.0);
    add_sample(add_family(out, "drover_max_workers_reached_total", MetricType::Counter,
                          "Times scaling wanted more workers than the configured maximum."),
               {}, as_value(pool.max_workers_reached));
}

void add_listeners(Families& out, const PoolSnapshot& snap)
{
    auto& queue = add_family(out, "drover_listener_queue_length", MetricType::Gauge,
                             "Connections waiting in a listening socket's accept queue.");
    for (const ListenerSnapshot& ls : snap.listeners)
        if (ls.queue.has_length)
            add_sample(queue, {{"listener", ls.listener->name}, {"protocol", ls.listener->protocol}},
                       as_value(ls.queue.length));
    auto& backlog = add_family(out, "drover_listener_backlog", MetricType::Gauge,
                               "Maximum length of a listening socket's accept queue.");
    for (const ListenerSnapshot& ls : snap.listeners)
        add_sample(backlog, {{"listener", ls.listener->name}, {"protocol", ls.listener->protocol}},
                   as_value(ls.queue.backlog));
}

void add_master(Families& out, const PoolState& pool)
{
    auto& reloads = add_family(out, "drover_reloads_total", MetricType::Counter,
                               "Reloads (SIGHUP), by result; a failed one was rolled back.");
    add_sample(reloads, {{"result", "success"}}, as_value(pool.reloads_ok));
    add_sample(reloads, {{"result", "failure"}}, as_value(pool.reloads_failed));

    add_sample(add_family(out, "drover_generation", MetricType::Gauge,
                          "The current worker generation; each successful reload adds one."),
               {}, pool.generation);
    add_sample(add_family(out, "drover_slow_requests_total", MetricType::Counter,
                          "Requests that ran past slow_request_timeout (their traceback was logged)."),
               {}, as_value(pool.slow_requests));
    add_sample(add_family(out, "drover_request_timeouts_total", MetricType::Counter,
                          "Requests that ran past timeout; their worker was killed and replaced."),
               {}, as_value(pool.timeouts));
    add_sample(add_family(out, "drover_draining", MetricType::Gauge,
                          "1 while the master is told to drain (POST /drain): /healthz answers 503, requests are "
                          "still served; else 0."),
               {}, pool.draining ? 1 : 0);
    add_sample(add_family(out, "drover_build_info", MetricType::Gauge,
                          "Always 1; the labels name the drover and Python versions."),
               {{"version", DROVER_VERSION}, {"python", pool.python_version}}, 1);
}

/// The standard process_* families that client libraries export, for the master.
void add_process(Families& out)
{
    ProcStat self;
    if (read_self_proc_stat(self)) {
        add_sample(add_family(out, "process_cpu_seconds_total", MetricType::Counter,
                              "Total user and system CPU time spent in seconds."),
                   {}, self.cpu_seconds());
        add_sample(add_family(out, "process_resident_memory_bytes", MetricType::Gauge, "Resident memory size in bytes."),
                   {}, as_value(self.rss_bytes()));
        add_sample(add_family(out, "process_virtual_memory_bytes", MetricType::Gauge, "Virtual memory size in bytes."),
                   {}, as_value(self.vsize_bytes));
        add_sample(add_family(out, "process_start_time_seconds", MetricType::Gauge,
                              "Start time of the process since unix epoch in seconds."),
                   {}, self.start_time_unix());
    }
    int64_t open_fds = count_open_fds();
    if (open_fds >= 0)
        add_sample(add_family(out, "process_open_fds", MetricType::Gauge, "Number of open file descriptors."), {},
                   static_cast<double>(open_fds));
    int64_t max_fds = max_open_fds();
    if (max_fds >= 0)
        add_sample(add_family(out, "process_max_fds", MetricType::Gauge, "Maximum number of open file descriptors."),
                   {}, static_cast<double>(max_fds));
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

Families metric_families(const PoolState& pool, const PoolSnapshot& snapshot)
{
    Families families;
    families.reserve(32);
    add_requests(families, snapshot);
    add_workers(families, pool, snapshot);
    add_listeners(families, snapshot);
    add_master(families, pool);
    add_process(families);
    return families;
}

std::string format_metrics(const PoolState& pool, const PoolSnapshot& snapshot)
{
    return serialize(metric_families(pool, snapshot));
}

Families collect_families(const PoolState& pool, PoolPeaks* peaks)
{
    PoolSnapshot snapshot = take_snapshot(pool, monotonic_ns(), static_cast<double>(realtime_ns()) / 1e9);
    if (peaks != nullptr)
        peaks->observe(snapshot);
    return metric_families(pool, snapshot);
}

std::string collect_metrics(const PoolState& pool, PoolPeaks* peaks) { return serialize(collect_families(pool, peaks)); }

std::vector<prometheus::MetricFamily> PoolCollector::Collect() const
{
    return collect_families(source_.pool_state(), peaks_);
}

} // namespace drover

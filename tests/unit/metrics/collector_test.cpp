#include "metrics/collector.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/unique_fd.hpp"
#include "ipc/scoreboard.hpp"
#include "run_tool.hpp"
#include "scribble.hpp"

namespace drover {
namespace {

/// "name{labels}" -> value text, for every sample line.
std::map<std::string, std::string> samples_of(const std::string& text)
{
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#')
            continue;
        size_t space = line.rfind(' ');
        out[line.substr(0, space)] = line.substr(space + 1);
    }
    return out;
}

std::string pid_text() { return std::to_string(::getpid()); }

class CollectorTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        // Slot 0: idle, served http and fastcgi requests.
        Slot& s0 = sb.slot(0);
        s0.pid = ::getpid();
        s0.set_state(WorkerState::idle);
        s0.counters.record(Protocol::http, 200, 1500, 10, 100);        // le 0.0025
        s0.counters.record(Protocol::http, 204, 500, 0, 50);           // le 0.001
        s0.counters.record(Protocol::http, 404, 3000, 20, 30);         // le 0.005
        s0.counters.record(Protocol::fastcgi, 500, 2'000'000, 5, 7);   // le 2.5
        s0.counters.accepted_connections.add(2);
        s0.requests_served.add(4);

        // Slot 1: busy for a second now, one slow scgi request behind it.
        Slot& s1 = sb.slot(1);
        s1.pid = ::getpid();
        s1.counters.record(Protocol::scgi, 302, 70'000'000, 1, 2);     // above 60 s: only +Inf
        s1.counters.accepted_connections.add(1);
        s1.requests_served.add(1);
        s1.begin_request(monotonic_ns() - 1'000'000'000, "scgi GET /slow");

        // Slot 2: starting. Slot 3: a reaped worker's leftovers, already
        // folded into the retired totals and not live: must not count.
        sb.slot(2).set_state(WorkerState::starting);
        for (int i = 0; i < 100; ++i)
            sb.slot(3).counters.record(Protocol::http, 200, 100, 1, 1);
        sb.slot(3).set_state(WorkerState::idle);

        Slot old;
        old.counters.record(Protocol::http, 200, 1000, 1, 1);  // le 0.001
        old.counters.record(Protocol::http, 201, 1000, 1, 1);  // le 0.001
        old.counters.record(Protocol::http, 503, 20000, 2, 3); // le 0.025
        old.counters.accepted_connections.add(5);
        retired.fold(old);

        pool.start_time_unix = 1'700'000'000;
        pool.generation = 3;
        pool.target_workers = 3;
        pool.max_workers = 8;
        pool.pm = "static";
        pool.max_workers_reached = 4;
        pool.restarts = {1, 2, 3, 4, 5, 6, 7};
        pool.reloads_ok = 2;
        pool.reloads_failed = 1;
        pool.slow_requests = 9;
        pool.timeouts = 11;
        pool.python_version = "3.11.2";
        pool.workers = {{::getpid(), 0, 3, 0}, {::getpid(), 1, 3, 0}, {::getpid(), 2, 3, 0}};
        pool.scoreboard = &sb;
        pool.retired = &retired;
    }

    Scoreboard sb{4};
    CounterTotals retired;
    PoolState pool;
};

TEST_F(CollectorTest, RequestCountersSumLiveAndRetiredWorkers)
{
    auto s = samples_of(collect_metrics(pool));
    EXPECT_EQ(s["drover_requests_total{protocol=\"http\",status_class=\"2xx\"}"], "4");
    EXPECT_EQ(s["drover_requests_total{protocol=\"http\",status_class=\"4xx\"}"], "1");
    EXPECT_EQ(s["drover_requests_total{protocol=\"http\",status_class=\"5xx\"}"], "1");
    EXPECT_EQ(s["drover_requests_total{protocol=\"http\",status_class=\"1xx\"}"], "0");
    EXPECT_EQ(s["drover_requests_total{protocol=\"fastcgi\",status_class=\"5xx\"}"], "1");
    EXPECT_EQ(s["drover_requests_total{protocol=\"scgi\",status_class=\"3xx\"}"], "1");
    EXPECT_EQ(s["drover_request_bytes_total{protocol=\"http\"}"], "34");
    EXPECT_EQ(s["drover_response_bytes_total{protocol=\"http\"}"], "185");
    EXPECT_EQ(s["drover_response_bytes_total{protocol=\"scgi\"}"], "2");
    EXPECT_EQ(s["drover_accepted_connections_total"], "8");
}

TEST_F(CollectorTest, DurationHistogramIsCumulativeAndCountsEveryRequest)
{
    auto s = samples_of(collect_metrics(pool));
    EXPECT_EQ(s["drover_request_duration_seconds_bucket{protocol=\"http\",le=\"0.001\"}"], "3");
    EXPECT_EQ(s["drover_request_duration_seconds_bucket{protocol=\"http\",le=\"0.0025\"}"], "4");
    EXPECT_EQ(s["drover_request_duration_seconds_bucket{protocol=\"http\",le=\"0.005\"}"], "5");
    EXPECT_EQ(s["drover_request_duration_seconds_bucket{protocol=\"http\",le=\"0.01\"}"], "5");
    EXPECT_EQ(s["drover_request_duration_seconds_bucket{protocol=\"http\",le=\"0.025\"}"], "6");
    EXPECT_EQ(s["drover_request_duration_seconds_bucket{protocol=\"http\",le=\"60\"}"], "6");
    EXPECT_EQ(s["drover_request_duration_seconds_bucket{protocol=\"http\",le=\"+Inf\"}"], "6");
    EXPECT_EQ(s["drover_request_duration_seconds_sum{protocol=\"http\"}"], "0.027");
    EXPECT_EQ(s["drover_request_duration_seconds_bucket{protocol=\"scgi\",le=\"60\"}"], "0");
    EXPECT_EQ(s["drover_request_duration_seconds_bucket{protocol=\"scgi\",le=\"+Inf\"}"], "1");
    EXPECT_EQ(s["drover_request_duration_seconds_sum{protocol=\"scgi\"}"], "70");
    EXPECT_EQ(s["drover_request_duration_seconds_bucket{protocol=\"fastcgi\",le=\"2.5\"}"], "1");
    EXPECT_EQ(s["drover_request_duration_seconds_bucket{protocol=\"fastcgi\",le=\"1\"}"], "0");

    for (const char* proto : {"http", "fastcgi", "scgi"}) {
        uint64_t requests = 0;
        for (const char* cls : {"1xx", "2xx", "3xx", "4xx", "5xx"})
            requests += std::stoull(s[std::string("drover_requests_total{protocol=\"") + proto +
                                     "\",status_class=\"" + cls + "\"}"]);
        std::string count = s[std::string("drover_request_duration_seconds_count{protocol=\"") + proto + "\"}"];
        EXPECT_EQ(count, std::to_string(requests)) << proto;
        EXPECT_EQ(s[std::string("drover_request_duration_seconds_bucket{protocol=\"") + proto + "\",le=\"+Inf\"}"],
                  count)
            << proto;
    }
}

TEST_F(CollectorTest, WorkerAndPoolGauges)
{
    auto s = samples_of(collect_metrics(pool));
    EXPECT_EQ(s["drover_requests_in_flight"], "1");
    EXPECT_EQ(s["drover_workers{state=\"starting\"}"], "1");
    EXPECT_EQ(s["drover_workers{state=\"idle\"}"], "1");
    EXPECT_EQ(s["drover_workers{state=\"busy\"}"], "1");
    EXPECT_EQ(s["drover_workers{state=\"stopping\"}"], "0");
    EXPECT_EQ(s["drover_workers_target"], "3");
    EXPECT_EQ(s["drover_workers_max"], "8");
    EXPECT_EQ(s["drover_worker_restarts_total{reason=\"crash\"}"], "1");
    EXPECT_EQ(s["drover_worker_restarts_total{reason=\"max_rss\"}"], "4");
    EXPECT_EQ(s["drover_worker_restarts_total{reason=\"scale_down\"}"], "7");
    EXPECT_EQ(s["drover_crash_loop_backoff_seconds"], "0");
    EXPECT_EQ(s["drover_reloads_total{result=\"success\"}"], "2");
    EXPECT_EQ(s["drover_reloads_total{result=\"failure\"}"], "1");
    EXPECT_EQ(s["drover_generation"], "3");
    EXPECT_EQ(s["drover_slow_requests_total"], "9");
    EXPECT_EQ(s["drover_request_timeouts_total"], "11");
    EXPECT_EQ(s["drover_max_workers_reached_total"], "4");
    EXPECT_EQ(s[std::string("drover_build_info{version=\"") + DROVER_VERSION + "\",python=\"3.11.2\"}"], "1");

    pool.crash_loop = true;
    pool.crash_backoff_seconds = 8;
    EXPECT_EQ(samples_of(collect_metrics(pool))["drover_crash_loop_backoff_seconds"], "8");
}

TEST_F(CollectorTest, DrainingIsAGaugeOfZeroOrOne)
{
    EXPECT_EQ(samples_of(collect_metrics(pool))["drover_draining"], "0");
    pool.draining = true;
    EXPECT_EQ(samples_of(collect_metrics(pool))["drover_draining"], "1");
}

TEST_F(CollectorTest, PerWorkerMemoryAndCpuFromProc)
{
    auto s = samples_of(collect_metrics(pool));
    for (int slot = 0; slot < 3; ++slot) {
        std::string labels = "{pid=\"" + pid_text() + "\",slot=\"" + std::to_string(slot) + "\"}";
        ASSERT_TRUE(s.count("drover_worker_resident_memory_bytes" + labels)) << labels;
        EXPECT_GT(std::stoull(s["drover_worker_resident_memory_bytes" + labels]), 0u);
        ASSERT_TRUE(s.count("drover_worker_cpu_seconds_total" + labels));
        EXPECT_GE(std::stod(s["drover_worker_cpu_seconds_total" + labels]), 0.0);
    }
    EXPECT_FALSE(s.count("drover_worker_resident_memory_bytes{pid=\"" + pid_text() + "\",slot=\"3\"}"));
}

TEST_F(CollectorTest, ProcessFamiliesOfTheMaster)
{
    auto s = samples_of(collect_metrics(pool));
    for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                             "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                             "process_start_time_seconds"})
        EXPECT_TRUE(s.count(name)) << name;
    EXPECT_GT(std::stod(s["process_resident_memory_bytes"]), 0);
    EXPECT_GT(std::stod(s["process_start_time_seconds"]), 1e9);
    EXPECT_LE(std::stod(s["process_start_time_seconds"]), static_cast<double>(::time(nullptr)) + 1);
}

TEST_F(CollectorTest, CountersDoNotGoBackwardsWhenAWorkerIsReaped)
{
    auto before = samples_of(collect_metrics(pool));

    // What the master does on reaping slot 0's worker: fold, forget, reset.
    retired.fold(sb.slot(0));
    pool.workers.erase(pool.workers.begin());
    sb.reset_slot(0);

    auto after = samples_of(collect_metrics(pool));
    size_t compared = 0;
    for (const auto& [key, value] : before) {
        if (key.starts_with("drover_request") || key.starts_with("drover_response_bytes_total") ||
            key.starts_with("drover_accepted_connections_total")) {
            if (key.starts_with("drover_requests_in_flight"))
                continue;
            EXPECT_EQ(after[key], value) << key;
            ++compared;
        }
    }
    EXPECT_GT(compared, 60u);
    EXPECT_EQ(after["drover_workers{state=\"idle\"}"], "0");
}

TEST_F(CollectorTest, EveryFamilyHasHelpAndTypeBeforeItsSamplesAndAppearsOnce)
{
    std::string text = collect_metrics(pool);
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');

    std::istringstream in(text);
    std::string line, family, type, pending_help;
    std::set<std::string> seen;
    size_t samples = 0;
    while (std::getline(in, line)) {
        ASSERT_FALSE(line.empty());
        if (line.starts_with("# HELP ")) {
            pending_help = line.substr(7, line.find(' ', 7) - 7);
            EXPECT_GT(line.size(), 8 + pending_help.size()) << "empty help: " << line;
            continue;
        }
        if (line.starts_with("# TYPE ")) {
            std::istringstream fields(line.substr(7));
            fields >> family >> type;
            EXPECT_EQ(pending_help, family) << "TYPE without HELP right before it: " << line;
            EXPECT_TRUE(seen.insert(family).second) << "family twice: " << family;
            EXPECT_TRUE(family.starts_with("drover_") || family.starts_with("process_")) << family;
            if (type == "counter") {
                EXPECT_TRUE(family.ends_with("_total")) << family;
            }
            pending_help.clear();
            continue;
        }
        ASSERT_NE(line[0], '#') << line;
        std::string name = line.substr(0, line.find_first_of("{ "));
        if (type == "histogram") {
            EXPECT_TRUE(name == family + "_bucket" || name == family + "_sum" || name == family + "_count") << line;
        } else {
            EXPECT_EQ(name, family) << line;
        }
        ++samples;
    }
    EXPECT_GT(samples, 100u);
    for (const char* f :
         {"drover_requests_total", "drover_request_duration_seconds", "drover_request_bytes_total",
          "drover_response_bytes_total", "drover_requests_in_flight", "drover_workers", "drover_workers_target",
          "drover_workers_max", "drover_worker_restarts_total", "drover_worker_resident_memory_bytes",
          "drover_worker_cpu_seconds_total", "drover_crash_loop_backoff_seconds", "drover_accepted_connections_total",
          "drover_listener_queue_length", "drover_listener_backlog", "drover_reloads_total", "drover_generation",
          "drover_slow_requests_total", "drover_request_timeouts_total", "drover_max_workers_reached_total",
          "drover_draining", "drover_build_info", "process_cpu_seconds_total", "process_resident_memory_bytes",
          "process_virtual_memory_bytes", "process_open_fds", "process_max_fds", "process_start_time_seconds"})
        EXPECT_TRUE(seen.count(f)) << f;
}

TEST_F(CollectorTest, WithoutTrafficEveryProtocolSeriesExists)
{
    Scoreboard empty(2);
    PoolState idle;
    idle.scoreboard = &empty;
    auto s = samples_of(collect_metrics(idle));
    for (const char* proto : {"http", "fastcgi", "scgi"}) {
        std::string p = proto;
        for (const char* cls : {"1xx", "2xx", "3xx", "4xx", "5xx"})
            EXPECT_EQ(s["drover_requests_total{protocol=\"" + p + "\",status_class=\"" + cls + "\"}"], "0");
        EXPECT_EQ(s["drover_request_duration_seconds_bucket{protocol=\"" + p + "\",le=\"+Inf\"}"], "0");
        EXPECT_EQ(s["drover_request_duration_seconds_count{protocol=\"" + p + "\"}"], "0");
        EXPECT_EQ(s["drover_request_bytes_total{protocol=\"" + p + "\"}"], "0");
        EXPECT_EQ(s["drover_response_bytes_total{protocol=\"" + p + "\"}"], "0");
    }
    EXPECT_EQ(s["drover_workers{state=\"idle\"}"], "0");
}

TEST_F(CollectorTest, ListenerQueuesAndBacklogs)
{
    UniqueFd tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(tcp.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(tcp.get(), 16), 0);
    pool.listeners = {{"http://127.0.0.1:8000", "http", tcp.get(), false, 1024},
                      {"scgi://odd \"name\\", "scgi", -1, false, 64}};

    PoolPeaks peaks;
    std::string text = collect_metrics(pool, &peaks);
    auto s = samples_of(text);
    EXPECT_EQ(s["drover_listener_queue_length{listener=\"http://127.0.0.1:8000\",protocol=\"http\"}"], "0");
    EXPECT_EQ(s["drover_listener_backlog{listener=\"http://127.0.0.1:8000\",protocol=\"http\"}"], "16");
    // Unknown queue: the configured backlog, and no made-up queue length.
    EXPECT_EQ(s["drover_listener_backlog{listener=\"scgi://odd \\\"name\\\\\",protocol=\"scgi\"}"], "64");
    EXPECT_FALSE(s.count("drover_listener_queue_length{listener=\"scgi://odd \\\"name\\\\\",protocol=\"scgi\"}"));
    EXPECT_EQ(peaks.active_processes, 1u);
    EXPECT_EQ(peaks.listen_queue, 0u);
}

TEST_F(CollectorTest, PromtoolAcceptsTheOutput)
{
    if (!test::tool_exists("/usr/bin/promtool"))
        GTEST_SKIP() << "promtool is not installed";
    pool.listeners = {{"fastcgi://unix:/run/drover.sock", "fastcgi", -1, true, 128}};
    pool.crash_loop = true;
    pool.crash_backoff_seconds = 0.25;
    test::ToolResult r = test::run_tool("/usr/bin/promtool check metrics", collect_metrics(pool));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, "");
}

TEST_F(CollectorTest, PrometheusClientParserReadsTheOutput)
{
    const char* script = R"(
import sys
from prometheus_client.parser import text_string_to_metric_families
families = {f.name: f for f in text_string_to_metric_families(sys.stdin.read())}
def value(family, sample, **labels):
    for s in families[family].samples:
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
print(families["drover_request_duration_seconds"].type,
      families["drover_requests"].type,
      value("drover_requests", "drover_requests_total", protocol="http", status_class="2xx"),
      value("drover_request_duration_seconds", "drover_request_duration_seconds_count", protocol="http"),
      value("drover_listener_backlog", "drover_listener_backlog", listener="a\"b\\c\nd"))
)";
    pool.listeners = {{"a\"b\\c\nd", "http", -1, false, 5}};
    test::ToolResult r = test::run_python(script, collect_metrics(pool));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, "histogram counter 4.0 6.0 5.0\n");
}

// ---- a worker writes garbage into the scoreboard (issue 9, defect 7)

TEST_F(CollectorTest, AStateOutsideTheEnumIsCountedInNoState)
{
    for (uint32_t bad : {5u, 0x80u, 0xdeadbeefu, 0xffffffffu}) {
        sb.slot(1).state.store(bad);
        auto s = samples_of(collect_metrics(pool));
        EXPECT_EQ(s["drover_workers{state=\"idle\"}"], "1") << bad;
        EXPECT_EQ(s["drover_workers{state=\"starting\"}"], "1") << bad;
        EXPECT_EQ(s["drover_workers{state=\"busy\"}"], "0") << bad;
        EXPECT_EQ(s["drover_workers{state=\"stopping\"}"], "0") << bad;
        EXPECT_EQ(s["drover_requests_in_flight"], "0") << bad;
    }
}

TEST_F(CollectorTest, ImpossibleRequestStartsGiveNoRequestAge)
{
    const uint64_t now = 5'000'000'000'000;
    const double now_unix = 1'700'000'100;
    pool.workers[1].started_unix = now_unix - 10;  // forked 10 s ago
    auto age_of_slot_1 = [&](uint64_t start) {
        sb.slot(1).request_start_ns.store(start);
        return take_snapshot(pool, now, now_unix).workers[1].request_seconds;
    };
    EXPECT_DOUBLE_EQ(age_of_slot_1(now - 2'000'000'000), 2.0);
    EXPECT_EQ(age_of_slot_1(now + 1), 0) << "a start in the future";
    EXPECT_EQ(age_of_slot_1(1), 0) << "a start long before the worker was forked";
    EXPECT_EQ(age_of_slot_1(0), 0);
    pool.workers[1].started_unix = 0;  // unknown fork time: only the clock bounds it
    EXPECT_DOUBLE_EQ(age_of_slot_1(now - 50'000'000'000), 50.0);
}

TEST_F(CollectorTest, ACounterAWorkerLowersOrBlowsUpKeepsItsValue)
{
    auto before = samples_of(collect_metrics(pool));
    const std::string key = "drover_requests_total{protocol=\"http\",status_class=\"2xx\"}";
    ASSERT_EQ(before[key], "4");
    ProtocolCounters& http = sb.slot(0).counters.protocols[0];
    http.requests_by_class[1].add(UINT64_MAX);  // 2 - 1: went down
    EXPECT_EQ(samples_of(collect_metrics(pool))[key], "4");
    http.requests_by_class[1].add(kSlotCounterLimit + 1);  // past the limit
    EXPECT_EQ(samples_of(collect_metrics(pool))[key], "4");
    http.duration_buckets[0].add(uint64_t{1} << 63);
    auto after = samples_of(collect_metrics(pool));
    EXPECT_EQ(after["drover_request_duration_seconds_bucket{protocol=\"http\",le=\"0.001\"}"], "3");
    EXPECT_EQ(after["drover_request_duration_seconds_count{protocol=\"http\"}"], "6");

    // What the master folds when it reaps the worker: the same checked values.
    retired.add(sb.counters(0));
    pool.workers.erase(pool.workers.begin());
    sb.reset_slot(0);
    EXPECT_EQ(samples_of(collect_metrics(pool))[key], "4");
}

/// Histogram series of `text` hold together: buckets never go down with `le`,
/// and the +Inf bucket equals _count.
void expect_histograms_consistent(const std::map<std::string, std::string>& s)
{
    for (const char* proto : {"http", "fastcgi", "scgi"}) {
        std::string p = std::string("{protocol=\"") + proto + "\"";
        double last = 0;
        for (double bound : kDurationBounds) {
            char le[32];
            std::snprintf(le, sizeof le, "%g", bound);
            auto it = s.find("drover_request_duration_seconds_bucket" + p + ",le=\"" + le + "\"}");
            ASSERT_NE(it, s.end()) << proto << " " << le;
            double v = std::stod(it->second);
            EXPECT_GE(v, last) << proto << " le=" << le;
            last = v;
        }
        double inf = std::stod(s.at("drover_request_duration_seconds_bucket" + p + ",le=\"+Inf\"}"));
        EXPECT_GE(inf, last);
        EXPECT_EQ(s.at("drover_request_duration_seconds_count" + p + "}"),
                  s.at("drover_request_duration_seconds_bucket" + p + ",le=\"+Inf\"}"));
    }
}

TEST_F(CollectorTest, RandomBytesOverTheWholeScoreboardGiveValidMonotonicOutput)
{
    auto is_monotonic = [](const std::string& key) {
        return key.starts_with("drover_request") && !key.starts_with("drover_requests_in_flight");
    };
    auto last = samples_of(collect_metrics(pool));
    for (uint64_t seed = 1; seed <= 60; ++seed) {
        test::scribble(sb, seed);
        ASSERT_EQ(sb.slot_count(), 4u);
        std::string text = collect_metrics(pool);
        auto s = samples_of(text);
        expect_histograms_consistent(s);
        uint32_t by_state = 0;
        for (const char* state : {"starting", "idle", "busy", "stopping"})
            by_state += static_cast<uint32_t>(std::stoul(s[std::string("drover_workers{state=\"") + state + "\"}"]));
        EXPECT_LE(by_state, pool.workers.size());
        for (const auto& [key, value] : last) {
            if (is_monotonic(key) || key.starts_with("drover_accepted_connections_total")) {
                EXPECT_GE(std::stod(s[key]), std::stod(value)) << key << " seed " << seed;
            }
        }
        if (seed <= 3 && test::tool_exists("/usr/bin/promtool")) {
            test::ToolResult r = test::run_tool("/usr/bin/promtool check metrics", text);
            EXPECT_EQ(r.exit_code, 0) << r.output;
            EXPECT_EQ(r.output, "");
        }
        last = std::move(s);
    }
}

TEST(CollectorScale, ScrapeOf64WorkersIsCheap)
{
    Scoreboard sb(64);
    CounterTotals retired;
    PoolState pool;
    pool.scoreboard = &sb;
    pool.retired = &retired;
    for (uint32_t i = 0; i < 64; ++i) {
        sb.slot(i).set_state(WorkerState::idle);
        sb.slot(i).counters.record(Protocol::http, 200, 1000 * i, 10, 10);
        pool.workers.push_back({::getpid(), i, 1, 0});
    }
    collect_metrics(pool);  // warm the cached sysconf and boot time

    constexpr int kScrapes = 20;
    timespec start{}, end{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
    size_t bytes = 0;
    for (int i = 0; i < kScrapes; ++i)
        bytes += collect_metrics(pool).size();
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end);
    double ms = ((end.tv_sec - start.tv_sec) * 1e3 + (end.tv_nsec - start.tv_nsec) / 1e6) / kScrapes;
    EXPECT_GT(bytes, 0u);
    EXPECT_LT(ms, 5.0) << "CPU per scrape of 64 workers";
    RecordProperty("scrape_cpu_us", static_cast<int>(ms * 1000));
}

} // namespace
} // namespace drover

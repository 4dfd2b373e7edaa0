#include "metrics/status.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "base/unique_fd.hpp"

#include "ipc/scoreboard.hpp"
#include "run_tool.hpp"
#include "scribble.hpp"

namespace drover {
namespace {

std::string json_string(std::string_view text)
{
    std::string out;
    append_json_string(out, text);
    return out;
}

TEST(JsonString, EscapesQuotesBackslashesAndControlBytes)
{
    EXPECT_EQ(json_string("GET /x"), "\"GET /x\"");
    EXPECT_EQ(json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(json_string("\n\r\t"), "\"\\n\\r\\t\"");
    EXPECT_EQ(json_string(std::string_view("\x00\x01\x1f", 3)), "\"\\u0000\\u0001\\u001f\"");
    EXPECT_EQ(json_string("\x7f"), "\"\\u007f\"");
}

TEST(JsonString, NonAsciiBytesBecomeEscapesSoAnyBytesGiveValidAscii)
{
    // Invalid UTF-8 from a client must not make the page invalid JSON.
    EXPECT_EQ(json_string("\xff\xc3("), "\"\\u00ff\\u00c3(\"");
}

class StatusTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        Slot& idle = sb.slot(0);
        idle.set_state(WorkerState::idle);
        idle.counters.accepted_connections.add(3);
        idle.requests_served.add(7);
        idle.begin_request(1, "http GET /done");
        idle.end_request();
        idle.set_state(WorkerState::idle);

        Slot& busy = sb.slot(1);
        busy.begin_request(now_ns - 2'500'000'000, std::string_view("http GET /\"q\\\x01\xff\n", 16));
        busy.counters.accepted_connections.add(1);

        sb.slot(2).set_state(WorkerState::starting);

        retired.accepted_connections = 10;
        pool.start_time_unix = 1'700'000'000.75;
        pool.generation = 2;
        pool.pm = "dynamic";
        pool.max_workers_reached = 5;
        pool.slow_requests = 6;
        pool.listeners = {{"http://127.0.0.1:1", "http", -1, false, 100},
                          {"scgi://127.0.0.1:2", "scgi", -1, false, 28}};
        pool.workers = {{::getpid(), 0, 2, 0}, {::getpid(), 1, 2, 0}, {::getpid(), 2, 2, 0}};
        pool.scoreboard = &sb;
        pool.retired = &retired;
    }

    std::string render(const PoolPeaks& peaks)
    {
        PoolSnapshot snap = take_snapshot(pool, now_ns, pool.start_time_unix + 42.5);
        return status_json(pool, snap, peaks, pool.start_time_unix + 42.5);
    }

    Scoreboard sb{4};
    CounterTotals retired;
    PoolState pool;
    uint64_t now_ns = 1'000'000'000'000;
};

TEST_F(StatusTest, PythonJsonReadsThePoolAndWorkers)
{
    PoolPeaks peaks;
    peaks.listen_queue = 9;
    peaks.active_processes = 4;
    const char* script = R"(
import json, sys
doc = json.load(sys.stdin)
pool = doc["pool"]
for key in ["start_time", "start_since", "accepted_conn", "listen_queue", "max_listen_queue",
            "listen_queue_len", "idle_processes", "active_processes", "total_processes",
            "max_active_processes", "max_children_reached", "slow_requests", "generation", "pm"]:
    assert key in pool, key
print(pool["start_time"], pool["start_since"], pool["accepted_conn"], pool["listen_queue"],
      pool["max_listen_queue"], pool["listen_queue_len"], pool["idle_processes"], pool["active_processes"],
      pool["total_processes"], pool["max_active_processes"], pool["max_children_reached"],
      pool["slow_requests"], pool["generation"], pool["pm"])
for w in doc["workers"]:
    assert sorted(w) == sorted(["pid", "slot", "generation", "state", "requests", "request_duration",
                                "request", "rss", "cpu"]), w
    print(w["slot"], w["generation"], w["state"], w["requests"], w["request_duration"], ascii(w["request"]),
          w["rss"] > 0, w["cpu"] >= 0)
)";
    test::ToolResult r = test::run_python(script, render(peaks));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output,
              "1700000000 42 14 0 9 128 1 1 3 4 5 6 2 dynamic\n"
              "0 2 idle 8 0 'http GET /done' True True\n"
              "1 2 busy 0 2.5 'http GET /\"q\\\\\\x01\\xff\\n' True True\n"
              "2 2 starting 0 0 '' True True\n");
}

TEST_F(StatusTest, MaximaAreNeverBelowTheCurrentValues)
{
    std::string out = render(PoolPeaks{});
    EXPECT_NE(out.find("\"max_active_processes\": 1"), std::string::npos) << out;
    EXPECT_NE(out.find("\"max_listen_queue\": 0"), std::string::npos) << out;
}

TEST_F(StatusTest, TrackedPeaksAreUpdatedByEachCall)
{
    PoolPeaks peaks;
    status_json(pool, &peaks);
    EXPECT_EQ(peaks.active_processes, 1u);
    sb.slot(0).begin_request(now_ns, "x");  // now two busy
    status_json(pool, &peaks);
    EXPECT_EQ(peaks.active_processes, 2u);
    sb.slot(0).end_request();
    sb.slot(0).set_state(WorkerState::idle);
    std::string out = status_json(pool, &peaks);
    EXPECT_EQ(peaks.active_processes, 2u);
    EXPECT_NE(out.find("\"active_processes\": 1"), std::string::npos);
    EXPECT_NE(out.find("\"max_active_processes\": 2"), std::string::npos);
}

TEST_F(StatusTest, HealthyWithAnIdleOrBusyWorker)
{
    HealthAnswer a = health(pool);
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.body, "ok: 2 workers ready\n");

    sb.slot(0).set_state(WorkerState::stopping);  // only the busy one left
    EXPECT_EQ(health(pool).status, 200);
}

TEST_F(StatusTest, UnhealthyWhenNoWorkerCanServe)
{
    sb.slot(0).set_state(WorkerState::stopping);
    sb.slot(1).set_state(WorkerState::starting);
    HealthAnswer a = health(pool);
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.body, "no worker ready: 2 starting, 1 stopping\n");

    pool.workers.clear();
    a = health(pool);
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.body, "no workers\n");
}

TEST_F(StatusTest, UnhealthyWhileStoppingOrInACrashLoop)
{
    pool.stopping = true;
    HealthAnswer a = health(pool);
    EXPECT_EQ(a.status, 503);
    EXPECT_NE(a.body.find("stopping"), std::string::npos);

    pool.stopping = false;
    pool.crash_loop = true;
    pool.crash_backoff_seconds = 4;
    a = health(pool);
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.body, "crash loop: workers fail to boot; next spawn in 4.000s\n");

    EXPECT_EQ(a.body.find('\n'), a.body.size() - 1) << "one line";
}

// ---- the drain and the saturation check (issue 14)

TEST_F(StatusTest, DrainingIsUnhealthyWhileWorkersServeAndShowsInStatus)
{
    pool.draining = true;
    HealthAnswer a = health(pool);
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.body, "draining: requests are still served; DELETE /drain ends it\n");
    EXPECT_NE(render(PoolPeaks{}).find("\"draining\": true"), std::string::npos);

    // A stop says so rather than the drain: it is the stronger reason.
    pool.stopping = true;
    EXPECT_NE(health(pool).body.find("stopping"), std::string::npos);

    pool.stopping = false;
    pool.draining = false;
    EXPECT_EQ(health(pool).status, 200);
    EXPECT_NE(render(PoolPeaks{}).find("\"draining\": false"), std::string::npos);
}

/// A TCP listener on 127.0.0.1 with `queued` connections waiting in its
/// accept queue (handshakes done, never accepted).
struct QueuedListener {
    UniqueFd fd;
    std::vector<UniqueFd> clients;

    explicit QueuedListener(size_t queued)
    {
        fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(fd.get(), 64) != 0 || ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
            return;
        for (size_t i = 0; i < queued; ++i) {
            UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
            if (::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
                clients.push_back(std::move(c));
        }
    }
};

/// health() until its status is `want` (the handshakes complete in softirq
/// context, a moment after connect() returns).
HealthAnswer health_when(const PoolState& pool, int want)
{
    HealthAnswer a;
    for (int i = 0; i < 200; ++i) {
        a = health(pool);
        if (a.status == want)
            break;
        timespec ts{0, 5'000'000};
        ::nanosleep(&ts, nullptr);
    }
    return a;
}

TEST_F(StatusTest, AQueueOverHealthzMaxQueueIsUnhealthy)
{
    QueuedListener http(3);
    QueuedListener scgi(2);
    ASSERT_TRUE(http.fd && scgi.fd);
    ASSERT_EQ(http.clients.size(), 3u);
    pool.listeners = {{"http://127.0.0.1:1", "http", http.fd.get(), false, 64},
                      {"scgi://127.0.0.1:2", "scgi", scgi.fd.get(), false, 64},
                      {"fastcgi://unknown", "fastcgi", -1, false, 64}};  // unreadable: counts nothing

    // Off by default, whatever waits.
    EXPECT_EQ(health(pool).status, 200);

    // The listeners together: 5 wait.
    pool.healthz_max_queue = 4;
    HealthAnswer a = health_when(pool, 503);
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.body, "saturated: 5 connections wait in the listen queues (healthz_max_queue 4); 2 workers ready\n");

    // At the limit is not over it.
    pool.healthz_max_queue = 5;
    EXPECT_EQ(health(pool).status, 200);

    // And back once the queue drains.
    pool.healthz_max_queue = 4;
    scgi.clients.clear();
    for (int i = 0; i < 2; ++i)
        UniqueFd(::accept(scgi.fd.get(), nullptr, nullptr));
    a = health_when(pool, 200);
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.body, "ok: 2 workers ready\n");
}

TEST_F(StatusTest, NoWorkerReadyIsSaidBeforeTheQueue)
{
    QueuedListener http(2);
    ASSERT_EQ(http.clients.size(), 2u);
    pool.listeners = {{"http://127.0.0.1:1", "http", http.fd.get(), false, 64}};
    pool.healthz_max_queue = 1;
    sb.slot(0).set_state(WorkerState::starting);
    sb.slot(1).set_state(WorkerState::starting);
    EXPECT_EQ(health(pool).body, "no worker ready: 3 starting, 0 stopping\n");
}

// ---- a worker writes garbage into the scoreboard (issue 9, defect 7)

TEST_F(StatusTest, RandomBytesInTheSlotsGiveValidJsonAndHonestStates)
{
    const char* script = R"(
import json, sys
for line in sys.stdin:
    doc = json.loads(line)
    assert len(doc["workers"]) == 3, doc
    for w in doc["workers"]:
        assert w["state"] in ("starting", "idle", "busy", "stopping", "unknown"), w
        assert len(w["request"]) < 96, w
        assert w["request_duration"] >= 0, w
    states = [w["state"] for w in doc["workers"]]
    assert doc["pool"]["idle_processes"] == states.count("idle"), doc
    assert doc["pool"]["active_processes"] == states.count("busy"), doc
print("ok")
)";
    std::string docs;
    for (uint64_t seed = 1; seed <= 40; ++seed) {
        test::scribble(sb, seed);
        docs += render(PoolPeaks{});
    }
    test::ToolResult r = test::run_python(script, docs);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, "ok\n");
}

TEST_F(StatusTest, AStateOutsideTheEnumIsUnknownAndNotReady)
{
    sb.slot(0).state.store(1234);
    sb.slot(1).state.store(0xffffffffu);
    std::string out = render(PoolPeaks{});
    EXPECT_NE(out.find("\"state\": \"unknown\""), std::string::npos) << out;
    EXPECT_NE(out.find("\"idle_processes\": 0, \"active_processes\": 0"), std::string::npos) << out;
    HealthAnswer a = health(pool);
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.body, "no worker ready: 1 starting, 0 stopping\n");
}

} // namespace
} // namespace drover

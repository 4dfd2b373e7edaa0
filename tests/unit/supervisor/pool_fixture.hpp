// The pool without processes, shared by its tests (pool_test.cpp,
// pool_reload_test.cpp, pool_workers_test.cpp): a fake clock (a number), a
// recorder for the effects and plain values for the slots it reads.
#pragma once

#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "supervisor/pool.hpp"
#include "worker/worker_spec.hpp"

namespace drover::pool_testing {

class FakeReadings final : public PoolReadings {
public:
    WorkerReading slot(uint32_t slot) const override
    {
        auto it = slots.find(slot);
        return it == slots.end() ? WorkerReading{} : it->second;
    }
    uint64_t rss_mib(pid_t pid) const override
    {
        ++rss_reads;
        auto it = rss.find(pid);
        return it == rss.end() ? 0 : it->second;
    }
    bool connection_waiting() const override { return waiting; }

    std::map<uint32_t, WorkerReading> slots;
    std::map<pid_t, uint64_t> rss;
    bool waiting = false;
    mutable int rss_reads = 0;
};

class Recorder final : public PoolEffects {
public:
    explicit Recorder(FakeReadings& readings) : readings_(readings) {}

    SpawnResult spawn(uint32_t slot, uint32_t generation, const Config&) override
    {
        SpawnResult::Outcome outcome = SpawnResult::Outcome::forked;
        if (!outcomes.empty()) {
            outcome = outcomes.front();
            outcomes.pop_front();
        }
        if (outcome != SpawnResult::Outcome::forked && outcome != SpawnResult::Outcome::pending)
            return SpawnResult{outcome, 0};
        readings_.slots[slot] = WorkerReading{};  // as the master resets the scoreboard slot
        pid_t pid = outcome == SpawnResult::Outcome::forked ? next_pid++ : 0;
        spawns.push_back({slot, generation, pid});
        return SpawnResult{outcome, pid};
    }
    void signal(pid_t pid, int sig) override { signals.emplace_back(pid, sig); }
    void ask_for_connections(pid_t pid) override { asked_for_connections.push_back(pid); }
    void announce(Announcement what) override
    {
        notes.push_back(what == Announcement::ready       ? "READY=1"
                        : what == Announcement::reloading ? "RELOADING=1"
                                                          : "STOPPING=1");
    }
    void status(const std::string& text) override { notes.push_back("STATUS=" + text); }
    std::optional<Config> load_config(const Config&) override
    {
        ++configs_loaded;
        return next_config;
    }
    void retire_zygotes(uint32_t keep_generation) override { retired_zygotes.push_back(keep_generation); }
    void close_parked_connections() override { ++parked_closed; }
    void reopen_log() override { ++logs_reopened; }
    void log(LogLevel level, const std::string& message) override { logs.emplace_back(level, message); }

    struct Spawn {
        uint32_t slot;
        uint32_t generation;
        pid_t pid;
    };
    std::deque<SpawnResult::Outcome> outcomes;  ///< of the next spawns; forked when empty
    pid_t next_pid = 100;
    std::vector<Spawn> spawns;
    std::vector<std::pair<pid_t, int>> signals;
    std::vector<pid_t> asked_for_connections;
    std::vector<std::string> notes;
    std::optional<Config> next_config;
    int configs_loaded = 0;
    std::vector<uint32_t> retired_zygotes;
    int parked_closed = 0;
    int logs_reopened = 0;
    std::vector<std::pair<LogLevel, std::string>> logs;

private:
    FakeReadings& readings_;
};

inline Config static_config(uint32_t workers = 2)
{
    Config c;
    c.pm = ProcessManager::static_pool;
    c.workers = workers;
    c.graceful_timeout = 30;
    c.startup_timeout = 60;
    c.timeout = 30;
    c.max_unavailable = 1;
    return c;
}

class PoolTest : public ::testing::Test {
protected:
    void start(Config c)
    {
        config = c;
        effects.next_config = c;
        pool = std::make_unique<Pool>(std::move(c), 40, effects, readings, 42);
        pool->tick(now);
    }
    void tick(double seconds = 0.1)
    {
        now += seconds;
        pool->tick(now);
    }
    /// Ticks until seconds have passed.
    void run_for(double seconds)
    {
        double until = now + seconds;
        while (now + 0.1 <= until + 1e-9)
            tick(0.1);
    }
    void ask(Intent intent, const char* source = "SIG")
    {
        pool->request(intent, source);
        tick(0.01);
    }

    const WorkerProcess& worker(pid_t pid)
    {
        const WorkerProcess* w = nullptr;
        for (const WorkerProcess& x : pool->table().workers())
            if (x.pid == pid)
                w = &x;
        EXPECT_NE(w, nullptr) << "no worker " << pid;
        static WorkerProcess none;
        return w ? *w : none;
    }
    bool alive(pid_t pid) const
    {
        const auto& ws = pool->table().workers();
        return std::any_of(ws.begin(), ws.end(), [pid](const WorkerProcess& w) { return w.pid == pid; });
    }
    WorkerReading& slot_of(pid_t pid) { return readings.slots[worker(pid).slot]; }
    /// Its slot says idle: the next tick sees it ready.
    void ready(pid_t pid) { slot_of(pid).state = WorkerState::idle; }
    void serve(pid_t pid, uint64_t requests)
    {
        slot_of(pid).requests_served = requests;
        slot_of(pid).state = WorkerState::idle;
    }
    void busy(pid_t pid, double started, uint64_t seq = 1)
    {
        WorkerReading& r = slot_of(pid);
        r.state = WorkerState::busy;
        r.request_started = started;
        r.request_seq = seq;
        r.summary = "http GET /slow";
    }
    /// The live workers of generation, oldest first.
    std::vector<pid_t> pids(uint32_t generation, bool active_only = true) const
    {
        std::vector<pid_t> out;
        for (const WorkerProcess& w : pool->table().workers())
            if (w.generation == generation && (!active_only || w.active()))
                out.push_back(w.pid);
        return out;
    }
    void exit(pid_t pid, ExitStatus status) { ASSERT_TRUE(pool->worker_exited(pid, status, now)) << pid; }
    /// Starts the pool and makes every first worker ready.
    void start_ready(Config c)
    {
        start(c);
        for (pid_t p : pids(1))
            ready(p);
        tick();
    }

    int signalled(pid_t pid, int sig) const
    {
        return static_cast<int>(std::count(effects.signals.begin(), effects.signals.end(), std::make_pair(pid, sig)));
    }
    int signals_of(int sig) const
    {
        return static_cast<int>(std::count_if(effects.signals.begin(), effects.signals.end(),
                                              [sig](const auto& s) { return s.second == sig; }));
    }
    bool logged(const std::string& text) const
    {
        return std::any_of(effects.logs.begin(), effects.logs.end(),
                           [&](const auto& l) { return l.second.find(text) != std::string::npos; });
    }
    int noted(const std::string& note) const
    {
        return static_cast<int>(std::count(effects.notes.begin(), effects.notes.end(), note));
    }
    uint64_t restarts(StopReason reason) const
    {
        for (size_t i = 0; i < kRestartReasons.size(); ++i)
            if (stop_reason_name(reason) == std::string(kRestartReasons[i]))
                return pool->counters().restarts[i];
        return 0;
    }
    size_t spawned() const { return effects.spawns.size(); }

    double now = 1000;
    Config config;
    FakeReadings readings;
    Recorder effects{readings};
    std::unique_ptr<Pool> pool;
};

} // namespace drover::pool_testing

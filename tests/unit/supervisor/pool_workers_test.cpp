// The pool's work on single workers: limits and replacement, the crash-loop
// backoff, the worker count per pm mode, preloaded workers.
#include <gtest/gtest.h>

#include <signal.h>

#include "tests/unit/supervisor/pool_fixture.hpp"

namespace drover::pool_testing {
namespace {

// ---------------------------------------------------------------- recycling and timeouts

TEST_F(PoolTest, MaxRequestsWithJitterReplacesTheWorkerBeforeItStops)
{
    Config c = static_config(2);
    c.max_requests = 100;
    c.max_requests_jitter = 20;
    start_ready(c);
    pid_t old = pids(1)[0];
    uint64_t limit = worker(old).request_limit;
    EXPECT_GE(limit, 100u);
    EXPECT_LE(limit, 120u);
    serve(old, limit - 1);
    tick();
    EXPECT_EQ(spawned(), 2u);
    serve(old, limit);
    tick();
    EXPECT_TRUE(logged("reached max_requests: replacing it once a new worker is ready"));
    EXPECT_EQ(worker(old).phase, WorkerPhase::retiring);
    ASSERT_EQ(spawned(), 3u);  // the replacement, and only it
    pid_t successor = effects.spawns.back().pid;
    run_for(1);
    EXPECT_EQ(signalled(old, kSignalRetire), 0);  // it serves until its successor does
    ready(successor);
    tick();
    EXPECT_EQ(signalled(old, kSignalRetire), 1);
    exit(old, ExitStatus::exited(0));
    EXPECT_TRUE(logged("exited with code 0 after"));
    EXPECT_EQ(restarts(StopReason::max_requests), 1u);
    run_for(1);
    EXPECT_EQ(spawned(), 3u);
}

TEST_F(PoolTest, MaxRssIsReadOnceASecondAndReplacesTheWorkerFirst)
{
    Config c = static_config(1);
    c.max_rss_mib = 100;
    start_ready(c);
    pid_t fat = pids(1)[0];
    readings.rss[fat] = 150;
    int reads = readings.rss_reads;
    tick();
    tick();
    EXPECT_LE(readings.rss_reads - reads, 1);
    run_for(1);
    EXPECT_EQ(worker(fat).phase, WorkerPhase::retiring);
    EXPECT_TRUE(logged("reached max_rss"));
    ASSERT_EQ(spawned(), 2u);
    ready(effects.spawns.back().pid);
    tick();
    EXPECT_EQ(signalled(fat, kSignalRetire), 1);
}

TEST_F(PoolTest, MaxLifetimeReplacesEachWorkerFirst)
{
    Config c = static_config(2);
    c.max_lifetime = 60;
    start_ready(c);
    std::vector<pid_t> old = pids(1);
    run_for(60);
    tick();
    EXPECT_EQ(worker(old[0]).phase, WorkerPhase::retiring);
    EXPECT_EQ(worker(old[1]).phase, WorkerPhase::retiring);
    tick();
    ASSERT_EQ(spawned(), 4u);  // one replacement a tick
    EXPECT_EQ(signals_of(kSignalRetire), 0);
    ready(effects.spawns[2].pid);
    tick();
    EXPECT_EQ(signals_of(kSignalRetire), 1);
    ready(effects.spawns[3].pid);
    tick();
    EXPECT_EQ(signalled(old[0], kSignalRetire), 1);
    EXPECT_EQ(signalled(old[1], kSignalRetire), 1);
    exit(old[0], ExitStatus::exited(0));
    exit(old[1], ExitStatus::exited(0));
    run_for(1);
    EXPECT_EQ(spawned(), 4u);  // two for two: the pool is back at its target, not above
    EXPECT_EQ(pids(1).size(), 2u);
}

TEST_F(PoolTest, ARequestTimeoutAsksForATracebackThenKills)
{
    Config c = static_config(1);
    c.timeout = 10;
    start_ready(c);
    run_for(20);  // a request is never older than its worker
    pid_t stuck = pids(1)[0];
    busy(stuck, now - 9);
    tick();
    EXPECT_EQ(signals_of(SIGUSR2), 0);
    busy(stuck, now - 10.5);
    tick();
    EXPECT_EQ(signalled(stuck, SIGUSR2), 1);
    EXPECT_TRUE(logged("request timeout: worker 100 (slot 0, generation 1) has been busy for"));
    EXPECT_TRUE(logged("on 'http GET /slow'; its traceback follows, then it is killed and replaced"));
    EXPECT_EQ(pool->counters().timeouts, 1u);
    EXPECT_EQ(spawned(), 2u);  // replaced at once: it serves nobody any more
    tick(kTracebackGrace / 2);
    EXPECT_EQ(signalled(stuck, SIGKILL), 0);
    tick(kTracebackGrace / 2 + 0.01);
    EXPECT_EQ(signalled(stuck, SIGKILL), 1);
    EXPECT_EQ(signalled(stuck, SIGUSR2), 1);
    exit(stuck, ExitStatus::killed(SIGKILL));
    EXPECT_EQ(restarts(StopReason::timeout), 1u);
}

TEST_F(PoolTest, ARequestIsNeverOlderThanItsWorker)
{
    Config c = static_config(1);
    c.timeout = 10;
    start_ready(c);
    pid_t w = pids(1)[0];
    // A worker can write any start time into its slot.
    busy(w, 1.0);
    run_for(5);
    EXPECT_EQ(signals_of(SIGUSR2), 0);
    run_for(6);  // now the worker itself is older than the timeout
    EXPECT_EQ(signalled(w, SIGUSR2), 1);
}

TEST_F(PoolTest, ASlowRequestIsLoggedOncePerRequest)
{
    Config c = static_config(1);
    c.slow_request_timeout = 2;
    start_ready(c);
    run_for(5);
    pid_t w = pids(1)[0];
    busy(w, now - 3, 7);
    run_for(1);
    busy(w, now - 3, 8);
    run_for(1);
    EXPECT_EQ(signalled(w, SIGUSR2), 2);
    EXPECT_EQ(pool->counters().slow_requests, 2u);
    EXPECT_EQ(signals_of(SIGKILL), 0);
}

TEST_F(PoolTest, KeptConnectionsOfALongRequestAreAskedForOnceAnotherWorkerIsIdle)
{
    start_ready(static_config(2));
    run_for(1);
    pid_t a = pids(1)[0], b = pids(1)[1];
    // a kept 3 idle connections when its request began, b was busy too.
    busy(a, now, 5);
    busy(b, now, 9);
    slot_of(a).held_connections = 3;
    run_for(1);
    EXPECT_TRUE(effects.asked_for_connections.empty()) << "nobody idle to take them";
    // b is done: the next tick asks a for them, once for this request.
    serve(b, 1);
    tick();
    EXPECT_EQ(effects.asked_for_connections, std::vector<pid_t>{a});
    run_for(1);
    EXPECT_EQ(effects.asked_for_connections.size(), 1u);
    // A new request of a's that keeps connections is another matter.
    busy(a, now, 6);
    tick(0.02);
    EXPECT_EQ(effects.asked_for_connections.size(), 1u) << "not before kHandoffAfter";
    run_for(0.2);
    EXPECT_EQ(effects.asked_for_connections.size(), 2u);
}

TEST_F(PoolTest, AShortRequestOrNothingKeptNeverCostsAHandoff)
{
    start_ready(static_config(2));
    run_for(1);
    pid_t a = pids(1)[0];
    busy(a, now, 5);  // keeps nothing
    run_for(1);
    slot_of(a).held_connections = 2;
    busy(a, now - 0.01, 6);  // keeps some, but ends before kHandoffAfter
    tick(0.01);
    serve(a, 6);
    run_for(1);
    EXPECT_TRUE(effects.asked_for_connections.empty());
}

// ---------------------------------------------------------------- crash loop

TEST_F(PoolTest, AnAppThatFailsToImportIsRetriedWithDoublingDelaysOneProbeAtATime)
{
    start(static_config(2));
    for (pid_t p : pids(1))
        exit(p, ExitStatus::exited(kWorkerExitBootFailed));
    EXPECT_TRUE(logged("before it was ready (the application failed to load); failure 2, next attempt in 1.000 s"));
    tick();
    EXPECT_EQ(effects.notes.back().rfind("STATUS=crash loop: the application fails to start (2 failures)", 0), 0u);
    std::vector<double> attempts;
    for (int round = 0; round < 4; ++round) {
        size_t before = spawned();
        while (spawned() == before)
            tick();
        attempts.push_back(now);
        run_for(0.5);
        EXPECT_EQ(spawned(), before + 1);  // one probe at a time, though two are missing
        exit(effects.spawns.back().pid, ExitStatus::exited(kWorkerExitBootFailed));
    }
    std::vector<double> gaps;
    for (size_t i = 1; i < attempts.size(); ++i)
        gaps.push_back(attempts[i] - attempts[i - 1]);
    // Each attempt waits the announced delay (2, 4, 8 s) after the failure
    // that came half a second after the attempt before it.
    EXPECT_NEAR(gaps[0], 2.5, 0.15);
    EXPECT_NEAR(gaps[1], 4.5, 0.15);
    EXPECT_NEAR(gaps[2], 8.5, 0.15);
    EXPECT_TRUE(pool->backoff().active());
}

TEST_F(PoolTest, AWorkerThatCrashesSoonAfterItIsReadyCountsTowardTheBackoff)
{
    start_ready(static_config(2));
    std::vector<pid_t> p = pids(1);
    run_for(1);
    exit(p[0], ExitStatus::killed(SIGSEGV));
    EXPECT_TRUE(logged("s after it was ready, before its first answer; failure 1, next attempt in 0.500 s"));
    EXPECT_TRUE(pool->backoff().active());

    // One that answered first, or stayed up, is replaced at once.
    serve(p[1], 3);
    tick();
    EXPECT_FALSE(pool->backoff().active());  // an answer proves the app runs
    size_t before = spawned();
    exit(p[1], ExitStatus::killed(SIGSEGV));
    EXPECT_TRUE(logged("; replacing it"));
    tick();
    EXPECT_FALSE(pool->backoff().active());
    EXPECT_GE(spawned(), before + 1);
}

TEST_F(PoolTest, TheBackoffEndsOnlyWithAProvenWorker)
{
    start(static_config(1));
    exit(pids(1)[0], ExitStatus::exited(kWorkerExitBootFailed));
    run_for(0.6);
    pid_t probe = pids(1).at(0);
    ready(probe);
    tick();
    EXPECT_TRUE(pool->backoff().active());  // ready is not enough: it may crash on its first request
    run_for(kEarlyCrashSeconds - 0.5);
    EXPECT_TRUE(pool->backoff().active());
    run_for(0.6);
    EXPECT_FALSE(pool->backoff().active());  // up for kEarlyCrashSeconds
    EXPECT_TRUE(logged("worker " + std::to_string(probe) + " (slot 0, generation 1) is serving: the application runs again"));
}

TEST_F(PoolTest, AForkFailureCountsTowardTheBackoff)
{
    effects.outcomes = {SpawnResult::Outcome::failed_back_off, SpawnResult::Outcome::failed};
    start(static_config(2));
    EXPECT_TRUE(pool->backoff().active());
    EXPECT_TRUE(pool->table().empty());
    EXPECT_TRUE(effects.spawns.empty());
}

// ---------------------------------------------------------------- scaling

TEST_F(PoolTest, StaticReplacesACrashedWorkerAtOnce)
{
    start_ready(static_config(2));
    run_for(kEarlyCrashSeconds + 1);
    pid_t victim = pids(1)[0];
    exit(victim, ExitStatus::killed(SIGKILL));
    EXPECT_TRUE(logged("worker 100 (slot 0, generation 1) killed by signal 9 (SIGKILL) after"));
    EXPECT_TRUE(logged("; replacing it"));
    tick();
    EXPECT_EQ(spawned(), 3u);
    EXPECT_EQ(effects.spawns.back().slot, 0u);  // the freed slot
    EXPECT_EQ(restarts(StopReason::crash), 1u);
}

TEST_F(PoolTest, DynamicKeepsMinSpareUpToMaxWorkersAndShrinksAboveMaxSpare)
{
    Config c = static_config(2);
    c.pm = ProcessManager::dynamic_pool;
    c.min_spare = 1;
    c.max_spare = 2;
    c.max_workers = 4;
    start_ready(c);
    EXPECT_EQ(spawned(), 2u);
    for (pid_t p : pids(1))
        busy(p, now);
    tick();
    ASSERT_EQ(spawned(), 3u);  // a spare next to the busy ones
    busy(effects.spawns.back().pid, now);
    tick();
    ASSERT_EQ(spawned(), 4u);
    busy(effects.spawns.back().pid, now);
    tick();
    EXPECT_EQ(spawned(), 4u);  // max_workers
    EXPECT_GE(pool->counters().max_workers_reached, 1u);
    for (pid_t p : pids(1))
        serve(p, 1);
    tick();
    EXPECT_EQ(signals_of(kSignalRetire), 1);  // four idle is above max_spare: one a tick
    tick();
    EXPECT_EQ(signals_of(kSignalRetire), 2);
    run_for(1);
    EXPECT_EQ(signals_of(kSignalRetire), 2);  // down to the start count
    EXPECT_EQ(pids(1).size(), 2u);
}

TEST_F(PoolTest, OndemandSpawnsForAWaitingConnectionAndReapsIdleWorkers)
{
    Config c = static_config(2);
    c.pm = ProcessManager::ondemand;
    c.max_workers = 2;
    c.idle_timeout = 10;
    start(c);
    run_for(1);
    EXPECT_EQ(spawned(), 0u);
    // Ready without a worker: Type=notify must not wait for a first request.
    EXPECT_EQ(noted("READY=1"), 1);
    readings.waiting = true;
    tick();
    ASSERT_EQ(spawned(), 1u);
    tick();
    EXPECT_EQ(spawned(), 1u);  // one is starting: it will take the connection
    pid_t w = pids(1)[0];
    ready(w);
    tick();
    EXPECT_EQ(noted("READY=1"), 1);
    readings.waiting = false;
    run_for(9.5);
    EXPECT_EQ(signals_of(kSignalRetire), 0);
    run_for(1);
    EXPECT_TRUE(logged("worker 100 (slot 0, generation 1) idle for 10.000 s: stopping it"));
    EXPECT_EQ(signalled(w, kSignalRetire), 1);
    exit(w, ExitStatus::exited(0));
    run_for(1);
    EXPECT_EQ(spawned(), 1u);
    EXPECT_EQ(restarts(StopReason::scale_down), 1u);
}

// ---------------------------------------------------------------- preloading

TEST_F(PoolTest, AWorkerAZygoteHasNotReportedIsSignalledOnceItsPidIsKnown)
{
    effects.outcomes = {SpawnResult::Outcome::pending, SpawnResult::Outcome::pending};
    start(static_config(2));
    ASSERT_EQ(pids(1), (std::vector<pid_t>{0, 0}));
    pool->worker_forked(0, 500, 42);
    EXPECT_TRUE(logged("spawned worker 500 (slot 0, generation 1) from zygote 42"));
    ask(Intent::graceful_stop);
    EXPECT_EQ(effects.signals, (std::vector<std::pair<pid_t, int>>{{500, kSignalDrain}}));  // never kill(0)
    pool->worker_forked(1, 501, 42);
    EXPECT_EQ(signalled(501, kSignalDrain), 1);
}

TEST_F(PoolTest, AZygoteThatDiesBeforeImportingBacksOffOrRollsBackAReload)
{
    effects.outcomes = {SpawnResult::Outcome::pending, SpawnResult::Outcome::pending};
    start(static_config(2));
    pool->zygote_exited(42, 1, false, ExitStatus::exited(kWorkerExitBootFailed), now);
    EXPECT_TRUE(pool->table().empty());  // the workers it was forking never come
    EXPECT_TRUE(logged("zygote 42 exited with code 3 before it imported the application; failure 1"));
    EXPECT_TRUE(pool->backoff().active());

    run_for(1);
    for (pid_t p : pids(1))
        ready(p);
    run_for(kEarlyCrashSeconds + 1);
    effects.outcomes = {SpawnResult::Outcome::pending, SpawnResult::Outcome::pending};
    ask(Intent::reload);
    pool->zygote_exited(43, 2, false, ExitStatus::exited(kWorkerExitBootFailed), now);
    tick();
    EXPECT_TRUE(logged("before it imported the new application"));
    EXPECT_TRUE(logged("generation 2 is rolled back"));
}

} // namespace
} // namespace drover::pool_testing

// The pool's tick, its intents and the master's states: start, stopping,
// quitting, scaling by signal, log reopening.
#include <gtest/gtest.h>

#include <signal.h>

#include "tests/unit/supervisor/pool_fixture.hpp"

namespace drover::pool_testing {
namespace {

// ---------------------------------------------------------------- start

TEST_F(PoolTest, StartSpawnsTheTargetAndAnnouncesReadyWhenAllAreReady)
{
    start(static_config(2));
    ASSERT_EQ(spawned(), 2u);
    EXPECT_EQ(effects.spawns[0].generation, 1u);
    EXPECT_TRUE(logged("spawned worker 100 (slot 0, generation 1)"));
    std::vector<pid_t> p = pids(1);
    ready(p[0]);
    tick();
    EXPECT_EQ(worker(p[0]).phase, WorkerPhase::serving);
    EXPECT_TRUE(effects.notes.empty());  // one of two
    ready(p[1]);
    tick();
    EXPECT_EQ(effects.notes, (std::vector<std::string>{"READY=1", "STATUS=generation 1: 2 workers (2 idle, 0 busy)"}));
    run_for(1);
    EXPECT_EQ(spawned(), 2u);
    EXPECT_EQ(noted("READY=1"), 1);
}

TEST_F(PoolTest, SignalsOnlyRecordIntentUntilTheTick)
{
    start_ready(static_config(2));
    pool->request(Intent::reload, "SIGHUP");
    pool->request(Intent::graceful_stop, "SIGTERM");
    EXPECT_EQ(effects.configs_loaded, 0);
    EXPECT_TRUE(effects.signals.empty());
    EXPECT_EQ(pool->state(), MasterState::running);
    tick();
    // In arrival order: the reload started, and the stop overrode it.
    EXPECT_EQ(effects.configs_loaded, 1);
    EXPECT_EQ(pool->state(), MasterState::stopping);
    EXPECT_EQ(signals_of(kSignalDrain), 2);
}

// ---------------------------------------------------------------- stopping

TEST_F(PoolTest, AGracefulStopDrainsEveryWorkerRetiringOnesToo)
{
    start_ready(static_config(2));
    ask(Intent::reload);
    for (pid_t p : pids(2))
        ready(p);
    tick();
    std::vector<pid_t> old = pids(1, false);
    pid_t leaving = signalled(old[0], kSignalRetire) ? old[0] : old[1];
    pid_t waiting = leaving == old[0] ? old[1] : old[0];
    EXPECT_EQ(worker(waiting).phase, WorkerPhase::retiring);
    effects.notes.clear();

    ask(Intent::graceful_stop, "SIGTERM");
    EXPECT_EQ(pool->state(), MasterState::stopping);
    EXPECT_EQ(effects.notes, (std::vector<std::string>{"STOPPING=1"}));
    EXPECT_TRUE(logged("SIGTERM: stopping gracefully (graceful_timeout 30.000 s)"));
    EXPECT_EQ(effects.parked_closed, 1);
    for (const WorkerProcess& w : pool->table().workers())
        EXPECT_EQ(signalled(w.pid, kSignalDrain), 1) << w.pid;
    EXPECT_EQ(signalled(leaving, kSignalRetire), 1);  // and then the drain

    size_t before = spawned();
    std::vector<pid_t> all;
    for (const WorkerProcess& w : pool->table().workers())
        all.push_back(w.pid);
    for (pid_t p : all) {
        EXPECT_FALSE(pool->finished());
        exit(p, ExitStatus::exited(0));
        tick();
    }
    EXPECT_TRUE(pool->finished());
    EXPECT_EQ(spawned(), before);
    EXPECT_EQ(effects.retired_zygotes.back(), 0u);
    ask(Intent::reload);
    EXPECT_EQ(effects.configs_loaded, 1);  // a stop is final
}

TEST_F(PoolTest, AGracefulStopEscalatesToSigkillAtGracefulTimeout)
{
    Config c = static_config(2);
    c.graceful_timeout = 5;
    start_ready(c);
    std::vector<pid_t> p = pids(1);
    busy(p[0], now);
    ask(Intent::graceful_stop);
    exit(p[1], ExitStatus::exited(0));
    run_for(4.9);
    EXPECT_EQ(signals_of(SIGKILL), 0);
    run_for(0.2);
    EXPECT_EQ(signalled(p[0], SIGKILL), 1);
    EXPECT_TRUE(logged("graceful_timeout passed: killing worker 100 (slot 0, generation 1) (busy on 'http GET /slow')"));
    exit(p[0], ExitStatus::killed(SIGKILL));
    tick();
    EXPECT_TRUE(pool->finished());
}

TEST_F(PoolTest, QuittingKillsAtOnceAndOverridesAGracefulStop)
{
    start_ready(static_config(2));
    ask(Intent::graceful_stop);
    ask(Intent::quit, "SIGQUIT");
    EXPECT_EQ(pool->state(), MasterState::quitting);
    EXPECT_TRUE(logged("SIGQUIT: stopping now"));
    for (pid_t p : pids(1, false))
        EXPECT_EQ(signalled(p, SIGKILL), 1);
    ask(Intent::graceful_stop);
    EXPECT_EQ(pool->state(), MasterState::quitting);
    EXPECT_EQ(signals_of(kSignalDrain), 2);  // only from the first stop
}

TEST_F(PoolTest, AStopDuringAReloadDrainsBothGenerationsAndDropsAPendingReload)
{
    start_ready(static_config(2));
    ask(Intent::reload);
    ask(Intent::reload);
    ask(Intent::graceful_stop);
    EXPECT_EQ(signals_of(kSignalDrain), 4);
    for (pid_t p : pids(2, false))
        exit(p, ExitStatus::exited(kWorkerExitBootFailed));
    tick();
    EXPECT_EQ(pool->state(), MasterState::stopping);
    EXPECT_EQ(effects.configs_loaded, 1);
}

// ---------------------------------------------------------------- signals

TEST_F(PoolTest, TtinAndTtouMoveTheTargetByOne)
{
    start_ready(static_config(2));
    ask(Intent::add_worker, "SIGTTIN");
    EXPECT_TRUE(logged("SIGTTIN: 3 workers"));
    EXPECT_EQ(spawned(), 3u);
    ready(effects.spawns.back().pid);
    tick();
    ask(Intent::remove_worker, "SIGTTOU");
    EXPECT_TRUE(logged("SIGTTOU: 2 workers"));
    EXPECT_EQ(signalled(effects.spawns.back().pid, kSignalRetire), 1);  // the newest goes
    ask(Intent::remove_worker, "SIGTTOU");
    ask(Intent::remove_worker, "SIGTTOU");
    EXPECT_EQ(pool->target(), 1u);  // never below one
    EXPECT_EQ(signals_of(kSignalRetire), 2);
    EXPECT_EQ(spawned(), 3u);
}

TEST_F(PoolTest, TtinRaisesTheCeilingOfADynamicPool)
{
    Config c = static_config(2);
    c.pm = ProcessManager::dynamic_pool;
    c.max_workers = 4;
    start_ready(c);
    ask(Intent::add_worker, "SIGTTIN");
    EXPECT_TRUE(logged("SIGTTIN: at most 5 workers"));
    EXPECT_EQ(pool->target(), 5u);
}

TEST_F(PoolTest, Usr1ReopensTheLogsAndTellsEveryWorker)
{
    start_ready(static_config(2));
    ask(Intent::reopen_logs, "SIGUSR1");
    EXPECT_EQ(effects.logs_reopened, 1);
    EXPECT_EQ(signals_of(SIGUSR1), 2);
    EXPECT_EQ(effects.logs.back().second, "SIGUSR1: log files reopened");
}

// ---------------------------------------------------------------- draining

TEST_F(PoolTest, DrainingChangesOnlyWhatIsSaidAndOutlivesAReload)
{
    start_ready(static_config(2));
    effects.notes.clear();
    size_t signals_before = effects.signals.size();
    EXPECT_FALSE(pool->draining());
    EXPECT_TRUE(pool->request(Intent::drain, "POST /drain"));
    EXPECT_FALSE(pool->draining()) << "an intent waits for the tick";
    tick(0.01);
    EXPECT_TRUE(pool->draining());
    EXPECT_TRUE(logged("POST /drain: draining: /healthz answers 503 so that load balancers move traffic away; "
                       "requests are still served"));
    EXPECT_EQ(effects.notes, (std::vector<std::string>{"STATUS=generation 1: 2 workers (2 idle, 0 busy), draining"}));
    // The workers go on as they were: nobody is told anything, nothing spawns.
    run_for(1);
    EXPECT_EQ(effects.signals.size(), signals_before);
    EXPECT_EQ(spawned(), 2u);
    EXPECT_EQ(pool->state(), MasterState::running);

    ask(Intent::drain, "POST /drain");
    EXPECT_TRUE(logged("POST /drain: draining already"));
    EXPECT_TRUE(pool->draining());

    // A reload keeps it: the host is still on its way out.
    ask(Intent::reload, "SIGHUP");
    for (pid_t p : pids(2))
        ready(p);
    run_for(1);
    EXPECT_EQ(pool->generation(), 2u);
    EXPECT_EQ(pool->state(), MasterState::running);
    EXPECT_TRUE(pool->draining());

    effects.notes.clear();
    ask(Intent::undrain, "DELETE /drain");
    EXPECT_FALSE(pool->draining());
    EXPECT_TRUE(logged("DELETE /drain: draining ended: /healthz answers for the pool again"));
    ASSERT_FALSE(effects.notes.empty());
    EXPECT_EQ(effects.notes.back().find(", draining"), std::string::npos) << effects.notes.back();
    ask(Intent::undrain, "DELETE /drain");
    EXPECT_TRUE(logged("DELETE /drain: not draining"));
}

TEST_F(PoolTest, AnIntentThatFindsTheQueueFullIsRefusedAndSaidSo)
{
    start_ready(static_config(2));
    int taken = 0;
    while (pool->request(Intent::reopen_logs, "SIGUSR1"))
        ++taken;
    EXPECT_EQ(taken, 64);
    EXPECT_FALSE(pool->request(Intent::drain, "POST /drain"));
    EXPECT_TRUE(logged("POST /drain: 64 signals are waiting for the loop already; this one is dropped"));
    tick();
    EXPECT_FALSE(pool->draining());
    EXPECT_TRUE(pool->request(Intent::drain, "POST /drain"));
}

} // namespace
} // namespace drover::pool_testing

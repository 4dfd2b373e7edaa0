// Reloading to a new generation, and rolling it back.
#include <gtest/gtest.h>

#include <signal.h>

#include "tests/unit/supervisor/pool_fixture.hpp"

namespace drover::pool_testing {
namespace {

// ---------------------------------------------------------------- reload

TEST_F(PoolTest, ReloadRetiresTheOldGenerationOnlyOnceAllOfTheNewOneIsReady)
{
    start_ready(static_config(2));
    std::vector<pid_t> old = pids(1);
    effects.notes.clear();
    ask(Intent::reload, "SIGHUP");
    EXPECT_EQ(pool->state(), MasterState::reloading);
    EXPECT_EQ(pool->generation(), 2u);
    EXPECT_EQ(effects.notes.front(), "RELOADING=1");
    std::vector<pid_t> fresh = pids(2);
    ASSERT_EQ(fresh.size(), 2u);
    EXPECT_TRUE(logged("SIGHUP: reloading: starting generation 2 (generation 1 serves until it is ready)"));

    ready(fresh[0]);
    run_for(1);
    EXPECT_TRUE(effects.signals.empty());  // half a generation is not enough
    ready(fresh[1]);
    tick();
    EXPECT_EQ(pool->state(), MasterState::running);
    EXPECT_TRUE(logged("reload: generation 2 is ready; retiring generation 1 (1 at a time)"));
    EXPECT_EQ(noted("READY=1"), 1);
    EXPECT_EQ(effects.retired_zygotes, (std::vector<uint32_t>{2}));
    EXPECT_EQ(pool->counters().reloads_ok, 1u);
    EXPECT_EQ(signalled(old[0], kSignalRetire) + signalled(old[1], kSignalRetire), 1);
    EXPECT_EQ(spawned(), 4u);
}

TEST_F(PoolTest, TheOldGenerationLeavesMaxUnavailableAtATime)
{
    Config c = static_config(4);
    c.max_unavailable = 2;
    start_ready(c);
    std::vector<pid_t> old = pids(1);
    ask(Intent::reload);
    for (pid_t p : pids(2))
        ready(p);
    tick();
    run_for(1);
    auto retired = [&] {
        std::vector<pid_t> out;
        for (pid_t p : old)
            if (signalled(p, kSignalRetire))
                out.push_back(p);
        return out;
    };
    ASSERT_EQ(retired().size(), 2u);
    exit(retired()[0], ExitStatus::exited(0));
    tick();
    EXPECT_EQ(retired().size(), 3u);
    EXPECT_TRUE(logged("exited with code 0 after"));
    EXPECT_TRUE(logged("(reload)"));
    for (pid_t p : retired())
        if (alive(p))
            exit(p, ExitStatus::exited(0));
    tick();
    EXPECT_EQ(retired().size(), 4u);
    EXPECT_EQ(restarts(StopReason::reload), 3u);
}

TEST_F(PoolTest, AnInvalidConfigurationKeepsTheRunningGeneration)
{
    start_ready(static_config(2));
    effects.next_config.reset();
    effects.notes.clear();
    ask(Intent::reload);
    EXPECT_EQ(pool->state(), MasterState::running);
    EXPECT_EQ(pool->generation(), 1u);
    EXPECT_EQ(pool->counters().reloads_failed, 1u);
    EXPECT_EQ(spawned(), 2u);
    EXPECT_TRUE(effects.notes.empty());
}

TEST_F(PoolTest, ASighupDuringAReloadRunsAfterIt)
{
    start_ready(static_config(2));
    ask(Intent::reload);
    ask(Intent::reload, "SIGHUP");
    EXPECT_TRUE(logged("SIGHUP: a reload is in progress; the next one starts when it ends"));
    EXPECT_TRUE(pool->reload().pending);
    EXPECT_EQ(effects.configs_loaded, 1);
    EXPECT_EQ(pool->generation(), 2u);
    for (pid_t p : pids(2))
        ready(p);
    tick();
    EXPECT_TRUE(logged("reload: generation 2 is ready"));
    EXPECT_EQ(effects.configs_loaded, 2);
    EXPECT_EQ(pool->state(), MasterState::reloading);
    EXPECT_EQ(pool->generation(), 3u);
    EXPECT_EQ(pids(3).size(), 2u);
    EXPECT_EQ(noted("RELOADING=1"), 2);
}

// ---------------------------------------------------------------- rollback

TEST_F(PoolTest, AReloadWhoseNewAppFailsToImportIsRolledBack)
{
    start_ready(static_config(2));
    std::vector<pid_t> old = pids(1);
    ask(Intent::reload);
    std::vector<pid_t> fresh = pids(2);
    exit(fresh[0], ExitStatus::exited(kWorkerExitBootFailed));
    EXPECT_TRUE(logged("before it was ready (the new application failed to load)"));
    EXPECT_EQ(pool->reload().boot_failures, 1u);  // the tick acts on it
    EXPECT_EQ(pool->state(), MasterState::reloading);
    tick();
    EXPECT_EQ(pool->state(), MasterState::running);
    EXPECT_EQ(pool->generation(), 1u);
    EXPECT_TRUE(logged("reload failed: 1 new worker(s) died before they were ready; generation 2 is rolled back "
                       "and generation 1 keeps serving"));
    EXPECT_EQ(signalled(fresh[1], SIGKILL), 1);  // still importing: nothing to finish
    EXPECT_EQ(signalled(old[0], kSignalRetire) + signalled(old[1], kSignalRetire), 0);
    EXPECT_EQ(pool->counters().reloads_failed, 1u);
    EXPECT_EQ(effects.retired_zygotes.back(), 1u);
    EXPECT_FALSE(pool->backoff().active());  // a failed reload is not a crash loop
    exit(fresh[1], ExitStatus::killed(SIGKILL));
    run_for(1);
    EXPECT_EQ(spawned(), 4u);  // nothing respawned
    // The next reload is generation 2 again.
    ask(Intent::reload);
    EXPECT_EQ(pool->generation(), 2u);
}

TEST_F(PoolTest, AReloadWhoseNewWorkerCrashesAfterItIsReadyIsRolledBack)
{
    start_ready(static_config(2));
    ask(Intent::reload);
    std::vector<pid_t> fresh = pids(2);
    ready(fresh[0]);
    ready(fresh[1]);
    pool->worker_exited(fresh[0], ExitStatus::killed(SIGSEGV), now);  // between two ticks
    EXPECT_TRUE(logged("killed by signal 11 (SIGSEGV)"));
    tick();
    EXPECT_TRUE(logged("reload failed: 1 new worker(s) died before the whole generation was ready"));
    EXPECT_EQ(pool->generation(), 1u);
    EXPECT_EQ(signalled(fresh[1], kSignalRetire), 1);  // ready: it finishes what it holds
    EXPECT_EQ(pool->counters().restarts[0], 1u);       // a crash
}

TEST_F(PoolTest, AReloadNotReadyWithinStartupTimeoutIsRolledBack)
{
    Config c = static_config(2);
    c.startup_timeout = 5;
    start_ready(c);
    effects.next_config = c;
    ask(Intent::reload);
    std::vector<pid_t> fresh = pids(2);
    ready(fresh[0]);
    run_for(4.9);
    EXPECT_EQ(pool->state(), MasterState::reloading);
    run_for(0.2);
    EXPECT_EQ(pool->state(), MasterState::running);
    EXPECT_TRUE(logged("the new workers were not ready within startup_timeout (5.000 s)"));
    EXPECT_EQ(signalled(fresh[0], kSignalRetire), 1);
    EXPECT_EQ(signalled(fresh[1], SIGKILL), 1);
}

TEST_F(PoolTest, ARollbackRestoresTheRunningConfigurationAndTarget)
{
    start_ready(static_config(2));
    Config bigger = static_config(3);
    bigger.timeout = 7;
    effects.next_config = bigger;
    ask(Intent::reload);
    EXPECT_EQ(pids(2).size(), 3u);
    EXPECT_EQ(pool->target(), 3u);
    exit(pids(2)[0], ExitStatus::exited(kWorkerExitBootFailed));
    tick();
    EXPECT_EQ(pool->target(), 2u);
    EXPECT_EQ(pool->config().timeout, 30);
}

TEST_F(PoolTest, ASighupDuringAReloadThatFailsRunsAfterTheRollback)
{
    start_ready(static_config(2));
    ask(Intent::reload);
    ask(Intent::reload);
    exit(pids(2)[0], ExitStatus::exited(kWorkerExitBootFailed));
    tick();
    EXPECT_TRUE(logged("generation 2 is rolled back"));
    EXPECT_TRUE(logged("SIGHUP: running the reload that was asked for during the failed one"));
    EXPECT_EQ(effects.configs_loaded, 2);
    EXPECT_EQ(pool->state(), MasterState::reloading);
    EXPECT_EQ(pool->generation(), 2u);
    std::vector<pid_t> again = pids(2);
    ASSERT_EQ(again.size(), 2u);
    for (pid_t p : again)
        ready(p);
    tick();
    EXPECT_TRUE(logged("reload: generation 2 is ready; retiring generation 1"));
}

} // namespace
} // namespace drover::pool_testing

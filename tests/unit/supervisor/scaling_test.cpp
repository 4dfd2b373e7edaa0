#include <gtest/gtest.h>

#include "supervisor/scaling.hpp"

namespace drover {
namespace {

Config pool(ProcessManager pm)
{
    Config c;
    c.pm = pm;
    c.workers = 2;
    c.min_spare = 1;
    c.max_spare = 3;
    c.max_workers = 6;
    return c;
}

PoolCounts counts(uint32_t serving, uint32_t starting, uint32_t idle, uint32_t busy)
{
    return PoolCounts{serving, starting, idle, busy};
}

TEST(Scaling, StaticFillsUpToTheTarget)
{
    Config c = pool(ProcessManager::static_pool);
    EXPECT_EQ(decide_scaling(c, 4, counts(1, 0, 1, 0), false).spawn, 3u);
    EXPECT_EQ(decide_scaling(c, 4, counts(4, 0, 0, 4), true).spawn, 0u);
    EXPECT_EQ(initial_target(c), 2u);
}

TEST(Scaling, DynamicKeepsMinSpareIdle)
{
    Config c = pool(ProcessManager::dynamic_pool);
    EXPECT_EQ(initial_target(c), 6u);
    // start: the start count
    EXPECT_EQ(decide_scaling(c, 6, counts(0, 0, 0, 0), false).spawn, 2u);
    // all busy: one more spare
    EXPECT_EQ(decide_scaling(c, 6, counts(2, 0, 0, 2), false).spawn, 1u);
    // a spare is already starting: nothing
    EXPECT_EQ(decide_scaling(c, 6, counts(3, 1, 0, 2), false).spawn, 0u);
    // at the ceiling: nothing, and it says so
    ScalingDecision full = decide_scaling(c, 6, counts(6, 0, 0, 6), false);
    EXPECT_EQ(full.spawn, 0u);
    EXPECT_TRUE(full.max_reached);
}

TEST(Scaling, DynamicRetiresAboveMaxSpareButNotBelowTheStartCount)
{
    Config c = pool(ProcessManager::dynamic_pool);
    EXPECT_EQ(decide_scaling(c, 6, counts(5, 0, 5, 0), false).retire_idle, 1u);
    EXPECT_EQ(decide_scaling(c, 6, counts(4, 0, 3, 1), false).retire_idle, 0u);
    c.max_spare = 1;
    EXPECT_EQ(decide_scaling(c, 6, counts(2, 0, 2, 0), false).retire_idle, 0u);
}

TEST(Scaling, OndemandSpawnsOnlyForWaitingConnections)
{
    Config c = pool(ProcessManager::ondemand);
    EXPECT_EQ(decide_scaling(c, 6, counts(0, 0, 0, 0), false).spawn, 0u);
    EXPECT_EQ(decide_scaling(c, 6, counts(0, 0, 0, 0), true).spawn, 1u);
    EXPECT_EQ(decide_scaling(c, 6, counts(2, 0, 1, 1), true).spawn, 0u);  // an idle worker will take it
    EXPECT_EQ(decide_scaling(c, 6, counts(2, 1, 0, 1), true).spawn, 0u);  // one is on its way
    ScalingDecision full = decide_scaling(c, 6, counts(6, 0, 0, 6), true);
    EXPECT_EQ(full.spawn, 0u);
    EXPECT_TRUE(full.max_reached);
}

} // namespace
} // namespace drover

#include <gtest/gtest.h>

#include "supervisor/process_table.hpp"

namespace drover {
namespace {

WorkerProcess worker(pid_t pid, uint32_t slot, uint32_t generation)
{
    WorkerProcess w;
    w.pid = pid;
    w.slot = slot;
    w.generation = generation;
    return w;
}

TEST(ProcessTable, SlotsAreTakenAndFreedWithTheirWorkers)
{
    ProcessTable t(2);
    auto a = t.take_slot();
    auto b = t.take_slot();
    ASSERT_TRUE(a && b);
    EXPECT_NE(*a, *b);
    EXPECT_FALSE(t.take_slot());  // full

    t.add(worker(100, *a, 1));
    t.add(worker(101, *b, 1));
    ASSERT_NE(t.find(101), nullptr);
    EXPECT_EQ(t.find(101)->slot, *b);
    EXPECT_EQ(t.find(999), nullptr);

    auto removed = t.remove(100);
    ASSERT_TRUE(removed);
    EXPECT_EQ(removed->pid, 100);
    EXPECT_FALSE(t.remove(100));
    auto again = t.take_slot();
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *a);  // the freed slot is reused
}

TEST(ProcessTable, ServingCountsOnlyThisGenerationNotStopping)
{
    ProcessTable t(8);
    t.add(worker(1, 0, 1));
    t.add(worker(2, 1, 1));
    t.add(worker(3, 2, 2));
    t.find(2)->stop_reason = StopReason::max_requests;
    EXPECT_EQ(t.serving(1), 1u);
    EXPECT_EQ(t.serving(2), 1u);
    EXPECT_EQ(t.serving(3), 0u);
}

TEST(ProcessTable, ReleaseSlotGivesBackAnUnusedSlot)
{
    ProcessTable t(1);
    auto s = t.take_slot();
    ASSERT_TRUE(s);
    t.release_slot(*s);
    EXPECT_TRUE(t.take_slot());
}

} // namespace
} // namespace drover

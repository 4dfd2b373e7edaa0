#include <gtest/gtest.h>

#include "supervisor/process_table.hpp"

namespace drover {
namespace {

WorkerProcess worker(pid_t pid, uint32_t slot, uint32_t generation, double spawned_at = 0)
{
    WorkerProcess w;
    w.pid = pid;
    w.slot = slot;
    w.generation = generation;
    w.spawned_at = spawned_at;
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
    EXPECT_EQ(t.find(0), nullptr);  // never a worker a zygote has not reported

    auto removed = t.remove(100);
    ASSERT_TRUE(removed);
    EXPECT_EQ(removed->pid, 100);
    EXPECT_FALSE(t.remove(100));
    auto again = t.take_slot();
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *a);  // the freed slot is reused
}

TEST(ProcessTable, ReleaseSlotGivesBackAnUnusedSlot)
{
    ProcessTable t(1);
    auto s = t.take_slot();
    ASSERT_TRUE(s);
    t.release_slot(*s);
    EXPECT_TRUE(t.take_slot());
}

TEST(WorkerLifecycle, PhasesOnlyGoForward)
{
    WorkerProcess w;
    EXPECT_TRUE(w.enter(WorkerPhase::serving, StopReason::none, 1));
    EXPECT_TRUE(w.enter(WorkerPhase::retiring, StopReason::max_requests, 2));
    EXPECT_EQ(w.since, 2);
    EXPECT_FALSE(w.enter(WorkerPhase::serving, StopReason::none, 3));
    // A retiring worker keeps the first reason it was given.
    EXPECT_FALSE(w.enter(WorkerPhase::retiring, StopReason::reload, 3));
    EXPECT_EQ(w.why, StopReason::max_requests);
    EXPECT_TRUE(w.enter(WorkerPhase::stopping, StopReason::max_requests, 4));
    EXPECT_TRUE(w.enter(WorkerPhase::killed, StopReason::max_requests, 5));
    EXPECT_FALSE(w.enter(WorkerPhase::stopping, StopReason::shutdown, 6));
    EXPECT_EQ(w.phase, WorkerPhase::killed);
    EXPECT_EQ(w.since, 5);
}

TEST(WorkerLifecycle, WhileStoppingTimeoutAndShutdownOverrideARetireReason)
{
    WorkerProcess w;
    w.enter(WorkerPhase::stopping, StopReason::reload, 1);
    EXPECT_TRUE(w.enter(WorkerPhase::stopping, StopReason::shutdown, 2));
    EXPECT_EQ(w.why, StopReason::shutdown);
    EXPECT_EQ(w.since, 1);  // the same stop, now a drain
    EXPECT_FALSE(w.enter(WorkerPhase::stopping, StopReason::shutdown, 3));
    EXPECT_TRUE(w.enter(WorkerPhase::stopping, StopReason::timeout, 3));
    EXPECT_FALSE(w.enter(WorkerPhase::stopping, StopReason::shutdown, 4));  // it is killed in 0.3 s anyway
    EXPECT_EQ(w.why, StopReason::timeout);
}

TEST(WorkerLifecycle, ProvenByAnAnswerOrByStayingUp)
{
    WorkerProcess w;
    EXPECT_FALSE(w.proven(100));
    w.ready_at = 10;
    EXPECT_FALSE(w.proven(10 + kEarlyCrashSeconds - 0.1));
    EXPECT_TRUE(w.proven(10 + kEarlyCrashSeconds));
    w.last_served = 1;
    EXPECT_TRUE(w.proven(10.1));
}

TEST(ProcessTable, QueriesCountByGenerationAndPhase)
{
    ProcessTable t(8);
    t.add(worker(1, 0, 1, 10));
    t.add(worker(2, 1, 1, 11));
    t.add(worker(3, 2, 1, 12));
    t.add(worker(4, 3, 2, 13));
    t.add(worker(0, 4, 2, 14));  // a zygote's, not forked yet
    t.find(1)->enter(WorkerPhase::serving, StopReason::none, 20);
    t.find(1)->ready_at = 20;
    t.find(2)->enter(WorkerPhase::serving, StopReason::none, 20);
    t.find(2)->ready_at = 20;
    t.find(2)->enter(WorkerPhase::retiring, StopReason::max_requests, 21);
    t.find(3)->enter(WorkerPhase::stopping, StopReason::reload, 21);

    EXPECT_EQ(t.active(1), 1u);    // starting or serving
    EXPECT_EQ(t.staying(1), 2u);   // and retiring
    EXPECT_EQ(t.ready_staying(1), 2u);
    EXPECT_EQ(t.active(2), 2u);
    EXPECT_EQ(t.ready(), 2u);
    EXPECT_EQ(t.stopping_elsewhere(2, StopReason::reload), 1u);
    EXPECT_EQ(t.stopping_elsewhere(1, StopReason::reload), 0u);
    EXPECT_EQ(t.starting(1), 0u);
    EXPECT_EQ(t.starting(2), 2u);

    ASSERT_NE(t.newest_active(2), nullptr);
    EXPECT_EQ(t.newest_active(2)->slot, 4u);
    EXPECT_EQ(t.newest_active(2, [](const WorkerProcess& w) { return w.pid > 0; })->pid, 4);
    EXPECT_EQ(t.newest_active(1)->pid, 1);  // the retiring one is going already
    EXPECT_EQ(t.newest_active(3), nullptr);

    EXPECT_EQ(t.remove_unforked(2), 1u);
    EXPECT_EQ(t.find_slot(4), nullptr);
    EXPECT_EQ(t.active(2), 1u);
    EXPECT_TRUE(t.take_slot());  // slot 4 is free again
}

} // namespace
} // namespace drover

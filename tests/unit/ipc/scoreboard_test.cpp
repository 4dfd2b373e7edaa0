#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include "ipc/scoreboard.hpp"

namespace drover {
namespace {

TEST(Scoreboard, SlotsAreSharedWithAForkedChild)
{
    Scoreboard sb(4);
    EXPECT_EQ(sb.slot_count(), 4u);
    pid_t pid = fork();
    if (pid == 0) {
        Slot& s = sb.slot(2);
        s.pid.store(getpid());
        s.set_state(WorkerState::idle);
        s.counters.accepted_connections.add(5);
        _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_EQ(sb.slot(2).pid.load(), pid);
    EXPECT_EQ(sb.slot(2).load_state(), WorkerState::idle);
    EXPECT_EQ(sb.slot(2).counters.accepted_connections.load(), 5u);
    EXPECT_EQ(sb.slot(1).load_state(), WorkerState::empty);
}

TEST(Scoreboard, ResetSlotGivesAFreshSlot)
{
    Scoreboard sb(1);
    sb.slot(0).counters.accepted_connections.add(3);
    sb.slot(0).set_state(WorkerState::busy);
    Slot& fresh = sb.reset_slot(0);
    EXPECT_EQ(&fresh, &sb.slot(0));
    EXPECT_EQ(fresh.counters.accepted_connections.load(), 0u);
    EXPECT_EQ(fresh.load_state(), WorkerState::empty);
}

TEST(Scoreboard, OutOfRangeSlotThrows)
{
    Scoreboard sb(2);
    EXPECT_THROW(sb.slot(2), std::out_of_range);
}

} // namespace
} // namespace drover

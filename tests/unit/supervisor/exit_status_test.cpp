#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include "supervisor/exit_status.hpp"

namespace drover {
namespace {

TEST(ExitStatus, DescribesExitsAndSignals)
{
    EXPECT_EQ(ExitStatus::exited(3).describe(), "exited with code 3");
    EXPECT_EQ(ExitStatus::killed(SIGKILL).describe(), "killed by signal 9 (SIGKILL)");
    EXPECT_EQ(ExitStatus::killed(SIGSEGV, true).describe(), "killed by signal 11 (SIGSEGV), core dumped");
    EXPECT_TRUE(ExitStatus::exited(0).clean());
    EXPECT_FALSE(ExitStatus::exited(1).clean());
    EXPECT_FALSE(ExitStatus::killed(SIGTERM).clean());
    EXPECT_TRUE(ExitStatus::exited(3).exited_with(3));
    EXPECT_FALSE(ExitStatus::killed(3).exited_with(3));
}

TEST(ExitStatus, ReadsAWaitStatus)
{
    EXPECT_EQ(ExitStatus::from_wait_status(W_EXITCODE(3, 0)).describe(), "exited with code 3");
    EXPECT_EQ(ExitStatus::from_wait_status(W_EXITCODE(0, SIGTERM)).describe(), "killed by signal 15 (SIGTERM)");
    EXPECT_EQ(ExitStatus::from_wait_status(W_EXITCODE(0, SIGABRT) | WCOREFLAG).describe(),
              "killed by signal 6 (SIGABRT), core dumped");
}

} // namespace
} // namespace drover

#include <gtest/gtest.h>

#include "supervisor/restart_policy.hpp"

namespace drover {
namespace {

TEST(CrashBackoff, DoublesUpToTheCapAndResetsOnSuccess)
{
    CrashBackoff b(0.5, 4.0);
    EXPECT_TRUE(b.allows(0));
    EXPECT_FALSE(b.active());

    b.failure(10.0);
    EXPECT_TRUE(b.active());
    EXPECT_DOUBLE_EQ(b.delay(), 0.5);
    EXPECT_FALSE(b.allows(10.4));
    EXPECT_TRUE(b.allows(10.5));

    std::vector<double> delays;
    for (int i = 0; i < 5; ++i) {
        b.failure(20.0);
        delays.push_back(b.delay());
    }
    EXPECT_EQ(delays, (std::vector<double>{1.0, 2.0, 4.0, 4.0, 4.0}));
    EXPECT_EQ(b.failures(), 6u);
    EXPECT_DOUBLE_EQ(b.retry_at(), 24.0);

    b.success();
    EXPECT_FALSE(b.active());
    EXPECT_TRUE(b.allows(20.0));
    b.failure(30.0);
    EXPECT_DOUBLE_EQ(b.delay(), 0.5);
}

} // namespace
} // namespace drover

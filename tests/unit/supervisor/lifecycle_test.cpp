#include <gtest/gtest.h>

#include "supervisor/lifecycle.hpp"

namespace drover {
namespace {

TEST(Lifecycle, QuittingOverridesStoppingOverridesReloading)
{
    using S = MasterState;
    EXPECT_TRUE(master_may_enter(S::running, S::reloading));
    EXPECT_TRUE(master_may_enter(S::reloading, S::running));  // the reload ended
    EXPECT_TRUE(master_may_enter(S::reloading, S::stopping));
    EXPECT_TRUE(master_may_enter(S::stopping, S::quitting));
    EXPECT_TRUE(master_may_enter(S::running, S::quitting));
    EXPECT_FALSE(master_may_enter(S::reloading, S::reloading));  // deferred, not restarted
    EXPECT_FALSE(master_may_enter(S::stopping, S::reloading));
    EXPECT_FALSE(master_may_enter(S::stopping, S::running));
    EXPECT_FALSE(master_may_enter(S::quitting, S::stopping));
    EXPECT_FALSE(master_may_enter(S::stopping, S::stopping));
}

TEST(Lifecycle, KilledOverridesStoppingOverridesRetiring)
{
    using P = WorkerPhase;
    EXPECT_TRUE(worker_may_enter(P::starting, P::serving));
    EXPECT_TRUE(worker_may_enter(P::serving, P::retiring));
    EXPECT_TRUE(worker_may_enter(P::retiring, P::stopping));
    EXPECT_TRUE(worker_may_enter(P::starting, P::killed));
    EXPECT_FALSE(worker_may_enter(P::killed, P::stopping));
    EXPECT_FALSE(worker_may_enter(P::stopping, P::retiring));
    EXPECT_FALSE(worker_may_enter(P::retiring, P::serving));
    EXPECT_FALSE(worker_may_enter(P::serving, P::serving));
}

TEST(Lifecycle, TimeoutAndShutdownOverrideRetireReasons)
{
    using R = StopReason;
    EXPECT_TRUE(reason_overrides(R::none, R::reload));
    EXPECT_TRUE(reason_overrides(R::reload, R::shutdown));
    EXPECT_TRUE(reason_overrides(R::max_rss, R::shutdown));
    EXPECT_TRUE(reason_overrides(R::scale_down, R::shutdown));
    EXPECT_TRUE(reason_overrides(R::shutdown, R::timeout));
    EXPECT_FALSE(reason_overrides(R::timeout, R::shutdown));
    EXPECT_FALSE(reason_overrides(R::shutdown, R::reload));
    EXPECT_FALSE(reason_overrides(R::max_requests, R::reload));
    EXPECT_FALSE(reason_overrides(R::reload, R::reload));
    EXPECT_FALSE(reason_overrides(R::none, R::none));
}

TEST(Lifecycle, RecyclingIsTheThreeLimits)
{
    EXPECT_TRUE(is_recycling(StopReason::max_requests));
    EXPECT_TRUE(is_recycling(StopReason::max_rss));
    EXPECT_TRUE(is_recycling(StopReason::max_lifetime));
    EXPECT_FALSE(is_recycling(StopReason::timeout));
    EXPECT_FALSE(is_recycling(StopReason::reload));
    EXPECT_STREQ(stop_reason_name(StopReason::max_lifetime), "max_lifetime");
    EXPECT_STREQ(worker_phase_name(WorkerPhase::retiring), "retiring");
    EXPECT_STREQ(master_state_name(MasterState::quitting), "quitting");
}

} // namespace
} // namespace drover

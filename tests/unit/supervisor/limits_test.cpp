#include <gtest/gtest.h>

#include "supervisor/limits.hpp"

namespace drover {
namespace {

Config limits_config()
{
    Config c;
    c.timeout = 10;
    c.slow_request_timeout = 2;
    c.max_requests = 100;
    c.max_requests_jitter = 10;
    c.max_rss_mib = 200;
    c.max_lifetime = 3600;
    return c;
}

WorkerProcess worker()
{
    WorkerProcess w;
    w.pid = 42;
    w.spawned_at = 1000;
    w.ready_at = 1000.5;
    w.phase = WorkerPhase::serving;
    w.request_limit = 105;
    return w;
}

TEST(Limits, JitterStaysWithinItsRange)
{
    Config c = limits_config();
    EXPECT_EQ(request_limit_for(c, 0.0), 100u);
    EXPECT_EQ(request_limit_for(c, 0.999999), 110u);
    c.max_requests = 0;
    EXPECT_EQ(request_limit_for(c, 0.5), 0u);
}

TEST(Limits, TimeoutBeatsEverythingElse)
{
    SlotReading s;
    s.busy = true;
    s.request_age = 10.5;
    s.requests_served = 1000;
    LimitDecision d = check_limits(limits_config(), worker(), s, 1001);
    EXPECT_EQ(d.action, LimitAction::timeout);
    EXPECT_EQ(d.reason, StopReason::timeout);
}

TEST(Limits, SlowRequestIsLoggedOncePerRequest)
{
    SlotReading s;
    s.busy = true;
    s.request_age = 3;
    s.request_seq = 7;
    WorkerProcess w = worker();
    EXPECT_EQ(check_limits(limits_config(), w, s, 1001).action, LimitAction::log_slow);
    w.slow_logged_seq = 7;
    EXPECT_EQ(check_limits(limits_config(), w, s, 1001).action, LimitAction::none);
    s.request_seq = 8;  // the next slow request is logged again
    EXPECT_EQ(check_limits(limits_config(), w, s, 1001).action, LimitAction::log_slow);
}

TEST(Limits, RecyclingReasons)
{
    Config c = limits_config();
    SlotReading s;
    s.requests_served = 105;
    EXPECT_EQ(check_limits(c, worker(), s, 1001).reason, StopReason::max_requests);
    s.requests_served = 104;
    EXPECT_EQ(check_limits(c, worker(), s, 1001).action, LimitAction::none);
    s.rss_mib = 201;
    EXPECT_EQ(check_limits(c, worker(), s, 1001).reason, StopReason::max_rss);
    s.rss_mib = 0;
    EXPECT_EQ(check_limits(c, worker(), s, 1000 + 3601).reason, StopReason::max_lifetime);
    WorkerProcess retiring = worker();
    retiring.phase = WorkerPhase::retiring;
    retiring.why = StopReason::max_lifetime;
    EXPECT_EQ(check_limits(c, retiring, s, 1000 + 3601).action, LimitAction::none);
}

TEST(Limits, AStoppingWorkerIsHeldToItsRequestTimeoutButNotRecycled)
{
    Config c = limits_config();
    WorkerProcess w = worker();
    w.phase = WorkerPhase::stopping;
    w.why = StopReason::reload;
    SlotReading s;
    s.requests_served = 1000;
    EXPECT_EQ(check_limits(c, w, s, 1000 + 3601).action, LimitAction::none);
    s.busy = true;
    s.request_age = 11;
    EXPECT_EQ(check_limits(c, w, s, 1001).action, LimitAction::timeout);
}

TEST(Limits, ZeroMeansOff)
{
    Config c;  // defaults: no max_requests, no rss, no lifetime, slow off
    c.timeout = 0;
    WorkerProcess w = worker();
    w.request_limit = 0;
    SlotReading s;
    s.busy = true;
    s.request_age = 1e6;
    s.requests_served = 1u << 30;
    s.rss_mib = 1u << 20;
    EXPECT_EQ(check_limits(c, w, s, 1e9).action, LimitAction::none);
}

} // namespace
} // namespace drover

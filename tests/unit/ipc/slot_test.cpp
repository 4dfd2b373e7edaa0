#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "ipc/slot.hpp"

namespace drover {
namespace {

TEST(Slot, SummaryRoundTripsAndIsCut)
{
    Slot s;
    s.begin_request(123, "http GET /path");
    char buf[Slot::kSummaryBytes];
    EXPECT_EQ(s.read_summary(buf, sizeof buf), strlen("http GET /path"));
    EXPECT_STREQ(buf, "http GET /path");
    EXPECT_EQ(s.load_state(), WorkerState::busy);
    EXPECT_EQ(s.request_start_ns.load(), 123u);
    EXPECT_EQ(s.request_seq.load(), 1u);

    std::string long_path = "http GET /" + std::string(500, 'x');
    s.begin_request(456, long_path);
    EXPECT_EQ(s.read_summary(buf, sizeof buf), Slot::kSummaryBytes - 1);
    EXPECT_EQ(std::string(buf), long_path.substr(0, Slot::kSummaryBytes - 1));
    EXPECT_EQ(s.request_seq.load(), 2u);

    s.end_request();
    EXPECT_EQ(s.request_start_ns.load(), 0u);
    EXPECT_EQ(s.requests_served.load(), 1u);
}

TEST(Slot, SummaryReadDuringAWriteIsEmpty)
{
    Slot s;
    s.begin_request(1, "http GET /a");
    s.summary_seq.store(s.summary_seq.load() + 1);  // a writer in the middle
    char buf[32];
    EXPECT_EQ(s.read_summary(buf, sizeof buf), 0u);
    EXPECT_STREQ(buf, "");
}

TEST(SlotCounters, RecordsByClassAndBucket)
{
    SlotCounters c;
    c.record(Protocol::http, 200, 500, 10, 20);         // 0.5 ms -> first bucket
    c.record(Protocol::http, 404, 3000, 0, 5);          // 3 ms -> le=0.005
    c.record(Protocol::fastcgi, 503, 120000000, 1, 1);  // 120 s -> +Inf
    const auto& http = c.protocols[static_cast<size_t>(Protocol::http)];
    EXPECT_EQ(http.requests_by_class[1].load(), 1u);
    EXPECT_EQ(http.requests_by_class[3].load(), 1u);
    EXPECT_EQ(http.duration_buckets[0].load(), 1u);
    EXPECT_EQ(http.duration_buckets[2].load(), 1u);
    EXPECT_EQ(http.duration_us_sum.load(), 3500u);
    EXPECT_EQ(http.request_bytes.load(), 10u);
    EXPECT_EQ(http.response_bytes.load(), 25u);
    const auto& fcgi = c.protocols[static_cast<size_t>(Protocol::fastcgi)];
    EXPECT_EQ(fcgi.requests_by_class[4].load(), 1u);
    EXPECT_EQ(fcgi.duration_buckets[kDurationBuckets - 1].load(), 1u);
}

TEST(CounterTotals, FoldAddsEveryCounter)
{
    Slot a, b;
    a.counters.record(Protocol::scgi, 200, 10, 1, 2);
    a.end_request();
    b.counters.record(Protocol::scgi, 200, 20, 3, 4);
    b.counters.accepted_connections.add(7);
    b.end_request();
    CounterTotals t;
    t.fold(a);
    t.fold(b);
    const auto& scgi = t.protocols[static_cast<size_t>(Protocol::scgi)];
    EXPECT_EQ(scgi.requests_by_class[1], 2u);
    EXPECT_EQ(scgi.duration_us_sum, 30u);
    EXPECT_EQ(scgi.request_bytes, 4u);
    EXPECT_EQ(scgi.response_bytes, 6u);
    EXPECT_EQ(t.accepted_connections, 7u);
    EXPECT_EQ(t.requests_served, 2u);
}

TEST(Slot, CheckedStateIsNothingOutsideTheEnum)
{
    EXPECT_EQ(checked_worker_state(0), WorkerState::empty);
    EXPECT_EQ(checked_worker_state(4), WorkerState::stopping);
    EXPECT_FALSE(checked_worker_state(5));
    EXPECT_FALSE(checked_worker_state(0xffffffffu));
    Slot s;
    s.state.store(9);
    EXPECT_FALSE(s.checked_state());
    s.set_state(WorkerState::busy);
    EXPECT_EQ(s.checked_state(), WorkerState::busy);
}

TEST(Slot, SummaryWithoutATerminatorIsCutAndTerminated)
{
    Slot s;
    for (auto& word : s.summary_words)
        word.store(0x4141414141414141ULL);  // "AAAAAAAA", no NUL anywhere
    char buf[Slot::kSummaryBytes];
    EXPECT_EQ(s.read_summary(buf, sizeof buf), Slot::kSummaryBytes - 1);
    EXPECT_EQ(std::string(buf), std::string(Slot::kSummaryBytes - 1, 'A'));
    char small[8];
    EXPECT_EQ(s.read_summary(small, sizeof small), 7u);
    EXPECT_STREQ(small, "AAAAAAA");
    s.summary_seq.store(0xffffffffu);  // "being written" for ever: no summary
    EXPECT_EQ(s.read_summary(buf, sizeof buf), 0u);
}

TEST(CounterTotals, AdvanceTakesOnlyGrowthWithinTheLimit)
{
    Slot s;
    s.counters.accepted_connections.add(10);
    CounterTotals t;
    t.advance(s);
    EXPECT_EQ(t.accepted_connections, 10u);
    s.counters.accepted_connections.add(UINT64_MAX - 4);  // wraps to 5: went down
    t.advance(s);
    EXPECT_EQ(t.accepted_connections, 10u);
    s.counters.accepted_connections.add(kSlotCounterLimit);  // 5 + 2^53: past the limit
    t.advance(s);
    EXPECT_EQ(t.accepted_connections, 10u);
    Slot fresh;
    fresh.counters.accepted_connections.add(kSlotCounterLimit);  // exactly the limit is a count
    t.advance(fresh);
    EXPECT_EQ(t.accepted_connections, kSlotCounterLimit);
}

TEST(CounterTotals, FoldSkipsImpossibleValuesAndAddSaturates)
{
    Slot s;
    s.counters.record(Protocol::http, 200, 10, 1, 2);
    s.counters.protocols[0].response_bytes.add(UINT64_MAX - 10);
    CounterTotals t;
    t.fold(s);
    EXPECT_EQ(t.protocols[0].requests_by_class[1], 1u);
    EXPECT_EQ(t.protocols[0].response_bytes, 0u) << "a value past the limit is not folded";

    CounterTotals big;
    big.accepted_connections = UINT64_MAX - 1;
    big.protocols[2].duration_buckets[3] = UINT64_MAX;
    big.add(big);
    EXPECT_EQ(big.accepted_connections, UINT64_MAX);
    EXPECT_EQ(big.protocols[2].duration_buckets[3], UINT64_MAX);
}

} // namespace
} // namespace drover

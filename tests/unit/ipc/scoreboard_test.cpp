#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <random>

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

// A worker can write anything anywhere in the mapping; these tests do what a
// scribbling worker would and hold the master-side reads to their promises.

/// Fills the whole shared mapping, header included, with random bytes.
void scribble(Scoreboard& sb, uint32_t seed)
{
    std::mt19937_64 random(seed);
    auto* bytes = static_cast<unsigned char*>(const_cast<void*>(sb.mapping()));
    for (size_t i = 0; i < sb.mapping_size(); ++i)
        bytes[i] = static_cast<unsigned char>(random());
}

TEST(Scoreboard, SlotCountIsTheMastersOwnWhateverTheHeaderSays)
{
    Scoreboard sb(4);
    auto* header = static_cast<ScoreboardHeader*>(const_cast<void*>(sb.mapping()));
    EXPECT_EQ(header->magic, ScoreboardHeader::kMagic);
    EXPECT_EQ(header->slot_count, 4u);
    for (uint32_t bad : {0u, 1u, 0xffffffffu}) {
        header->slot_count = bad;
        EXPECT_EQ(sb.slot_count(), 4u);
        EXPECT_NO_THROW(sb.slot(3));
        EXPECT_NO_THROW(sb.read(3));
        EXPECT_THROW(sb.slot(4), std::out_of_range);
        EXPECT_THROW(sb.read(4), std::out_of_range);
    }
}

TEST(Scoreboard, ReadGivesNoStateForAWordOutsideTheEnum)
{
    Scoreboard sb(1);
    sb.slot(0).set_state(WorkerState::stopping);
    EXPECT_EQ(sb.read(0).state, WorkerState::stopping);
    for (uint32_t bad : {5u, 77u, 0x80000000u, 0xffffffffu}) {
        sb.slot(0).state.store(bad);
        EXPECT_FALSE(sb.read(0).state.has_value()) << bad;
    }
}

TEST(Scoreboard, CountersNeverGoBackwardsNorPastTheLimit)
{
    Scoreboard sb(2);
    ProtocolCounters& http = sb.slot(0).counters.protocols[0];
    sb.slot(0).counters.record(Protocol::http, 200, 1000, 10, 20);
    sb.slot(0).counters.record(Protocol::http, 200, 1000, 10, 20);
    EXPECT_EQ(sb.read(0).counters.protocols[0].requests_by_class[1], 2u);

    // A worker writes a smaller value, then one past what a worker can count:
    // the master keeps what it had accepted.
    std::memset(static_cast<void*>(&http.requests_by_class[1]), 0, sizeof http.requests_by_class[1]);
    EXPECT_EQ(sb.read(0).counters.protocols[0].requests_by_class[1], 2u);
    http.response_bytes.add(UINT64_MAX - 100);
    EXPECT_EQ(sb.counters(0).protocols[0].response_bytes, 40u);
    http.request_bytes.add(kSlotCounterLimit);  // 20 + 2^53: over the limit
    EXPECT_EQ(sb.counters(0).protocols[0].request_bytes, 20u);

    // Growth within the limit is taken, even from the lowered value.
    sb.slot(0).counters.record(Protocol::http, 200, 1000, 0, 0);
    sb.slot(0).counters.record(Protocol::http, 200, 1000, 0, 0);
    sb.slot(0).counters.record(Protocol::http, 200, 1000, 0, 0);
    EXPECT_EQ(sb.read(0).counters.protocols[0].requests_by_class[1], 3u);

    // The other slot's reads are its own; a reset starts the slot over.
    EXPECT_EQ(sb.read(1).counters.protocols[0].requests_by_class[1], 0u);
    sb.reset_slot(0);
    EXPECT_EQ(sb.read(0).counters.protocols[0].requests_by_class[1], 0u);
}

TEST(Scoreboard, RandomBytesEverywhereReadAsBoundedValues)
{
    Scoreboard sb(8);
    for (uint32_t seed = 1; seed <= 200; ++seed) {
        scribble(sb, seed);
        ASSERT_EQ(sb.slot_count(), 8u);
        for (uint32_t i = 0; i < sb.slot_count(); ++i) {
            CheckedSlot r = sb.read(i);
            if (r.state) {
                EXPECT_LT(static_cast<uint32_t>(*r.state), kWorkerStateCount);
            }
            ASSERT_LT(r.summary_size, Slot::kSummaryBytes);
            EXPECT_EQ(r.summary[r.summary_size], '\0');
            EXPECT_EQ(std::strlen(r.summary), r.summary_size);
            for (const auto& p : r.counters.protocols) {
                for (uint64_t v : p.requests_by_class)
                    EXPECT_LE(v, kSlotCounterLimit);
                for (uint64_t v : p.duration_buckets)
                    EXPECT_LE(v, kSlotCounterLimit);
                EXPECT_LE(p.duration_us_sum, kSlotCounterLimit);
            }
            EXPECT_LE(r.counters.requests_served, kSlotCounterLimit);
        }
    }
}

TEST(Scoreboard, AForkedChildCannotShrinkTheMastersSlotCount)
{
    Scoreboard sb(4);
    pid_t pid = fork();
    if (pid == 0) {
        auto* header = static_cast<ScoreboardHeader*>(const_cast<void*>(sb.mapping()));
        header->slot_count = 1;
        header->magic = 0;
        _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_EQ(static_cast<const ScoreboardHeader*>(sb.mapping())->slot_count, 1u) << "the child wrote the shared header";
    EXPECT_EQ(sb.slot_count(), 4u);
    EXPECT_NO_THROW(sb.read(3));
}

} // namespace
} // namespace drover

// One worker's slot in the scoreboard.
//
// Exactly one process writes a slot: the worker that owns it. The master only
// reads, and resets a slot (by constructing a fresh one) only before it forks
// the slot's next owner. Every field is a lock-free atomic so that a worker
// killed mid-write leaves nothing locked and nothing torn beyond one field.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

namespace drover {

enum class WorkerState : uint32_t { empty = 0, starting, idle, busy, stopping };
inline constexpr size_t kWorkerStateCount = 5;
const char* worker_state_name(WorkerState state);
/// A state word as read from a slot: a worker can write anything there, so a
/// value outside the enum is no state at all, never an index.
std::optional<WorkerState> checked_worker_state(uint32_t raw) noexcept;

enum class Protocol : uint8_t { http = 0, fastcgi = 1, scgi = 2 };
inline constexpr size_t kProtocolCount = 3;
const char* protocol_name(Protocol protocol);

/// Upper bounds (seconds) of the request duration histogram, 1 ms to 60 s;
/// one more bucket counts everything above the last (+Inf).
inline constexpr std::array<double, 15> kDurationBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                           0.5,   1.0,    2.5,   5.0,  10.0,  30.0, 60.0};
inline constexpr size_t kDurationBuckets = kDurationBounds.size() + 1;
/// Status classes 1xx..5xx, index = code / 100 - 1.
inline constexpr size_t kStatusClasses = 5;

/// A counter with one writer: increments are a relaxed load and store, no
/// locked instruction on the request path; readers see whole values.
class SingleWriterCounter {
public:
    void add(uint64_t n) noexcept { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    uint64_t load() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

/// Per-protocol request statistics of one worker (monotonic over its life).
struct ProtocolCounters {
    std::array<SingleWriterCounter, kStatusClasses> requests_by_class;
    std::array<SingleWriterCounter, kDurationBuckets> duration_buckets;  // not cumulative
    SingleWriterCounter duration_us_sum;
    SingleWriterCounter request_bytes;
    SingleWriterCounter response_bytes;
};

struct SlotCounters {
    std::array<ProtocolCounters, kProtocolCount> protocols;
    SingleWriterCounter accepted_connections;

    /// Records one finished request.
    void record(Protocol protocol, int status, uint64_t duration_us, uint64_t bytes_in, uint64_t bytes_out) noexcept;
};

struct Slot {
    static constexpr size_t kSummaryWords = 12;
    static constexpr size_t kSummaryBytes = kSummaryWords * sizeof(uint64_t);

    std::atomic<int32_t> pid{0};
    std::atomic<uint32_t> generation{0};
    std::atomic<uint32_t> state{static_cast<uint32_t>(WorkerState::empty)};
    /// CLOCK_MONOTONIC ns when the current request's head arrived; 0 when idle.
    std::atomic<uint64_t> request_start_ns{0};
    /// Increments at every request start: tells the master "still the same request".
    std::atomic<uint64_t> request_seq{0};
    SingleWriterCounter requests_served;
    /// Idle kept connections the worker holds during its current request,
    /// which the master may ask for (kSignalHandoff) if it runs long.
    std::atomic<uint32_t> held_connections{0};
    /// Seqlock over summary_words: odd while the worker writes.
    std::atomic<uint32_t> summary_seq{0};
    std::array<std::atomic<uint64_t>, kSummaryWords> summary_words{};
    SlotCounters counters;

    /// Unchecked: whatever the word holds, cast. The master wants checked_state().
    WorkerState load_state() const noexcept { return static_cast<WorkerState>(state.load(std::memory_order_acquire)); }
    std::optional<WorkerState> checked_state() const noexcept
    {
        return checked_worker_state(state.load(std::memory_order_acquire));
    }
    void set_state(WorkerState s) noexcept { state.store(static_cast<uint32_t>(s), std::memory_order_release); }

    /// Worker side: marks a request as started, with a summary such as
    /// "http GET /path" cut to kSummaryBytes - 1.
    void begin_request(uint64_t now_ns, std::string_view summary) noexcept;
    void end_request() noexcept;
    /// Reader side: the summary, or empty when it changed during the read.
    /// Always NUL-terminated and at most kSummaryBytes - 1 long, whatever
    /// bytes the slot holds.
    size_t read_summary(char* out, size_t size) const noexcept;
};

static_assert(std::is_standard_layout_v<Slot>);
static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(std::atomic<int32_t>::is_always_lock_free);

/// The largest value the master takes from one slot counter: 2^53, where a
/// double (the Prometheus sample type) stops counting exactly. A worker does
/// not serve 9e15 requests or bytes in its life; a value past this is memory
/// the worker scribbled on, not a count.
inline constexpr uint64_t kSlotCounterLimit = uint64_t{1} << 53;

/// Plain (master-memory) sums of slot counters: the master keeps the totals of
/// reaped workers in one, so exported counters never go backwards when a
/// worker is replaced, and a scrape adds the live slots to a copy of it.
/// Sums saturate at UINT64_MAX instead of wrapping.
struct CounterTotals {
    struct Protocol {
        std::array<uint64_t, kStatusClasses> requests_by_class{};
        std::array<uint64_t, kDurationBuckets> duration_buckets{};
        uint64_t duration_us_sum = 0;
        uint64_t request_bytes = 0;
        uint64_t response_bytes = 0;
    };
    std::array<Protocol, kProtocolCount> protocols{};
    uint64_t accepted_connections = 0;
    uint64_t requests_served = 0;

    /// Adds one slot's counters as advance() from zero would read them.
    void fold(const Slot& slot) noexcept;
    void add(const CounterTotals& other) noexcept;
    /// Moves these values (what the master accepted at its last read of the
    /// same worker's slot) forward to the slot's: a slot counter only ever
    /// grows, so a value that went down, or past kSlotCounterLimit, is
    /// garbage and the previous value stays. The result never goes backwards
    /// whatever the worker writes.
    void advance(const Slot& slot) noexcept;
};

/// One slot's values copied out of shared memory once and checked, for the
/// master to use without trusting the worker that writes them.
struct CheckedSlot {
    /// Nothing when the state word is outside WorkerState.
    std::optional<WorkerState> state;
    /// CLOCK_MONOTONIC ns of the current request's start, 0 when none; not
    /// checked against a clock here (the reader knows its own now).
    uint64_t request_start_ns = 0;
    uint64_t request_seq = 0;
    /// Idle connections held during the request (capped: a count, never an index).
    uint32_t held_connections = 0;
    /// Monotonic per worker (see CounterTotals::advance).
    CounterTotals counters;
    size_t summary_size = 0;
    char summary[Slot::kSummaryBytes] = {};
};

} // namespace drover

#include "ipc/slot.hpp"

#include <algorithm>
#include <cstring>

namespace drover {

const char* worker_state_name(WorkerState state)
{
    switch (state) {
    case WorkerState::empty: return "empty";
    case WorkerState::starting: return "starting";
    case WorkerState::idle: return "idle";
    case WorkerState::busy: return "busy";
    case WorkerState::stopping: return "stopping";
    }
    return "unknown";
}

std::optional<WorkerState> checked_worker_state(uint32_t raw) noexcept
{
    if (raw >= kWorkerStateCount)
        return std::nullopt;
    return static_cast<WorkerState>(raw);
}

const char* protocol_name(Protocol protocol)
{
    switch (protocol) {
    case Protocol::http: return "http";
    case Protocol::fastcgi: return "fastcgi";
    case Protocol::scgi: return "scgi";
    }
    return "unknown";
}

void SlotCounters::record(Protocol protocol, int status, uint64_t duration_us, uint64_t bytes_in,
                          uint64_t bytes_out) noexcept
{
    ProtocolCounters& p = protocols[static_cast<size_t>(protocol)];
    size_t cls = std::clamp(status / 100, 1, 5) - 1;
    p.requests_by_class[cls].add(1);
    double seconds = static_cast<double>(duration_us) / 1e6;
    auto it = std::lower_bound(kDurationBounds.begin(), kDurationBounds.end(), seconds);
    p.duration_buckets[static_cast<size_t>(it - kDurationBounds.begin())].add(1);
    p.duration_us_sum.add(duration_us);
    p.request_bytes.add(bytes_in);
    p.response_bytes.add(bytes_out);
}

void Slot::begin_request(uint64_t now_ns, std::string_view summary) noexcept
{
    uint32_t seq = summary_seq.load(std::memory_order_relaxed);
    summary_seq.store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    char buf[kSummaryBytes] = {};
    std::memcpy(buf, summary.data(), std::min(summary.size(), kSummaryBytes - 1));
    for (size_t i = 0; i < kSummaryWords; ++i) {
        uint64_t word;
        std::memcpy(&word, buf + i * sizeof word, sizeof word);
        summary_words[i].store(word, std::memory_order_relaxed);
    }
    summary_seq.store(seq + 2, std::memory_order_release);
    request_seq.store(request_seq.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    request_start_ns.store(now_ns, std::memory_order_release);
    set_state(WorkerState::busy);
}

void Slot::end_request() noexcept
{
    request_start_ns.store(0, std::memory_order_release);
    requests_served.add(1);
}

size_t Slot::read_summary(char* out, size_t size) const noexcept
{
    if (size == 0)
        return 0;
    char buf[kSummaryBytes];
    uint32_t before = summary_seq.load(std::memory_order_acquire);
    for (size_t i = 0; i < kSummaryWords; ++i) {
        uint64_t word = summary_words[i].load(std::memory_order_relaxed);
        std::memcpy(buf + i * sizeof word, &word, sizeof word);
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    uint32_t after = summary_seq.load(std::memory_order_relaxed);
    if ((before & 1) || before != after) {
        out[0] = '\0';
        return 0;
    }
    buf[kSummaryBytes - 1] = '\0';
    size_t n = std::min(std::strlen(buf), size - 1);
    std::memcpy(out, buf, n);
    out[n] = '\0';
    return n;
}

namespace {

uint64_t saturating_add(uint64_t a, uint64_t b) noexcept
{
    uint64_t sum;
    return __builtin_add_overflow(a, b, &sum) ? UINT64_MAX : sum;
}

/// One counter of CounterTotals::advance(): the worker is its only writer and
/// only adds, so the new value is taken only when it is not below the last
/// one and not beyond what a worker can count.
void advance_one(uint64_t& last, const SingleWriterCounter& counter) noexcept
{
    uint64_t now = counter.load();
    if (now >= last && now <= kSlotCounterLimit)
        last = now;
}

} // namespace

void CounterTotals::advance(const Slot& slot) noexcept
{
    for (size_t p = 0; p < kProtocolCount; ++p) {
        const ProtocolCounters& from = slot.counters.protocols[p];
        Protocol& to = protocols[p];
        for (size_t i = 0; i < kStatusClasses; ++i)
            advance_one(to.requests_by_class[i], from.requests_by_class[i]);
        for (size_t i = 0; i < kDurationBuckets; ++i)
            advance_one(to.duration_buckets[i], from.duration_buckets[i]);
        advance_one(to.duration_us_sum, from.duration_us_sum);
        advance_one(to.request_bytes, from.request_bytes);
        advance_one(to.response_bytes, from.response_bytes);
    }
    advance_one(accepted_connections, slot.counters.accepted_connections);
    advance_one(requests_served, slot.requests_served);
}

void CounterTotals::fold(const Slot& slot) noexcept
{
    CounterTotals read;
    read.advance(slot);
    add(read);
}

void CounterTotals::add(const CounterTotals& other) noexcept
{
    for (size_t p = 0; p < kProtocolCount; ++p) {
        const Protocol& from = other.protocols[p];
        Protocol& to = protocols[p];
        for (size_t i = 0; i < kStatusClasses; ++i)
            to.requests_by_class[i] = saturating_add(to.requests_by_class[i], from.requests_by_class[i]);
        for (size_t i = 0; i < kDurationBuckets; ++i)
            to.duration_buckets[i] = saturating_add(to.duration_buckets[i], from.duration_buckets[i]);
        to.duration_us_sum = saturating_add(to.duration_us_sum, from.duration_us_sum);
        to.request_bytes = saturating_add(to.request_bytes, from.request_bytes);
        to.response_bytes = saturating_add(to.response_bytes, from.response_bytes);
    }
    accepted_connections = saturating_add(accepted_connections, other.accepted_connections);
    requests_served = saturating_add(requests_served, other.requests_served);
}

} // namespace drover

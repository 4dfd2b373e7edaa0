#include "ipc/scoreboard.hpp"

#include <boost/interprocess/anonymous_shared_memory.hpp>

#include <algorithm>
#include <new>
#include <stdexcept>

namespace drover {

namespace {

constexpr size_t slots_offset()
{
    return (sizeof(ScoreboardHeader) + alignof(Slot) - 1) / alignof(Slot) * alignof(Slot);
}

} // namespace

Scoreboard::Scoreboard(uint32_t slot_count)
    : region_(boost::interprocess::anonymous_shared_memory(slots_offset() + sizeof(Slot) * slot_count)),
      slot_count_(slot_count),
      accepted_(slot_count)
{
    auto* base = static_cast<char*>(region_.get_address());
    new (base) ScoreboardHeader{ScoreboardHeader::kMagic, slot_count, sizeof(Slot)};
    for (uint32_t i = 0; i < slot_count; ++i)
        new (base + slots_offset() + sizeof(Slot) * i) Slot();
}

Slot& Scoreboard::slot(uint32_t index)
{
    if (index >= slot_count_)
        throw std::out_of_range("scoreboard slot");
    return *reinterpret_cast<Slot*>(static_cast<char*>(region_.get_address()) + slots_offset() + sizeof(Slot) * index);
}

const Slot& Scoreboard::slot(uint32_t index) const { return const_cast<Scoreboard*>(this)->slot(index); }

Slot& Scoreboard::reset_slot(uint32_t index)
{
    Slot& s = slot(index);
    s.~Slot();
    accepted_[index] = CounterTotals{};
    return *new (&s) Slot();
}

CounterTotals Scoreboard::counters(uint32_t index) const
{
    const Slot& s = slot(index);
    accepted_[index].advance(s);
    return accepted_[index];
}

CheckedSlot Scoreboard::read(uint32_t index) const
{
    const Slot& s = slot(index);
    CheckedSlot out;
    out.state = s.checked_state();
    out.request_start_ns = s.request_start_ns.load(std::memory_order_acquire);
    out.request_seq = s.request_seq.load(std::memory_order_relaxed);
    out.held_connections = std::min<uint32_t>(s.held_connections.load(std::memory_order_relaxed), 1u << 16);
    out.counters = counters(index);
    out.summary_size = s.read_summary(out.summary, sizeof out.summary);
    return out;
}

} // namespace drover

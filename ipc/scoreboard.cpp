#include "ipc/scoreboard.hpp"

#include <boost/interprocess/anonymous_shared_memory.hpp>

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
    : region_(boost::interprocess::anonymous_shared_memory(slots_offset() + sizeof(Slot) * slot_count))
{
    auto* base = static_cast<char*>(region_.get_address());
    new (base) ScoreboardHeader{ScoreboardHeader::kMagic, slot_count, sizeof(Slot)};
    for (uint32_t i = 0; i < slot_count; ++i)
        new (base + slots_offset() + sizeof(Slot) * i) Slot();
}

const ScoreboardHeader& Scoreboard::header() const
{
    return *static_cast<const ScoreboardHeader*>(region_.get_address());
}

Slot& Scoreboard::slot(uint32_t index)
{
    if (index >= slot_count())
        throw std::out_of_range("scoreboard slot");
    return *reinterpret_cast<Slot*>(static_cast<char*>(region_.get_address()) + slots_offset() + sizeof(Slot) * index);
}

const Slot& Scoreboard::slot(uint32_t index) const { return const_cast<Scoreboard*>(this)->slot(index); }

Slot& Scoreboard::reset_slot(uint32_t index)
{
    Slot& s = slot(index);
    s.~Slot();
    return *new (&s) Slot();
}

} // namespace drover

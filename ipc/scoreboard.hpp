// The scoreboard: a versioned header and a fixed array of slots in one
// anonymous shared mapping (Boost.Interprocess), made by the master before its
// first fork and inherited by every worker. No lock is shared between
// processes; see slot.hpp for who writes what.
//
// Every byte of the mapping is writable by every worker, and a worker runs
// application code: a bug in a C extension, or a hostile app, can write
// anything anywhere in it, header included. So nothing the master indexes
// with comes from the mapping: the slot count is the one the master made the
// scoreboard with, kept in this object (the master's own memory), and the
// master reads a slot through read(), which checks every value.
#pragma once

#include <boost/interprocess/mapped_region.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ipc/slot.hpp"

namespace drover {

/// Written once at creation, for whoever inspects the mapping (a debugger, a
/// core dump); never read back to size or index anything.
struct ScoreboardHeader {
    static constexpr uint64_t kMagic = 0x64726f7665720001ULL;  // "drover" + layout version 1
    uint64_t magic;
    uint32_t slot_count;
    uint32_t slot_size;
};
static_assert(std::is_standard_layout_v<ScoreboardHeader>);

class Scoreboard {
public:
    /// Maps room for slot_count slots. Throws boost::interprocess::interprocess_exception.
    explicit Scoreboard(uint32_t slot_count);
    Scoreboard(const Scoreboard&) = delete;
    Scoreboard& operator=(const Scoreboard&) = delete;

    /// The count this scoreboard was made with (not the shared header's).
    uint32_t slot_count() const { return slot_count_; }
    /// Throws std::out_of_range for an index >= slot_count().
    Slot& slot(uint32_t index);
    const Slot& slot(uint32_t index) const;

    /// Master side, before forking the slot's next owner: a fresh slot, and
    /// a fresh start for the counters read() accepts from it.
    Slot& reset_slot(uint32_t index);

    /// Master side: the slot's values, checked (see CheckedSlot). Its
    /// counters never go below what an earlier read() of the same owner
    /// returned. Throws std::out_of_range for an index >= slot_count().
    CheckedSlot read(uint32_t index) const;
    /// Only the checked counters of read().
    CounterTotals counters(uint32_t index) const;

    /// The first byte of the shared mapping and its length (for tests).
    const void* mapping() const { return region_.get_address(); }
    size_t mapping_size() const { return region_.get_size(); }

private:
    boost::interprocess::mapped_region region_;
    uint32_t slot_count_;
    // Per slot, the counters the master last accepted: read() keeps them from
    // going backwards. Master memory; a forked worker's copy is never used.
    mutable std::vector<CounterTotals> accepted_;
};

} // namespace drover

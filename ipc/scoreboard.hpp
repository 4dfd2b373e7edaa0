// The scoreboard: a versioned header and a fixed array of slots in one
// anonymous shared mapping (Boost.Interprocess), made by the master before its
// first fork and inherited by every worker. No lock is shared between
// processes; see slot.hpp for who writes what.
#pragma once

#include <boost/interprocess/mapped_region.hpp>

#include <cstddef>
#include <cstdint>

#include "ipc/slot.hpp"

namespace drover {

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

    uint32_t slot_count() const { return header().slot_count; }
    Slot& slot(uint32_t index);
    const Slot& slot(uint32_t index) const;

    /// Master side, before forking the slot's next owner: a fresh slot.
    Slot& reset_slot(uint32_t index);

private:
    const ScoreboardHeader& header() const;
    boost::interprocess::mapped_region region_;
};

} // namespace drover

// Everything the pool reads of the world: the workers' scoreboard slots,
// their memory, the listen queues. The master implements it over the
// scoreboard's checked read and /proc; a unit test with plain values.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "ipc/slot.hpp"

namespace drover {

/// One worker's slot, copied once and checked (Scoreboard::read()): a worker
/// writes its slot and can write anything there, so nothing here is an index
/// and nothing is trusted beyond its type.
struct WorkerReading {
    std::optional<WorkerState> state = WorkerState::starting;  ///< nothing: the word is garbage
    /// When the current request started (monotonic seconds, the pool's
    /// clock); 0 when none. Unchecked against the clock: the pool bounds it.
    double request_started = 0;
    uint64_t request_seq = 0;     ///< which request that is
    uint64_t requests_served = 0; ///< never goes backwards for one worker
    uint32_t held_connections = 0; ///< idle connections kept during the request
    std::string summary;          ///< "http GET /path", or empty

    bool busy() const { return state == WorkerState::busy && request_started > 0; }
    bool ready() const { return state == WorkerState::idle || state == WorkerState::busy; }
};

class PoolReadings {
public:
    virtual ~PoolReadings() = default;
    virtual WorkerReading slot(uint32_t slot) const = 0;
    /// Resident memory in MiB; 0 when it cannot be read.
    virtual uint64_t rss_mib(pid_t pid) const = 0;
    /// A listener has a connection that no worker has accepted yet.
    virtual bool connection_waiting() const = 0;
};

} // namespace drover

// One clock for the whole program: monotonic time for deadlines and ages,
// wall time only for what a human reads (logs, start times).
#pragma once

#include <time.h>

#include <cstdint>

namespace drover {

/// CLOCK_MONOTONIC in nanoseconds.
inline uint64_t monotonic_ns()
{
    struct timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

/// CLOCK_MONOTONIC in seconds.
inline double monotonic_seconds() { return static_cast<double>(monotonic_ns()) / 1e9; }

/// CLOCK_REALTIME in nanoseconds since the epoch.
inline int64_t realtime_ns()
{
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

/// An injectable source of monotonic seconds, for the parts whose behaviour
/// depends on time and are unit-tested with a fake one.
class Clock {
public:
    virtual ~Clock() = default;
    virtual double now() const = 0;
};

class MonotonicClock final : public Clock {
public:
    double now() const override { return monotonic_seconds(); }
};

} // namespace drover

// Crash-loop protection: workers that die before they became ready are
// retried with exponential backoff, capped, so a broken app never makes the
// master fork in a tight loop. Time is passed in (monotonic seconds) so the
// policy is tested without sleeping.
#pragma once

#include <cstdint>

namespace drover {

class CrashBackoff {
public:
    explicit CrashBackoff(double initial = 0.5, double cap = 30.0) : initial_(initial), cap_(cap) {}

    /// A worker died before it was ready.
    void failure(double now);
    /// A worker became ready: the app boots again.
    void success();
    /// May a worker be spawned at now?
    bool allows(double now) const { return now >= retry_at_; }
    /// True while failures are being backed off.
    bool active() const { return failures_ > 0; }
    uint32_t failures() const { return failures_; }
    double retry_at() const { return retry_at_; }
    /// The current delay (0 when not backing off).
    double delay() const { return delay_; }

private:
    double initial_;
    double cap_;
    uint32_t failures_ = 0;
    double delay_ = 0;
    double retry_at_ = 0;
};

} // namespace drover

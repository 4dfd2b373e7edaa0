// Idle connections a busy worker kept, ready to be handed to the master from
// a signal handler if its request runs long.
//
// When a worker starts a request while every other worker is busy too,
// handing its idle kept connections to the master would buy nothing (no one
// could take them sooner) and cost a pass each, every request, at
// saturation. It keeps them, lists them here, and says how many in its slot.
// If the request runs long while another worker turns idle, the master asks
// (kSignalHandoff, to this worker's main thread) and the handler passes the
// listed ones to the master's park with sendmsg(), which is
// async-signal-safe, so a kept connection never waits long behind a slow
// request. Arm and disarm run on the main thread, around the application
// call; the handler runs on it too (the master aims the signal with
// tgkill()), so it only ever sees the list whole.
#pragma once

#include <signal.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ipc/slot.hpp"

namespace drover::held {

/// Installs the handler for kSignalHandoff (SA_RESTART). park_fd: where the
/// connections go; slot: where their count is published.
void install(int park_fd, Slot* slot);

struct Entry {
    int fd;
    uint8_t tag;
};

/// Lists connections the handler may pass from now until disarm(), and
/// publishes their count. At most kCapacity are listed.
void arm(const std::vector<Entry>& entries);

/// Stops the handler from passing more; returns the fds it passed meanwhile
/// (the master holds them now: the caller forgets its own copies).
std::vector<int> disarm();

inline constexpr size_t kCapacity = 256;

} // namespace drover::held

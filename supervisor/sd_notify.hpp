// systemd's notify protocol (sd_notify(3)), one function per message, for the
// master loop: READY=1, RELOADING=1 with MONOTONIC_USEC=, STOPPING=1,
// STATUS=, WATCHDOG=1, and the file descriptor store (FDSTORE=1, FDNAME=).
// Every function is a no-op returning false without NOTIFY_SOCKET (not under
// systemd), so the master calls them unconditionally. Messages go from the
// calling process: only the master's are accepted (NotifyAccess=main).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "supervisor/listeners.hpp"

namespace drover::notify {

/// READY=1: start-up is over (the first generation is ready; ondemand: the
/// master serves its listeners), or a reload finished (or rolled back).
bool ready();

/// RELOADING=1 with MONOTONIC_USEC= of the CLOCK_MONOTONIC time now, as
/// systemd 253 and later want it for Type=notify-reload; READY=1 follows
/// when the reload is over.
bool reloading();

/// The same at a given CLOCK_MONOTONIC time in microseconds (tests).
bool reloading(uint64_t monotonic_usec);

/// STOPPING=1: a stop has begun.
bool stopping();

/// STATUS=text: one line for `systemctl status` (newlines become spaces).
bool status(std::string_view text);

/// WATCHDOG=1: the master loop is alive. Send from the loop's tick, every
/// watchdog_interval(), so a stalled loop stops the pings.
bool watchdog();

/// Half of WATCHDOG_USEC when systemd's watchdog is on for this process
/// (WatchdogSec=, WATCHDOG_PID is ours); nullopt otherwise. The watchdog
/// variables stay in the environment: the master reads them once at start,
/// and its workers, with other pids, ignore them.
std::optional<std::chrono::microseconds> watchdog_interval();

/// FDSTORE=1 with FDNAME=listener.fd_name and a copy of its socket, so that
/// systemd keeps it across `systemctl restart` (FileDescriptorStoreMax=) and
/// passes it back in LISTEN_FDS/LISTEN_FDNAMES. Marks the listener as
/// stored, so its socket file is not removed at exit. Without a store,
/// systemd drops the socket and logs why; the listener is then still marked.
bool store_listener(Listener& listener);

} // namespace drover::notify

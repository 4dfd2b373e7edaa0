#include "worker/held_connections.hpp"

#include <cerrno>

#include "ipc/fd_passing.hpp"
#include "worker/worker_spec.hpp"

namespace drover::held {

namespace {

// Plain globals: a signal handler reaches nothing else. Written by the main
// thread only while the list is disarmed (count 0), read by the handler only
// while it is armed.
int g_park_fd = -1;
Slot* g_slot = nullptr;
Entry g_entries[kCapacity];
volatile sig_atomic_t g_passed[kCapacity];
volatile sig_atomic_t g_count = 0;

void on_handoff(int)
{
    int saved = errno;
    sig_atomic_t n = g_count;
    for (sig_atomic_t i = 0; i < n; ++i) {
        if (!g_passed[i] && send_fd(g_park_fd, g_entries[i].fd, g_entries[i].tag).ok())
            g_passed[i] = 1;
    }
    if (g_slot)
        g_slot->held_connections.store(0, std::memory_order_relaxed);
    errno = saved;
}

} // namespace

void install(int park_fd, Slot* slot)
{
    g_park_fd = park_fd;
    g_slot = slot;
    struct sigaction sa = {};
    sa.sa_handler = on_handoff;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    ::sigaction(kSignalHandoff, &sa, nullptr);
}

void arm(const std::vector<Entry>& entries)
{
    size_t n = entries.size() < kCapacity ? entries.size() : kCapacity;
    for (size_t i = 0; i < n; ++i) {
        g_entries[i] = entries[i];
        g_passed[i] = 0;
    }
    g_count = static_cast<sig_atomic_t>(n);
    if (g_slot)
        g_slot->held_connections.store(static_cast<uint32_t>(n), std::memory_order_relaxed);
}

std::vector<int> disarm()
{
    sig_atomic_t n = g_count;
    g_count = 0;  // from here the handler passes nothing
    if (g_slot)
        g_slot->held_connections.store(0, std::memory_order_relaxed);
    std::vector<int> passed;
    for (sig_atomic_t i = 0; i < n; ++i)
        if (g_passed[i])
            passed.push_back(g_entries[i].fd);
    return passed;
}

} // namespace drover::held

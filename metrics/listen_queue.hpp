// The accept queue of a listening socket, as the kernel sees it: how many
// connections wait for a worker to accept them, and the backlog that bounds
// them. A queue that grows is the first sign that every worker is busy.
#pragma once

#include <cstdint>

#include "metrics/pool_state.hpp"

namespace drover {

struct ListenQueue {
    /// The effective backlog (the kernel caps the configured one at
    /// net.core.somaxconn); the configured one when the kernel cannot say.
    uint64_t backlog = 0;
    /// False when the kernel could not be asked: then `length` is unknown and
    /// no sample is exported, rather than a 0 that looks like an empty queue.
    bool has_length = false;
    uint64_t length = 0;
};

/// TCP: getsockopt(TCP_INFO), whose tcpi_unacked / tcpi_sacked hold the
/// accept queue length and the backlog for a socket in LISTEN state.
/// Unix: a sock_diag netlink query for the socket's inode (UDIAG_SHOW_RQLEN),
/// whose udiag_rqueue / udiag_wqueue are the same two numbers.
ListenQueue read_listen_queue(const ListenerState& listener) noexcept;

} // namespace drover

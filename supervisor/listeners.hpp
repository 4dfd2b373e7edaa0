// Listening sockets: bound once by the master before any fork (or inherited
// from systemd socket activation), shared by every worker of every
// generation, never closed by a reload.
#pragma once

#include <vector>

#include "base/unique_fd.hpp"
#include "supervisor/config.hpp"

namespace drover {

struct Listener {
    ListenSpec spec;
    UniqueFd fd;
    bool from_systemd = false;
};

/// Binds every configured address, or adopts the socket systemd passed for
/// it (LISTEN_FDS). Sockets are non-blocking and close-on-exec. Throws
/// std::runtime_error naming the address and the failed call.
std::vector<Listener> open_listeners(const std::vector<ListenSpec>& specs);

/// Removes the unix socket files this process created (at exit).
void remove_socket_files(const std::vector<Listener>& listeners);

} // namespace drover

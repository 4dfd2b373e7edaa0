// Listening sockets: bound once by the master before any fork, or passed by
// systemd (socket activation, or its file descriptor store on a restart),
// shared by every worker of every generation, never closed by a reload.
#pragma once

#include <string>
#include <vector>

#include "base/unique_fd.hpp"
#include "supervisor/config.hpp"

namespace drover {

struct Listener {
    /// The bind entry; for an entry with only an fd_name, its family and
    /// address are the passed socket's, read off it at start.
    ListenSpec spec;
    UniqueFd fd;
    /// Passed by systemd (LISTEN_FDS): a socket unit's, or one drover handed
    /// to the file descriptor store before a restart. Its socket file, if
    /// any, is not drover's to remove.
    bool from_systemd = false;
    /// The name systemd keeps the socket under in the file descriptor store
    /// (FDSTORE=1 with FDNAME=) and passes it back under (LISTEN_FDNAMES):
    /// the entry's fd_name, or one made from its address
    /// (default_fd_name()), so that an entry finds its socket again after
    /// `systemctl restart`.
    std::string fd_name;
    /// Set by notify::store_listener() once systemd holds a copy: the socket
    /// file then outlives this process, for the next one to serve.
    bool in_fd_store = false;
};

/// Binds every configured address, or adopts the socket systemd passed for
/// it (LISTEN_FDS, matched by LISTEN_FDNAMES name for an entry with an
/// fd_name, else by its exact address). A unix socket drover binds is created
/// with its mode, owner and group (umask and fsuid/fsgid around bind(),
/// before listen()). Sockets are non-blocking and close-on-exec; LISTEN_*
/// is removed from the environment. Throws std::runtime_error naming the
/// address and the failed call, or the passed socket no entry claims.
std::vector<Listener> open_listeners(const std::vector<ListenSpec>& specs);

/// The name a listener without an fd_name is stored under: "bind." and its
/// address, with what systemd refuses in a name (':', control bytes)
/// replaced by '_'; at most 255 characters.
std::string default_fd_name(const ListenSpec& spec);

/// Removes the unix socket files this process created (at exit), except
/// those systemd passed or keeps in its file descriptor store.
void remove_socket_files(const std::vector<Listener>& listeners);

} // namespace drover

// Handing a worker's connections on, so none waits behind the one blocking
// application call it is about to make: quiet ones to the master's park,
// ones whose request has already arrived straight to an idle worker.
#include <sys/socket.h>

#include <limits>
#include <vector>

#include "ipc/fd_passing.hpp"
#include "worker/worker.hpp"

namespace drover {

uint32_t Worker::idle_peers() const
{
    uint32_t idle = 0;
    const Scoreboard& sb = *spec_.scoreboard;
    for (uint32_t i = 0; i < sb.slot_count(); ++i)
        if (i != spec_.slot && sb.slot(i).load_state() == WorkerState::idle)
            ++idle;
    return idle;
}

void Worker::park_idle_connections(int keep, bool fresh_too)
{
    if (spec_.park_fd < 0)
        return;
    // A connection whose next request has already arrived is worth passing
    // on only to a worker that is idle now; when every worker is busy it
    // waits no longer here than anywhere, and passing it would cost more
    // than the request (the scoreboard says who is idle: no syscall).
    uint32_t takers = std::numeric_limits<uint32_t>::max();
    std::vector<int> parked;
    for (auto& [fd, state] : connections_) {
        if (fd == keep)
            continue;
        bool fresh = fresh_too && state->connection->fresh();
        if (!fresh && !state->connection->idle())
            continue;
        uint8_t tag = static_cast<uint8_t>(state->listener | (fresh ? kPassedFresh : 0));
        bool waiting = request_waiting(fd) > 0;
        if (waiting) {
            if (takers == std::numeric_limits<uint32_t>::max())
                takers = idle_peers();
            if (takers == 0)
                continue;
            --takers;
        }
        if (!pass_on(fd, tag, waiting))
            break;  // the queue is full: keep the rest
        parked.push_back(fd);
    }
    for (int fd : parked)
        connections_.erase(fd);  // the master holds its own copy now
    if (!parked.empty())
        update_accepting();
}

ssize_t Worker::request_waiting(int fd) const
{
    char probe;
    return ::recv(fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
}

bool Worker::pass_on(int fd, uint8_t tag, bool waiting)
{
    // A waiting connection goes straight to the idle workers; a quiet one
    // waits in the master for its client.
    int target = waiting && spec_.dispatch_send_fd >= 0 ? spec_.dispatch_send_fd : spec_.park_fd;
    return target >= 0 && send_fd(target, fd, tag).ok();
}

void Worker::hand_over(ConnectionState& state)
{
    int fd = state.connection->fd();
    ssize_t waiting = request_waiting(fd);
    if (waiting != 0)  // 0: the client closed it
        pass_on(fd, state.listener, waiting > 0);  // if that fails, the close below ends it
    drop_connection(fd);  // the master or another worker holds its own copy
}

} // namespace drover

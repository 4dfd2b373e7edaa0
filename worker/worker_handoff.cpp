// Handing a worker's connections on, so none waits behind the one blocking
// application call it is about to make: quiet ones to the master's park,
// ones whose request has already arrived straight to an idle worker.
#include <sys/socket.h>

#include <vector>

#include "ipc/fd_passing.hpp"
#include "worker/held_connections.hpp"
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
    // While another worker is idle, a connection whose next request has
    // already arrived goes straight to it (one pass each, while takers
    // last), and a quiet one goes to the master, which passes it on when it
    // speaks. When every other worker is busy too, passing them buys nothing
    // (nobody could take them sooner) and costs a pass each per request at
    // saturation: they stay, listed for the master to ask for should this
    // request run long while a worker turns idle (held_connections.hpp). The
    // scoreboard says who is idle: no syscall.
    uint32_t takers = idle_peers();
    std::vector<int> parked;
    std::vector<held::Entry> kept;
    for (auto& [fd, state] : connections_) {
        if (fd == keep)
            continue;
        bool fresh = fresh_too && state->connection->fresh();
        if (!fresh && !state->connection->idle())
            continue;
        uint8_t tag = static_cast<uint8_t>(state->listener | (fresh ? kPassedFresh : 0));
        if (takers == 0 && stopping_ == Stopping::no) {
            kept.push_back({fd, tag});
            continue;
        }
        // A stopping worker keeps nothing quiet: the master passes it to a
        // worker that stays (or closes it at a full stop).
        bool waiting = request_waiting(fd) > 0;
        if (waiting) {
            if (takers == 0)
                continue;  // served here, as soon as anywhere
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
    held::arm(kept);
}

void Worker::forget_handed_connections()
{
    // Disarmed first: from here the handler passes nothing more.
    std::vector<int> handed = held::disarm();
    for (int fd : handed)
        connections_.erase(fd);  // the master holds its own copy now
    if (!handed.empty())
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

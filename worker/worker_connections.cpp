// A worker's connections between the loop and their exchanges: driving one
// through its requests, its timers, and closing it.
#include <poll.h>

#include "worker/worker.hpp"

namespace drover {

void Worker::on_connection_event(evutil_socket_t, short what, void* arg)
{
    auto* state = static_cast<ConnectionState*>(arg);
    Worker* self = state->worker;
    if (state->connection->lingering()) {
        if ((what & EV_TIMEOUT) || !state->connection->discard_input())
            self->drop_connection(state->connection->fd());
        return;
    }
    // A timer seen late, after a long application call, may have a request
    // waiting behind it that the peer sent while the worker was busy and had
    // not closed: serve it rather than reset the connection under it.
    if ((what & EV_TIMEOUT) && !(state->connection->idle() && has_input(state->connection->fd()))) {
        // Idle past keepalive, or its request head past header_timeout
        // (answered with 408 where the protocol can say it).
        if (!state->connection->idle())
            state->connection->time_out_head();
        self->close_connection(state->connection->fd());
        return;
    }
    self->drive(*state, state->connection->on_readable());
}

bool Worker::has_input(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

void Worker::drive(ConnectionState& state, Connection::Next next)
{
    Connection& c = *state.connection;
    while (next == Connection::Next::serve) {
        // A draining worker keeps its new connections: at a stop the master
        // would only pass them straight back, and one still on its way
        // there when the last worker leaves would be lost.
        park_idle_connections(c.fd(), stopping_ != Stopping::drain);
        // A stopping worker ends its connections after the response (HTTP
        // says "Connection: close"), except one its peer owns (a web
        // server's kept FastCGI connection, which it may reuse the moment
        // the response ends): that one is handed over.
        bool stopping = stopping_ != Stopping::no;
        bool keep_alive = spec_.app.keepalive > 0 && (!stopping || c.codec().peer_owns_connection());
        next = c.serve(*bridge_, slot_, keep_alive);
        forget_handed_connections();
        slot_.set_state(stopping ? WorkerState::stopping : WorkerState::idle);
    }
    if (next == Connection::Next::close) {
        close_connection(c.fd());
        return;
    }
    if (stopping_ != Stopping::no && c.idle()) {
        hand_over(state);
        return;
    }
    // Waiting: an idle kept connection gets the keepalive timer; a request
    // head on its way what is left of its header_timeout, however slowly its
    // bytes come. The first wait adds the connection to the loop.
    double secs = c.seconds_to_wait();
    struct timeval tv;
    tv.tv_sec = static_cast<time_t>(secs);
    tv.tv_usec = static_cast<suseconds_t>((secs - static_cast<double>(tv.tv_sec)) * 1e6);
    event_add(state.read_event.get(), &tv);
}

void Worker::close_connection(int fd)
{
    auto it = connections_.find(fd);
    if (it != connections_.end() && it->second->connection->should_linger()) {
        it->second->connection->begin_linger();
        struct timeval tv = {kLingerSeconds, 0};
        event_add(it->second->read_event.get(), &tv);
        return;
    }
    drop_connection(fd);
}

void Worker::drop_connection(int fd)
{
    connections_.erase(fd);
    update_accepting();
    schedule_exit_check();
}

} // namespace drover

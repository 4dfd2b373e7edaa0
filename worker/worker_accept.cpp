// How a worker takes connections: from the listeners it inherited, and from
// the master's dispatch queue; and when it may (see update_accepting).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "base/cidr.hpp"
#include "base/clock.hpp"
#include "base/log.hpp"
#include "ipc/fd_passing.hpp"
#include "worker/peer_address.hpp"
#include "worker/worker.hpp"

namespace drover {

namespace {

/// Seconds a TCP listener's kernel holds a new connection back from
/// accept() until its first bytes arrive (then it is accepted anyway).
constexpr int kDeferAcceptSeconds = 1;

std::unique_ptr<Codec> make_codec(Protocol protocol, const AppSettings& app)
{
    switch (protocol) {
    case Protocol::http: return make_http_codec(app.limits);
    case Protocol::fastcgi: return make_fastcgi_codec(app.limits, app.max_conns);
    case Protocol::scgi: return make_scgi_codec(app.limits);
    }
    return nullptr;
}

} // namespace

void Worker::watch_listener(const ListenerFd& l)
{
    auto state = std::make_unique<ListenerState>();
    state->worker = this;
    state->index = static_cast<uint8_t>(listeners_.size());
    state->spec = l;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (!l.is_unix && ::getsockname(l.fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        state->server_name = address_text(ss, &state->server_port);
    } else {
        state->server_name = "localhost";
        state->server_port = "80";
    }
    if (!l.is_unix) {
        // How the workers take connections decides these, so they are set
        // here (every worker sets the same values on the shared socket).
        // Accepted sockets inherit TCP_NODELAY: no setsockopt() per
        // connection. TCP_DEFER_ACCEPT: accept() returns a connection once
        // its request is there, so a worker never takes one it cannot serve
        // at once, and never has to hand such a one to the master.
        int one = 1;
        int defer = kDeferAcceptSeconds;
        ::setsockopt(l.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ::setsockopt(l.fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof defer);
    }
    state->event.reset(event_new(base_.get(), l.fd, EV_READ | EV_PERSIST, on_listener_event, state.get()));
    listeners_.push_back(std::move(state));
}

void Worker::on_listener_event(evutil_socket_t, short, void* arg)
{
    // One connection per wake-up. Taking more in a row would cost an
    // accept() that finds the queue empty almost every time (measured: 2.2
    // accepts a request instead of 1); a queue that still holds some wakes
    // the loop again at once.
    auto* listener = static_cast<ListenerState*>(arg);
    listener->worker->accept_one(*listener);
}

Worker::Accepted Worker::accept_one(ListenerState& listener)
{
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    int fd = ::accept4(listener.spec.fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == ECONNABORTED || errno == EINTR)
            return Accepted::refused;  // gone before it was taken: the queue may hold more
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            pause_accepting(errno);
        else if (errno != EAGAIN && errno != EWOULDBLOCK)
            log_warning("accept() failed: ", std::strerror(errno));
        return Accepted::none;
    }
    UniqueFd owned(fd);
    slot_.counters.accepted_connections.add(1);
    PeerInfo info;
    if (!listener.spec.is_unix) {
        info.remote_addr = address_text(peer, &info.remote_port);
        // Matched on the address itself (IPv4-mapped on a dual-stack
        // listener meets its IPv4 range), not on its text.
        const CidrSet& allowed = listener.spec.allowed_clients;
        std::optional<IpAddress> address = IpAddress::from_sockaddr(peer);
        if (!allowed.empty() && !(address && allowed.contains(*address))) {
            log_warning("connection from ", info.remote_addr, " refused: not in allowed_clients");
            return Accepted::refused;
        }
    }
    add_connection(std::move(owned), listener, std::move(info));
    return Accepted::added;
}

void Worker::add_connection(UniqueFd fd, ListenerState& listener, PeerInfo info)
{
    info.server_name = listener.server_name;
    info.server_port = listener.server_port;
    int raw = fd.get();
    auto state = std::make_unique<ConnectionState>();
    state->worker = this;
    state->listener = listener.index;
    state->connection = std::make_unique<Connection>(std::move(fd), make_codec(listener.spec.protocol, spec_.app),
                                                     std::move(info), spec_.app);
    state->read_event.reset(event_new(base_.get(), raw, EV_READ | EV_PERSIST, on_connection_event, state.get()));
    ConnectionState& ref = *state;
    connections_[raw] = std::move(state);
    update_accepting();
    // Most connections bring their request (TCP_DEFER_ACCEPT makes sure of
    // it on TCP): serve it now. The connection joins the loop (an
    // epoll_ctl()) only if it has to wait. (A unix listener has no deferred
    // accept; a connection taken before its request came may be handed on
    // if this worker gets busy: see worker_handoff.cpp.)
    drive(ref, ref.connection->on_readable());
}

void Worker::on_dispatch_event(evutil_socket_t, short, void* arg) { static_cast<Worker*>(arg)->receive_passed(); }

Worker::Accepted Worker::receive_passed()
{
    Result<PassedFd> got = receive_fd(spec_.dispatch_fd);
    if (!got) {
        if (got.error().err == EAGAIN || got.error().err == EWOULDBLOCK)
            return Accepted::none;
        log_warning(got.error().message());
        return Accepted::refused;  // that message is consumed; more may follow
    }
    uint8_t index = got->tag & static_cast<uint8_t>(~kPassedFresh);
    if (index >= listeners_.size()) {
        log_error("passed connection with unknown listener ", static_cast<int>(index));
        return Accepted::refused;
    }
    ListenerState& listener = *listeners_[index];
    PeerInfo info;
    if (!listener.spec.is_unix) {
        sockaddr_storage peer{};
        socklen_t len = sizeof peer;
        if (::getpeername(got->fd.get(), reinterpret_cast<sockaddr*>(&peer), &len) == 0)
            info.remote_addr = address_text(peer, &info.remote_port);
    }
    add_connection(std::move(got->fd), listener, std::move(info));
    return Accepted::added;
}

void Worker::update_accepting()
{
    bool open = stopping_ != Stopping::retire && !accept_paused_ && connections_.size() < spec_.app.max_connections;
    // Only on a change: each add or delete is an epoll_ctl().
    for (auto& l : listeners_) {
        if (open == l->watched)
            continue;
        l->watched = open;
        if (open)
            event_add(l->event.get(), nullptr);
        else
            event_del(l->event.get());
    }
    if (dispatch_event_ && open != dispatch_watched_) {
        dispatch_watched_ = open;
        if (open)
            event_add(dispatch_event_.get(), nullptr);
        else
            event_del(dispatch_event_.get());
    }
}

void Worker::pause_accepting(int err)
{
    if (accept_log_.allow(monotonic_seconds()))
        log_error("accept() failed: ", std::strerror(err), "; not accepting for ", kAcceptPauseUs / 1000,
                  " ms at a time (", accept_log_.suppressed(), " more failures since the last line; ",
                  connections_.size(), " connections held)");
    accept_paused_ = true;
    update_accepting();
    struct timeval tv = {0, kAcceptPauseUs};
    event_add(accept_resume_event_.get(), &tv);
}

void Worker::on_accept_resume(evutil_socket_t, short, void* arg)
{
    auto* self = static_cast<Worker*>(arg);
    self->accept_paused_ = false;
    self->update_accepting();
    self->schedule_exit_check();
}

} // namespace drover

// The worker process: a libevent loop over the inherited listening sockets
// and this worker's own connections. A complete request head is served right
// away with one blocking application call; while that call runs the loop does
// not, so this worker accepts nothing and other (idle) workers take new
// connections.
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <memory>

#include "ipc/fd_passing.hpp"
#include "base/clock.hpp"
#include "base/event.hpp"
#include "base/log.hpp"
#include "worker/connection.hpp"
#include "worker/python/bridge.hpp"
#include "worker/worker_loop.hpp"
#include "worker/worker_spec.hpp"

namespace drover {

namespace {

std::string address_text(const sockaddr_storage& ss, std::string* port)
{
    char buf[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
        if (port)
            *port = std::to_string(ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
            // ::ffff:1.2.3.4 as 1.2.3.4, so allowed_clients and logs see IPv4
            inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], buf, sizeof buf);
        }
        if (port)
            *port = std::to_string(ntohs(a->sin6_port));
    } else if (port) {
        *port = "";
    }
    return buf;
}

class Worker;

/// How long a lingering close reads and drops what a client still sends.
constexpr time_t kLingerSeconds = 2;
/// Out of descriptors (EMFILE, ENFILE) or memory: accepting pauses this long
/// instead of failing again at once in a tight loop (nginx does the same).
constexpr suseconds_t kAcceptPauseUs = 500000;
/// At most one log line this often about accept() failing.
constexpr double kAcceptLogEvery = 60.0;

struct ListenerState {
    Worker* worker = nullptr;
    uint8_t index = 0;  ///< its place in the worker spec: the tag of passed connections
    ListenerFd spec;
    EventPtr event;
    std::string server_name;
    std::string server_port;
};

struct ConnectionState {
    Worker* worker = nullptr;
    uint8_t listener = 0;
    std::unique_ptr<Connection> connection;
    EventPtr read_event;
};

class Worker {
public:
    Worker(const WorkerSpec& spec, std::unique_ptr<WsgiBridge> preloaded)
        : spec_(spec), slot_(spec.scoreboard->slot(spec.slot)), base_(event_base_new()), bridge_(std::move(preloaded))
    {
    }

    int run();

private:
    static void on_listener_event(evutil_socket_t, short, void* arg);
    static void on_dispatch_event(evutil_socket_t, short, void* arg);
    static void on_connection_event(evutil_socket_t, short what, void* arg);
    static void on_signal_event(evutil_socket_t sig, short, void* arg);

    enum class Accepted { none, refused, added };
    /// Accepts one connection: none when the queue is empty.
    Accepted accept_one(ListenerState& listener);
    /// Takes one connection the master passed on: none when none is queued.
    Accepted receive_passed();
    void add_connection(UniqueFd fd, ListenerState& listener, PeerInfo info);
    /// Hands every idle kept connection but keep (and, with fresh_too, every
    /// new one that has sent nothing yet) to the master, so none waits behind
    /// the blocking call this worker is about to make.
    void park_idle_connections(int keep, bool fresh_too);
    /// A stopping worker's kept connection, between requests, goes to the
    /// master (quiet) or straight to the idle workers (request waiting).
    void hand_over(ConnectionState& state);
    /// recv(MSG_PEEK) of one byte: > 0 when the next request has arrived,
    /// 0 when the client closed, < 0 (EAGAIN) when it is quiet.
    ssize_t request_waiting(int fd) const;
    /// Sends fd to the idle workers (waiting) or to the master (quiet).
    bool pass_on(int fd, uint8_t tag, bool waiting);
    /// Other workers whose slot says idle.
    uint32_t idle_peers() const;
    void drive(ConnectionState& state, Connection::Next next);
    void close_connection(int fd);
    /// Forgets a connection (its fd closes unless it was passed on), then
    /// lets accepting resume and a stopping worker leave.
    void drop_connection(int fd);
    /// Watches the listeners and the dispatch queue exactly when this worker
    /// may take connections: not retiring, not paused, under max_connections.
    void update_accepting();
    /// accept() failed for want of descriptors or memory.
    void pause_accepting(int err);
    static void on_accept_resume(evutil_socket_t, short, void* arg);
    enum class Stopping { no, retire, drain };
    void begin_stop(Stopping how);
    /// Checks, from the loop and never from inside a connection's call
    /// chain, whether a stopping worker may leave.
    void schedule_exit_check();
    static void on_exit_check(evutil_socket_t, short, void* arg);
    void exit_check();

    const WorkerSpec& spec_;
    Slot& slot_;
    EventBasePtr base_;
    std::unique_ptr<WsgiBridge> bridge_;
    std::vector<std::unique_ptr<ListenerState>> listeners_;
    std::map<int, std::unique_ptr<ConnectionState>> connections_;
    std::vector<EventPtr> signal_events_;
    EventPtr dispatch_event_;
    EventPtr exit_check_event_;
    EventPtr accept_resume_event_;
    Stopping stopping_ = Stopping::no;
    bool accepting_ = true;       ///< listener and dispatch events are added
    bool accept_paused_ = false;  ///< by pause_accepting(), until its timer
    double accept_logged_at_ = -kAcceptLogEvery;
    uint64_t accept_failures_unlogged_ = 0;
};

int Worker::run()
{
    slot_.pid.store(::getpid(), std::memory_order_relaxed);
    if (!base_) {
        log_error("event_base_new() failed");
        return kWorkerExitBootFailed;
    }
    if (!bridge_) {
        try {
            bridge_ = make_wsgi_bridge(spec_.app);
        } catch (const std::exception& e) {
            log_error("cannot load the application: ", e.what());
            return kWorkerExitBootFailed;
        }
    }

    exit_check_event_.reset(event_new(base_.get(), -1, 0, on_exit_check, this));
    accept_resume_event_.reset(event_new(base_.get(), -1, 0, on_accept_resume, this));
    for (int sig : {kSignalRetire, kSignalDrain, SIGQUIT, SIGUSR1}) {
        EventPtr ev(evsignal_new(base_.get(), sig, on_signal_event, this));
        event_add(ev.get(), nullptr);
        signal_events_.push_back(std::move(ev));
    }
    // Handled from here on; what came during start-up is delivered now.
    sigset_t handled = worker_signal_mask();
    ::sigprocmask(SIG_UNBLOCK, &handled, nullptr);
    for (const ListenerFd& l : spec_.listeners) {
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
        state->event.reset(event_new(base_.get(), l.fd, EV_READ | EV_PERSIST, on_listener_event, state.get()));
        event_add(state->event.get(), nullptr);
        listeners_.push_back(std::move(state));
    }

    if (spec_.dispatch_fd >= 0) {
        dispatch_event_.reset(event_new(base_.get(), spec_.dispatch_fd, EV_READ | EV_PERSIST, on_dispatch_event, this));
        event_add(dispatch_event_.get(), nullptr);
    }

    slot_.set_state(WorkerState::idle);
    log_info("ready (generation ", spec_.generation, ", slot ", spec_.slot, ")");
    event_base_dispatch(base_.get());
    connections_.clear();
    return kWorkerExitOk;
}

void Worker::on_listener_event(evutil_socket_t, short, void* arg)
{
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
        if (!listener.spec.allowed_clients.empty()) {
            bool allowed = false;
            for (const std::string& a : listener.spec.allowed_clients)
                allowed = allowed || a == info.remote_addr;
            if (!allowed) {
                log_warning("connection from ", info.remote_addr, " refused: not in allowed_clients");
                return Accepted::refused;
            }
        }
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    add_connection(std::move(owned), listener, std::move(info));
    return Accepted::added;
}

void Worker::add_connection(UniqueFd fd, ListenerState& listener, PeerInfo info)
{
    info.server_name = listener.server_name;
    info.server_port = listener.server_port;
    std::unique_ptr<Codec> codec;
    switch (listener.spec.protocol) {
    case Protocol::http: codec = make_http_codec(spec_.app.limits); break;
    case Protocol::fastcgi: codec = make_fastcgi_codec(spec_.app.limits, spec_.app.max_conns); break;
    case Protocol::scgi: codec = make_scgi_codec(spec_.app.limits); break;
    }
    int raw = fd.get();
    auto state = std::make_unique<ConnectionState>();
    state->worker = this;
    state->listener = listener.index;
    state->connection = std::make_unique<Connection>(std::move(fd), std::move(codec), std::move(info), spec_.app);
    state->read_event.reset(event_new(base_.get(), raw, EV_READ | EV_PERSIST, on_connection_event, state.get()));
    ConnectionState& ref = *state;
    connections_[raw] = std::move(state);
    event_add(ref.read_event.get(), nullptr);
    update_accepting();
    // Most clients send the request with the connect: try it now, saving a
    // round through the loop.
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

void Worker::on_connection_event(evutil_socket_t, short what, void* arg)
{
    auto* state = static_cast<ConnectionState*>(arg);
    Worker* self = state->worker;
    if (state->connection->lingering()) {
        if ((what & EV_TIMEOUT) || !state->connection->discard_input())
            self->drop_connection(state->connection->fd());
        return;
    }
    if (what & EV_TIMEOUT) {
        // Idle past keepalive, or its request head past header_timeout
        // (answered with 408 where the protocol can say it).
        if (!state->connection->idle())
            state->connection->time_out_head();
        self->close_connection(state->connection->fd());
        return;
    }
    self->drive(*state, state->connection->on_readable());
}

void Worker::drive(ConnectionState& state, Connection::Next next)
{
    Connection& c = *state.connection;
    while (next == Connection::Next::serve) {
        // A draining worker keeps its new connections: at a stop the master
        // would only pass them straight back, and one still on its way
        // there when the last worker leaves would be lost.
        park_idle_connections(c.fd(), stopping_ != Stopping::drain);
        // A stopping worker ends HTTP connections with "Connection: close".
        // A FastCGI connection kept with FCGI_KEEP_CONN belongs to the web
        // server, which may reuse it the moment FCGI_END_REQUEST arrives:
        // closing it then would lose that request, so it is handed over.
        bool stopping = stopping_ != Stopping::no;
        bool keep_alive = spec_.app.keepalive > 0 && (!stopping || c.codec().peer_owns_connection());
        next = c.serve(*bridge_, slot_, keep_alive);
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
    // bytes come.
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

void Worker::update_accepting()
{
    bool wanted = stopping_ != Stopping::retire && !accept_paused_ &&
                  connections_.size() < spec_.app.max_connections;
    // Only on a change: each add or delete is an epoll_ctl().
    if (wanted == accepting_)
        return;
    accepting_ = wanted;
    for (auto& l : listeners_) {
        if (wanted)
            event_add(l->event.get(), nullptr);
        else
            event_del(l->event.get());
    }
    if (dispatch_event_) {
        if (wanted)
            event_add(dispatch_event_.get(), nullptr);
        else
            event_del(dispatch_event_.get());
    }
}

void Worker::pause_accepting(int err)
{
    double now = monotonic_seconds();
    if (now - accept_logged_at_ >= kAcceptLogEvery) {
        log_error("accept() failed: ", std::strerror(err), "; not accepting for ", kAcceptPauseUs / 1000,
                  " ms at a time (", accept_failures_unlogged_, " more failures since the last line; ",
                  connections_.size(), " connections held)");
        accept_logged_at_ = now;
        accept_failures_unlogged_ = 0;
    } else {
        ++accept_failures_unlogged_;
    }
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

void Worker::on_signal_event(evutil_socket_t sig, short, void* arg)
{
    auto* self = static_cast<Worker*>(arg);
    switch (sig) {
    case kSignalRetire: self->begin_stop(Stopping::retire); break;
    case kSignalDrain: self->begin_stop(Stopping::drain); break;
    case SIGQUIT: _exit(kWorkerExitOk);
    case SIGUSR1:
        ErrorLog::reopen();
        AccessLog::reopen();
        break;
    default: break;
    }
}

void Worker::begin_stop(Stopping how)
{
    // Draining is the larger promise: a retiring worker told to drain (the
    // pool stops during a reload) drains; never the other way round.
    if (stopping_ == how || stopping_ == Stopping::drain)
        return;
    stopping_ = how;
    slot_.set_state(WorkerState::stopping);
    if (how == Stopping::retire) {
        log_info("retiring: finishing what this worker holds; a successor serves the rest");
        // Nothing new (update_accepting, below): the successor takes the
        // listen queues and the master's passes.
        // New connections that have sent nothing yet go to the master like
        // idle kept ones; it passes each on once it speaks.
        park_idle_connections(-1, true);
    } else {
        log_info("stopping: finishing in-flight requests and queued connections");
        // The listeners stay watched (update_accepting, below): nobody else
        // will serve their queues.
        // Idle kept connections go to the master, which passes them to a
        // worker that stays or closes them; new ones stay: this worker
        // answers them.
        park_idle_connections(-1, false);
    }
    // What is left idle and quiet (the master's queue was full, or there is
    // no master park) is closed; a connection whose next request has already
    // arrived is served here, with Connection: close.
    std::vector<int> quiet;
    for (auto& [fd, state] : connections_)
        if (state->connection->idle() && request_waiting(fd) <= 0)
            quiet.push_back(fd);
    for (int fd : quiet)
        connections_.erase(fd);
    update_accepting();
    schedule_exit_check();
}

void Worker::schedule_exit_check()
{
    if (stopping_ != Stopping::no && connections_.empty())
        event_active(exit_check_event_.get(), EV_TIMEOUT, 0);
}

void Worker::on_exit_check(evutil_socket_t, short, void* arg) { static_cast<Worker*>(arg)->exit_check(); }

void Worker::exit_check()
{
    if (stopping_ == Stopping::no || !connections_.empty())
        return;
    if (stopping_ == Stopping::drain) {
        if (accept_paused_)
            return;  // out of descriptors: the resume timer checks again
        // Whatever is still queued on the listeners was promised an answer,
        // and so were the new connections the master passes on at a stop.
        // One connection per turn of the loop: the one taken is served, and
        // signals get their turn, before the next check.
        Accepted got = Accepted::none;
        for (auto& l : listeners_) {
            got = accept_one(*l);
            if (got != Accepted::none)
                break;
        }
        if (got == Accepted::none && spec_.dispatch_fd >= 0)
            got = receive_passed();
        if (got == Accepted::refused)
            schedule_exit_check();
        if (got != Accepted::none)
            return;  // an added connection schedules the next check when it closes
    }
    event_base_loopbreak(base_.get());
}

} // namespace

bool follow_master(pid_t master_pid, int sig)
{
    if (master_pid <= 0)
        return true;  // run without a master (tests)
    if (::prctl(PR_SET_PDEATHSIG, sig) != 0)
        log_warning("prctl(PR_SET_PDEATHSIG) failed: ", std::strerror(errno));
    return ::getppid() == master_pid;
}

int run_worker_with_bridge(const WorkerSpec& spec, std::unique_ptr<WsgiBridge> bridge)
{
    ErrorLog::set_role("worker");
    // A worker whose master is gone is unsupervised and holds the listening
    // sockets a restarted master needs: it finishes what it holds (the
    // retire signal) and leaves.
    if (!follow_master(spec.master_pid, kSignalRetire))
        return kWorkerExitOk;
    try {
        AccessLog::configure(spec.access_log);
    } catch (const std::exception& e) {
        log_error(e.what());
        return kWorkerExitBootFailed;
    }
    Worker worker(spec, std::move(bridge));
    return worker.run();
}

int run_worker(const WorkerSpec& spec) { return run_worker_with_bridge(spec, nullptr); }

} // namespace drover

// Inside the worker module: the worker process's loop over the inherited
// listening sockets and its own connections. A complete request head is
// served at once with one blocking application call; while that call runs
// the loop does not, so this worker accepts nothing and other (idle) workers
// take new connections.
//
// The class is split over files by concept: worker_loop.cpp (start, signals,
// stopping), worker_accept.cpp (taking connections: accept, passes from the
// master, the gates on accepting), worker_connections.cpp (driving a
// connection through its exchanges, timers, closing), worker_handoff.cpp
// (handing connections to the master or to idle workers).
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/event.hpp"
#include "base/log.hpp"
#include "worker/connection.hpp"
#include "worker/python/bridge.hpp"
#include "worker/worker_spec.hpp"

namespace drover {

class Worker;

/// How long a lingering close reads and drops what a client still sends.
inline constexpr time_t kLingerSeconds = 2;
/// Out of descriptors (EMFILE, ENFILE) or memory: accepting pauses this long
/// instead of failing again at once in a tight loop (nginx does the same).
inline constexpr suseconds_t kAcceptPauseUs = 500000;
/// At most one log line this often about accept() failing.
inline constexpr double kAcceptLogEvery = 60.0;

struct ListenerState {
    Worker* worker = nullptr;
    uint8_t index = 0;  ///< its place in the worker spec: the tag of passed connections
    ListenerFd spec;
    EventPtr event;
    bool watched = false;  ///< event added (an epoll_ctl() each way)
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
    Worker(const WorkerSpec& spec, std::unique_ptr<WsgiBridge> preloaded);
    int run();

private:
    // worker_loop.cpp
    static void on_signal_event(evutil_socket_t sig, short, void* arg);
    enum class Stopping { no, retire, drain };
    void begin_stop(Stopping how);
    /// Checks, from the loop and never from inside a connection's call
    /// chain, whether a stopping worker may leave.
    void schedule_exit_check();
    static void on_exit_check(evutil_socket_t, short, void* arg);
    void exit_check();

    // worker_accept.cpp
    void watch_listener(const ListenerFd& listener);
    static void on_listener_event(evutil_socket_t, short, void* arg);
    static void on_dispatch_event(evutil_socket_t, short, void* arg);
    enum class Accepted { none, refused, added };
    /// Accepts one connection: none when the queue is empty.
    Accepted accept_one(ListenerState& listener);
    /// Takes one connection the master passed on: none when none is queued.
    Accepted receive_passed();
    void add_connection(UniqueFd fd, ListenerState& listener, PeerInfo info);
    /// Watches the listeners and the dispatch queue exactly when this worker
    /// may take connections: not retiring, not paused, under max_connections.
    void update_accepting();
    /// accept() failed for want of descriptors or memory.
    void pause_accepting(int err);
    static void on_accept_resume(evutil_socket_t, short, void* arg);

    // worker_connections.cpp
    static void on_connection_event(evutil_socket_t, short what, void* arg);
    // Whether a request waits on the connection, unread (a poll, no read).
    static bool has_input(int fd);
    void drive(ConnectionState& state, Connection::Next next);
    void close_connection(int fd);
    /// Forgets a connection (its fd closes unless it was passed on), then
    /// lets accepting resume and a stopping worker leave.
    void drop_connection(int fd);

    // worker_handoff.cpp
    /// Hands every idle kept connection but keep (and, with fresh_too, every
    /// new one that has sent nothing yet) to the master, so none waits behind
    /// the blocking call this worker is about to make.
    void park_idle_connections(int keep, bool fresh_too);
    /// After the application call: the connections the master asked for
    /// meanwhile are its now.
    void forget_handed_connections();
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
    bool dispatch_watched_ = false;
    bool accept_paused_ = false;  ///< by pause_accepting(), until its timer
    LogThrottle accept_log_{kAcceptLogEvery};
};

} // namespace drover

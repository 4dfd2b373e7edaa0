// The master's parking lot for idle kept-alive connections.
//
// A worker runs one request at a time, so an idle kept connection (HTTP
// keep-alive, FastCGI FCGI_KEEP_CONN from an nginx upstream pool) held by a
// busy worker would make the next request on it wait although another worker
// is idle. So a worker that becomes busy hands its idle kept connections to
// the master (SCM_RIGHTS over a unix socket); the master watches them
// and, when one turns readable, passes it on through a second socket that
// every idle worker polls like a listener. Both are SOCK_SEQPACKET pairs. Whichever idle worker receives it
// first serves it; busy workers do not poll, as they do not accept.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <map>
#include <memory>

#include "base/clock.hpp"
#include "base/event.hpp"
#include "base/log.hpp"
#include "base/unique_fd.hpp"

namespace drover {

class ConnectionPark {
public:
    struct Timeouts {
        double keepalive = 5.0;  ///< a parked kept connection is closed after this
        double header = 10.0;    ///< a new one that has sent nothing, after this
    };
    /// Makes both socket pairs. Throws std::runtime_error.
    ConnectionPark(event_base* base, Timeouts timeouts, const Clock& clock);
    ~ConnectionPark();
    ConnectionPark(const ConnectionPark&) = delete;
    ConnectionPark& operator=(const ConnectionPark&) = delete;

    /// The workers' ends: they send idle connections to park_fd and receive
    /// readable ones from dispatch_fd.
    int worker_park_fd() const { return worker_park_.get(); }
    int worker_dispatch_fd() const { return worker_dispatch_.get(); }
    /// The sending end of the dispatch queue: a worker puts a connection whose
    /// next request has already arrived straight into it, with no round
    /// through the master.
    int dispatch_send_fd() const { return master_dispatch_.get(); }

    /// Closes parked connections idle longer than the timeout and retries
    /// passes that found the dispatch queue full. Called from the tick.
    void tick(double now);
    /// Stopping: closes every parked kept connection, now and from now on (the
    /// client reconnects, or finds the service gone); a new connection that
    /// has not sent its request yet is passed on at once, to a draining worker.
    void close_all();
    /// Connections held now.
    size_t parked() const { return parked_.size(); }

private:
    struct Parked {
        ConnectionPark* park = nullptr;
        UniqueFd fd;
        uint8_t tag = 0;
        double since = 0;
        bool ready = false;  ///< readable, waiting for room in the dispatch queue
        bool fresh = false;  ///< never served: its client was promised an answer
        EventPtr ev;         ///< readability watch; none for one passed at once
    };

    static void on_parked(evutil_socket_t, short, void* arg);
    static void on_readable(evutil_socket_t, short, void* arg);
    static void on_writable(evutil_socket_t, short, void* arg);
    void receive();
    /// Passes p to the dispatch queue: when readable, or unconditionally.
    void pass(Parked& p, bool unconditionally);

    event_base* base_;
    Timeouts timeouts_;
    const Clock& clock_;
    UniqueFd master_park_, worker_park_;          // workers -> master
    UniqueFd master_dispatch_, worker_dispatch_;  // master -> idle workers
    EventPtr park_event_;
    EventPtr writable_event_;
    std::map<int, std::unique_ptr<Parked>> parked_;
    bool closing_ = false;
    LogThrottle receive_log_;
};

} // namespace drover

// Accepting that fails for want of resources, paused instead of retried.
//
// When accept() fails with EMFILE or ENFILE (or ENOBUFS, ENOMEM), the
// connection stays in the queue, so the listening socket stays readable and
// the loop would call accept() again at once: 100 % CPU and a log line per
// turn, a disk filled by anyone who can open connections. As nginx does, the
// listener is switched off for a moment instead and turned on again by a
// timer, and the failure is logged once, then at most once a minute with the
// number of pauses in between. A connection that waits meanwhile is accepted
// once fds are free again.
#pragma once

#include <event2/util.h>

#include <cstdint>
#include <string>

#include "base/event.hpp"
#include "base/log.hpp"

struct evconnlistener;

namespace drover {

class AcceptPause {
public:
    struct Options {
        double pause_seconds = 0.5;          ///< nginx's accept_mutex_delay
        double log_interval_seconds = 60.0;  ///< at most one log line per interval
    };

    /// Takes over `listener`'s error callback; `what` names the listener in
    /// the log ("metrics 127.0.0.1:9191"). The listener (and its base) must
    /// outlive this object.
    AcceptPause(evconnlistener* listener, std::string what, Options options);
    AcceptPause(evconnlistener* listener, std::string what) : AcceptPause(listener, std::move(what), Options{}) {}
    ~AcceptPause();
    AcceptPause(const AcceptPause&) = delete;
    AcceptPause& operator=(const AcceptPause&) = delete;

    /// Times accepting was paused since this object was made.
    uint64_t pauses() const { return pauses_; }
    bool paused() const { return paused_; }

private:
    static void on_error(evconnlistener* listener, void* evhttp_data);
    static void on_timer(evutil_socket_t, short, void* self);
    void pause(int error);
    void resume();

    evconnlistener* listener_;
    std::string what_;
    Options options_;
    EventPtr timer_;
    bool paused_ = false;
    uint64_t pauses_ = 0;
    LogThrottle log_;
};

} // namespace drover

#include "metrics/accept_pause.hpp"

#include <event2/event.h>
#include <event2/listener.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

#include "base/clock.hpp"
#include "base/log.hpp"

namespace drover {

namespace {

// libevent calls a listener's error callback with the listener's user data,
// which evhttp has set to its own evhttp*; there is no second pointer. So
// each AcceptPause is found from its listener here. One loop thread uses it.
std::vector<std::pair<evconnlistener*, AcceptPause*>>& registry()
{
    static std::vector<std::pair<evconnlistener*, AcceptPause*>> pauses;
    return pauses;
}

AcceptPause* find(evconnlistener* listener)
{
    for (auto& [l, pause] : registry())
        if (l == listener)
            return pause;
    return nullptr;
}

timeval to_timeval(double seconds)
{
    double whole = std::floor(seconds);
    return timeval{static_cast<time_t>(whole), static_cast<suseconds_t>((seconds - whole) * 1e6)};
}

} // namespace

AcceptPause::AcceptPause(evconnlistener* listener, std::string what, Options options)
    : listener_(listener), what_(std::move(what)), options_(options), log_(options.log_interval_seconds)
{
    timer_.reset(evtimer_new(evconnlistener_get_base(listener_), &AcceptPause::on_timer, this));
    if (!timer_)
        throw std::runtime_error(cat(what_, ": evtimer_new() failed"));
    if (find(listener_) != nullptr)
        throw std::logic_error(cat(what_, ": a second AcceptPause for one listener"));
    registry().emplace_back(listener_, this);
    evconnlistener_set_error_cb(listener_, &AcceptPause::on_error);
}

AcceptPause::~AcceptPause()
{
    // The listener may outlive this object for a moment (evhttp frees it
    // later): it must not call back into freed memory.
    evconnlistener_set_error_cb(listener_, nullptr);
    std::erase_if(registry(), [this](const auto& entry) { return entry.second == this; });
    if (paused_)
        evconnlistener_enable(listener_);
}

void AcceptPause::on_error(evconnlistener* listener, void*)
{
    // libevent hands only non-retriable errors here (not EAGAIN, EINTR or
    // ECONNABORTED); every one of them would fail again on the next turn.
    int error = EVUTIL_SOCKET_ERROR();
    if (AcceptPause* self = find(listener))
        self->pause(error);
}

void AcceptPause::on_timer(evutil_socket_t, short, void* self) { static_cast<AcceptPause*>(self)->resume(); }

void AcceptPause::pause(int error)
{
    if (evconnlistener_disable(listener_) != 0) {
        log_error(what_, ": evconnlistener_disable() failed; accept() keeps failing: ", std::strerror(error));
        return;
    }
    timeval delay = to_timeval(options_.pause_seconds);
    evtimer_add(timer_.get(), &delay);
    paused_ = true;
    ++pauses_;
    if (!log_.allow(monotonic_seconds()))
        return;
    log_error(what_, ": accept() failed: ", std::strerror(error), "; not accepting for ", options_.pause_seconds,
              " s at a time until it succeeds",
              log_.suppressed() > 0 ? cat(" (", log_.suppressed(), " more pauses since the last message)") : std::string());
}

void AcceptPause::resume()
{
    paused_ = false;
    if (evconnlistener_enable(listener_) != 0)
        log_error(what_, ": evconnlistener_enable() failed: not accepting");
}

} // namespace drover

// Signals as loop events. The master blocks the signals it handles and reads
// them from a signalfd watched by its event loop, so handlers run from the
// loop, never in signal context. (Not evsignal: libevent keeps process-wide
// signal state that a forked worker would inherit pointing at the master's
// loop; with a signalfd the workers start with none.)
#pragma once

#include <event2/event.h>
#include <signal.h>

#include <functional>
#include <map>
#include <memory>

#include "base/event.hpp"
#include "base/unique_fd.hpp"

namespace drover {

class SignalEvents {
public:
    explicit SignalEvents(event_base* base);
    ~SignalEvents();
    SignalEvents(const SignalEvents&) = delete;
    SignalEvents& operator=(const SignalEvents&) = delete;

    /// Runs action from the loop whenever sig arrives. Throws std::runtime_error.
    void on(int sig, std::function<void()> action);

private:
    static void on_readable(evutil_socket_t, short, void* arg);

    event_base* base_;
    sigset_t handled_;
    UniqueFd fd_;
    EventPtr ev_;
    std::map<int, std::function<void()>> actions_;
};

} // namespace drover

// Signals as loop events: each signal the master handles is an evsignal
// owned here, and its handler runs from the loop, never in signal context.
#pragma once

#include <event2/event.h>

#include <functional>
#include <memory>
#include <vector>

namespace drover {

class SignalEvents {
public:
    explicit SignalEvents(event_base* base) : base_(base) {}
    SignalEvents(const SignalEvents&) = delete;
    SignalEvents& operator=(const SignalEvents&) = delete;

    /// Runs action from the loop whenever sig arrives.
    void on(int sig, std::function<void()> action);

private:
    struct Entry {
        std::function<void()> action;
        std::unique_ptr<event, void (*)(event*)> ev{nullptr, event_free};
    };
    static void dispatch(evutil_socket_t, short, void* arg);

    event_base* base_;
    std::vector<std::unique_ptr<Entry>> entries_;
};

} // namespace drover

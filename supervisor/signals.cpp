#include "supervisor/signals.hpp"

#include <stdexcept>
#include <string>

namespace drover {

void SignalEvents::on(int sig, std::function<void()> action)
{
    auto entry = std::make_unique<Entry>();
    entry->action = std::move(action);
    entry->ev.reset(evsignal_new(base_, sig, dispatch, entry.get()));
    if (!entry->ev || event_add(entry->ev.get(), nullptr) < 0)
        throw std::runtime_error("evsignal_new(" + std::to_string(sig) + ") failed");
    entries_.push_back(std::move(entry));
}

void SignalEvents::dispatch(evutil_socket_t, short, void* arg) { static_cast<Entry*>(arg)->action(); }

} // namespace drover

// Owning handles for libevent objects, so no event outlives its base and no
// path forgets an event_free().
#pragma once

#include <event2/event.h>

#include <memory>

namespace drover {

struct EventBaseDeleter {
    void operator()(event_base* b) const { event_base_free(b); }
};
struct EventDeleter {
    void operator()(event* e) const { event_free(e); }
};
using EventBasePtr = std::unique_ptr<event_base, EventBaseDeleter>;
using EventPtr = std::unique_ptr<event, EventDeleter>;

} // namespace drover

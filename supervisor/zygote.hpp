// The master's handle on one generation's preloading zygote (see
// worker/zygote.hpp): starts it, asks it for workers, and hands its replies
// to the master from the loop. Destroying the handle closes the socket, and
// the zygote exits.
#pragma once

#include <event2/event.h>
#include <sys/types.h>

#include <functional>
#include <memory>

#include "base/event.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "worker/worker_spec.hpp"
#include "worker/zygote.hpp"

namespace drover {

class Zygote {
public:
    using OnMessage = std::function<void(Zygote&, const ZygoteMessage&)>;

    /// Forks the zygote for spec's generation (spec.slot is unused).
    static Result<std::unique_ptr<Zygote>> start(WorkerSpec spec, event_base* base, OnMessage on_message);
    ~Zygote();
    Zygote(const Zygote&) = delete;
    Zygote& operator=(const Zygote&) = delete;

    pid_t pid() const { return pid_; }
    uint32_t generation() const { return generation_; }
    bool ready() const { return ready_; }
    /// Asks for a worker in slot; the answer comes as a spawned/failed message.
    bool request(uint32_t slot);

private:
    Zygote() = default;
    static void on_readable(evutil_socket_t, short, void* arg);

    pid_t pid_ = 0;
    uint32_t generation_ = 0;
    bool ready_ = false;
    UniqueFd control_;
    EventPtr ev_;
    OnMessage on_message_;
};

} // namespace drover

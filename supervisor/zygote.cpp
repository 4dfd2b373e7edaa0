#include "supervisor/zygote.hpp"

#include <sys/socket.h>

#include <cerrno>

#include "supervisor/spawner.hpp"

namespace drover {

Result<std::unique_ptr<Zygote>> Zygote::start(WorkerSpec spec, event_base* base, OnMessage on_message)
{
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
        return SysError::from_errno("socketpair(zygote)");
    UniqueFd master_end(fds[0]), zygote_end(fds[1]);
    int child_fd = zygote_end.get();
    spec.keep_fds.push_back(child_fd);
    Result<pid_t> pid = spawn_child(spec, [&spec, child_fd] { return run_zygote(spec, child_fd); });
    if (!pid)
        return pid.error();

    std::unique_ptr<Zygote> z(new Zygote());
    z->pid_ = *pid;
    z->generation_ = spec.generation;
    z->control_ = std::move(master_end);
    z->on_message_ = std::move(on_message);
    z->ev_.reset(event_new(base, z->control_.get(), EV_READ | EV_PERSIST, on_readable, z.get()));
    event_add(z->ev_.get(), nullptr);
    return z;
}

Zygote::~Zygote() = default;

bool Zygote::request(uint32_t slot)
{
    ZygoteMessage m;
    m.kind = ZygoteMessage::spawn;
    m.slot = slot;
    for (;;) {
        if (::send(control_.get(), &m, sizeof m, MSG_NOSIGNAL | MSG_DONTWAIT) == static_cast<ssize_t>(sizeof m))
            return true;
        if (errno != EINTR)
            return false;
    }
}

void Zygote::on_readable(evutil_socket_t fd, short, void* arg)
{
    auto* z = static_cast<Zygote*>(arg);
    for (;;) {
        ZygoteMessage m;
        ssize_t n = ::recv(fd, &m, sizeof m, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != static_cast<ssize_t>(sizeof m)) {
            if (n == 0)
                event_del(z->ev_.get());  // the zygote is gone; the master reaps it
            return;
        }
        if (m.kind == ZygoteMessage::ready)
            z->ready_ = true;
        // The callback may destroy z (a failed generation): nothing after it.
        z->on_message_(*z, m);
        return;
    }
}

} // namespace drover

#include "supervisor/signals.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "base/log.hpp"

namespace drover {

SignalEvents::SignalEvents(event_base* base) : base_(base) { sigemptyset(&handled_); }

SignalEvents::~SignalEvents()
{
    ev_.reset();
    ::sigprocmask(SIG_UNBLOCK, &handled_, nullptr);
}

void SignalEvents::on(int sig, std::function<void()> action)
{
    actions_[sig] = std::move(action);
    sigaddset(&handled_, sig);
    // Blocked first, so nothing arriving between the two calls is lost.
    if (::sigprocmask(SIG_BLOCK, &handled_, nullptr) < 0)
        throw std::runtime_error(std::string("sigprocmask() failed: ") + std::strerror(errno));
    int fd = ::signalfd(fd_ ? fd_.get() : -1, &handled_, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        throw std::runtime_error(std::string("signalfd() failed: ") + std::strerror(errno));
    if (!fd_) {
        fd_.reset(fd);
        ev_.reset(event_new(base_, fd_.get(), EV_READ | EV_PERSIST, on_readable, this));
        if (!ev_ || event_add(ev_.get(), nullptr) < 0)
            throw std::runtime_error("event_add(signalfd) failed");
    }
}

void SignalEvents::on_readable(evutil_socket_t fd, short, void* arg)
{
    auto* self = static_cast<SignalEvents*>(arg);
    struct signalfd_siginfo info;
    for (;;) {
        ssize_t n = ::read(fd, &info, sizeof info);
        if (n != static_cast<ssize_t>(sizeof info)) {
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno != EAGAIN)
                log_error("read(signalfd) failed: ", std::strerror(errno));
            return;
        }
        auto it = self->actions_.find(static_cast<int>(info.ssi_signo));
        if (it != self->actions_.end())
            it->second();
    }
}

} // namespace drover

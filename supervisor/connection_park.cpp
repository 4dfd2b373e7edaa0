#include "supervisor/connection_park.hpp"

#include <sys/socket.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "ipc/fd_passing.hpp"
#include "base/log.hpp"

namespace drover {

namespace {

void make_pair(UniqueFd& a, UniqueFd& b)
{
    int fds[2];
    // SEQPACKET, not DGRAM: a datagram pair queues only net.unix.max_dgram_qlen
    // (10) messages; this one is bounded by bytes, thousands of passes. Each
    // recvmsg() still takes exactly one message, whichever worker calls it.
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
        throw std::runtime_error(std::string("socketpair(connection park) failed: ") + std::strerror(errno));
    a.reset(fds[0]);
    b.reset(fds[1]);
}

} // namespace

ConnectionPark::ConnectionPark(event_base* base, Timeouts timeouts, const Clock& clock)
    : base_(base), timeouts_(timeouts), clock_(clock)
{
    make_pair(master_park_, worker_park_);
    make_pair(master_dispatch_, worker_dispatch_);
    park_event_.reset(event_new(base_, master_park_.get(), EV_READ | EV_PERSIST, on_parked, this));
    event_add(park_event_.get(), nullptr);
    // Armed only while passes wait for room in the dispatch queue.
    writable_event_.reset(event_new(base_, master_dispatch_.get(), EV_WRITE, on_writable, this));
}

void ConnectionPark::on_writable(evutil_socket_t, short, void* arg)
{
    auto* self = static_cast<ConnectionPark*>(arg);
    std::vector<int> waiting;
    for (auto& [fd, p] : self->parked_)
        if (p->ready)
            waiting.push_back(fd);
    for (int fd : waiting) {
        auto it = self->parked_.find(fd);
        if (it != self->parked_.end())
            self->pass(*it->second, true);
    }
}

ConnectionPark::~ConnectionPark() = default;

void ConnectionPark::on_parked(evutil_socket_t, short, void* arg) { static_cast<ConnectionPark*>(arg)->receive(); }

void ConnectionPark::receive()
{
    for (;;) {
        Result<PassedFd> got = receive_fd(master_park_.get());
        if (!got) {
            // Out of descriptors the kernel drops the passed one and this
            // fails for every connection handed over: one line a minute.
            if (got.error().err != EAGAIN && got.error().err != EWOULDBLOCK && receive_log_.allow(clock_.now()))
                log_warning(got.error().message(), " (", receive_log_.suppressed(), " more since the last line)");
            return;
        }
        bool fresh = got->tag & kPassedFresh;
        if (closing_ && !fresh)
            continue;  // got->fd closes here
        auto p = std::make_unique<Parked>();
        p->park = this;
        p->fd = std::move(got->fd);
        p->tag = got->tag;
        p->fresh = fresh;
        if (closing_) {
            Parked& ref = *p;
            parked_[ref.fd.get()] = std::move(p);
            pass(ref, true);
            continue;
        }
        p->since = clock_.now();
        int fd = p->fd.get();
        // One-shot: once readable the connection leaves the lot.
        p->ev.reset(event_new(base_, fd, EV_READ, on_readable, p.get()));
        event_add(p->ev.get(), nullptr);
        parked_[fd] = std::move(p);
    }
}

void ConnectionPark::on_readable(evutil_socket_t, short, void* arg)
{
    auto* p = static_cast<Parked*>(arg);
    p->park->pass(*p, false);
}

void ConnectionPark::pass(Parked& p, bool unconditionally)
{
    int fd = p.fd.get();
    char probe;
    ssize_t n = ::recv(fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        parked_.erase(fd);  // the peer closed it: nothing to serve
        return;
    }
    if (n < 0 && !unconditionally) {
        event_add(p.ev.get(), nullptr);  // not readable after all: wait again
        return;
    }
    // Stopping: a connection passed at once was never watched.
    // Stopping: a connection passed at once was never watched.
    if (p.ev)
        event_del(p.ev.get());
    Result<void> sent = send_fd(master_dispatch_.get(), fd, p.tag);
    if (!sent) {
        // The queue is full (every worker busy for long): retried as soon as
        // a worker has taken something from it.
        p.ready = true;
        event_add(writable_event_.get(), nullptr);
        return;
    }
    parked_.erase(fd);
}

void ConnectionPark::tick(double now)
{
    std::vector<int> expired, retry;
    for (auto& [fd, p] : parked_) {
        if (p->ready)
            retry.push_back(fd);
        else if (now - p->since > (p->fresh ? timeouts_.header : timeouts_.keepalive))
            expired.push_back(fd);
    }
    for (int fd : expired)
        parked_.erase(fd);
    for (int fd : retry) {
        auto it = parked_.find(fd);
        if (it != parked_.end())
            pass(*it->second, true);
    }
}

void ConnectionPark::close_all()
{
    closing_ = true;
    std::vector<int> fresh, kept;
    for (auto& [fd, p] : parked_)
        (p->fresh ? fresh : kept).push_back(fd);
    for (int fd : kept)
        parked_.erase(fd);
    for (int fd : fresh) {
        auto it = parked_.find(fd);
        if (it != parked_.end())
            pass(*it->second, true);
    }
}

} // namespace drover

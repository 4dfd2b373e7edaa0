// The worker process: its start, its signals, and how it stops (see
// worker.hpp for the loop as a whole).
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "worker/held_connections.hpp"
#include "worker/worker.hpp"
#include "worker/worker_loop.hpp"

namespace drover {

Worker::Worker(const WorkerSpec& spec, std::unique_ptr<WsgiBridge> preloaded)
    : spec_(spec), slot_(spec.scoreboard->slot(spec.slot)), base_(event_base_new()), bridge_(std::move(preloaded))
{
}

int Worker::run()
{
    slot_.pid.store(::getpid(), std::memory_order_relaxed);
    if (!base_) {
        log_error("event_base_new() failed");
        return kWorkerExitBootFailed;
    }
    if (!bridge_) {
        try {
            bridge_ = make_wsgi_bridge(spec_.app);
        } catch (const std::exception& e) {
            log_error("cannot load the application: ", e.what());
            return kWorkerExitBootFailed;
        }
    }

    exit_check_event_.reset(event_new(base_.get(), -1, 0, on_exit_check, this));
    accept_resume_event_.reset(event_new(base_.get(), -1, 0, on_accept_resume, this));
    for (int sig : {kSignalRetire, kSignalDrain, SIGQUIT, SIGUSR1}) {
        EventPtr ev(evsignal_new(base_.get(), sig, on_signal_event, this));
        event_add(ev.get(), nullptr);
        signal_events_.push_back(std::move(ev));
    }
    // Handled from here on; what came during start-up is delivered now.
    sigset_t handled = worker_signal_mask();
    ::sigprocmask(SIG_UNBLOCK, &handled, nullptr);
    if (spec_.park_fd >= 0)
        held::install(spec_.park_fd, &slot_);
    for (const ListenerFd& l : spec_.listeners)
        watch_listener(l);
    if (spec_.dispatch_fd >= 0)
        dispatch_event_.reset(event_new(base_.get(), spec_.dispatch_fd, EV_READ | EV_PERSIST, on_dispatch_event, this));
    update_accepting();

    slot_.set_state(WorkerState::idle);
    log_info("ready (generation ", spec_.generation, ", slot ", spec_.slot, ")");
    event_base_dispatch(base_.get());
    connections_.clear();
    return kWorkerExitOk;
}

void Worker::on_signal_event(evutil_socket_t sig, short, void* arg)
{
    auto* self = static_cast<Worker*>(arg);
    switch (sig) {
    case kSignalRetire: self->begin_stop(Stopping::retire); break;
    case kSignalDrain: self->begin_stop(Stopping::drain); break;
    case SIGQUIT: _exit(kWorkerExitOk);
    case SIGUSR1:
        ErrorLog::reopen();
        AccessLog::reopen();
        break;
    default: break;
    }
}

void Worker::begin_stop(Stopping how)
{
    // Draining is the larger promise: a retiring worker told to drain (the
    // pool stops during a reload) drains; never the other way round.
    if (stopping_ == how || stopping_ == Stopping::drain)
        return;
    stopping_ = how;
    slot_.set_state(WorkerState::stopping);
    if (how == Stopping::retire) {
        log_info("retiring: finishing what this worker holds; a successor serves the rest");
        // Nothing new (update_accepting, below): the successor takes the
        // listen queues and the master's passes. New connections that have
        // sent nothing yet go to the master like idle kept ones; it passes
        // each on once it speaks.
        park_idle_connections(-1, true);
    } else {
        log_info("stopping: finishing in-flight requests and queued connections");
        // The listeners stay watched: nobody else will serve their queues.
        // Idle kept connections go to the master, which passes them to a
        // worker that stays or closes them; new ones stay: this worker
        // answers them.
        park_idle_connections(-1, false);
    }
    // What is left idle and quiet (the master's queue was full, or there is
    // no master park) is closed; a connection whose next request has already
    // arrived is served here, with Connection: close.
    std::vector<int> quiet;
    for (auto& [fd, state] : connections_)
        if (state->connection->idle() && request_waiting(fd) <= 0)
            quiet.push_back(fd);
    for (int fd : quiet)
        connections_.erase(fd);
    update_accepting();
    schedule_exit_check();
}

void Worker::schedule_exit_check()
{
    if (stopping_ != Stopping::no && connections_.empty())
        event_active(exit_check_event_.get(), EV_TIMEOUT, 0);
}

void Worker::on_exit_check(evutil_socket_t, short, void* arg) { static_cast<Worker*>(arg)->exit_check(); }

void Worker::exit_check()
{
    if (stopping_ == Stopping::no || !connections_.empty())
        return;
    if (stopping_ == Stopping::drain) {
        if (accept_paused_)
            return;  // out of descriptors: the resume timer checks again
        // Whatever is still queued on the listeners was promised an answer,
        // and so were the new connections the master passes on at a stop.
        // One connection per turn of the loop: the one taken is served, and
        // signals get their turn, before the next check.
        Accepted got = Accepted::none;
        for (auto& l : listeners_) {
            got = accept_one(*l);
            if (got != Accepted::none)
                break;
        }
        if (got == Accepted::none && spec_.dispatch_fd >= 0)
            got = receive_passed();
        if (got == Accepted::refused)
            schedule_exit_check();
        if (got != Accepted::none)
            return;  // an added connection schedules the next check when it closes
    }
    event_base_loopbreak(base_.get());
}

bool follow_master(pid_t master_pid, int sig)
{
    if (master_pid <= 0)
        return true;  // run without a master (tests)
    if (::prctl(PR_SET_PDEATHSIG, sig) != 0)
        log_warning("prctl(PR_SET_PDEATHSIG) failed: ", std::strerror(errno));
    return ::getppid() == master_pid;
}

int run_worker_with_bridge(const WorkerSpec& spec, std::unique_ptr<WsgiBridge> bridge)
{
    ErrorLog::set_role("worker");
    // A worker whose master is gone is unsupervised and holds the listening
    // sockets a restarted master needs: it finishes what it holds (the
    // retire signal) and leaves.
    if (!follow_master(spec.master_pid, kSignalRetire))
        return kWorkerExitOk;
    try {
        AccessLog::configure(spec.access_log);
    } catch (const std::exception& e) {
        log_error(e.what());
        return kWorkerExitBootFailed;
    }
    Worker worker(spec, std::move(bridge));
    return worker.run();
}

int run_worker(const WorkerSpec& spec) { return run_worker_with_bridge(spec, nullptr); }

} // namespace drover

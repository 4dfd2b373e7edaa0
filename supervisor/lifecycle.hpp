// The lifecycle of the pool and of each of its workers, as explicit states.
//
// The master is in one MasterState; each worker in one WorkerPhase, with why
// it is there (a StopReason) and since when. As in PHP-FPM's fpm_pctl(), a
// request for a new state is taken only when it overrides the current one,
// so that two signals in a row cannot undo each other:
//
//   master   quitting > stopping > reloading > running
//            A stop abandons a reload (its new generation drains with the
//            rest); a quit overrides a graceful stop. A reload asked during
//            a reload is not dropped but deferred: it runs when this one ends,
//            rolled back or not. Only the end of a reload goes back to
//            running.
//
//   worker   killed > stopping > retiring > serving > starting
//            starting: forked, not ready yet. serving: its slot said idle or
//            busy once. retiring: to be replaced (a limit, a reload, scaling)
//            but serving until its successor is ready or max_unavailable lets
//            it go. stopping: its stop signal went out. killed: SIGKILL did.
//            No phase goes back. Within a phase only the reason may change:
//            while stopping, a request timeout overrides any other reason
//            (SIGKILL follows its traceback), and a shutdown (the drain)
//            overrides a retire reason, as nobody stays to serve the listen
//            queues; a timed-out worker keeps its reason, as it is killed
//            within kTracebackGrace anyway. A retiring worker keeps the
//            first reason it was given.
#pragma once

#include <cstdint>

namespace drover {

enum class MasterState { running, reloading, stopping, quitting };

enum class WorkerPhase { starting, serving, retiring, stopping, killed };

/// Why a worker retires, stops or was killed (or why it went by itself).
enum class StopReason { none, crash, timeout, max_requests, max_rss, max_lifetime, reload, scale_down, shutdown };

/// A worker that dies this soon after it was ready, before serving a request,
/// counts toward the crash-loop backoff like one that never got ready: an app
/// that crashes on its first request must not make the master fork in a
/// tight loop under load. Serving a request, or staying up this long, proves
/// a worker.
inline constexpr double kEarlyCrashSeconds = 5.0;

/// How long faulthandler gets to write a timed-out worker's traceback before
/// SIGKILL.
inline constexpr double kTracebackGrace = 0.3;

/// May the master go from current to next? (See the order above.)
constexpr bool master_may_enter(MasterState current, MasterState next)
{
    if (current == MasterState::reloading && next == MasterState::running)
        return true;  // the reload ended
    return static_cast<int>(next) > static_cast<int>(current);
}

/// May a worker go from current to next? Never back, never in place.
constexpr bool worker_may_enter(WorkerPhase current, WorkerPhase next)
{
    return static_cast<int>(next) > static_cast<int>(current);
}

/// Recycling: a limit replaces the worker, successor first.
constexpr bool is_recycling(StopReason reason)
{
    return reason == StopReason::max_requests || reason == StopReason::max_rss || reason == StopReason::max_lifetime;
}

/// Within one phase, may next replace a worker's current reason?
constexpr bool reason_overrides(StopReason current, StopReason next)
{
    if (current == StopReason::none || current == next)
        return current != next;
    if (next == StopReason::timeout)
        return true;
    return next == StopReason::shutdown &&
           (is_recycling(current) || current == StopReason::reload || current == StopReason::scale_down);
}

constexpr const char* master_state_name(MasterState state)
{
    switch (state) {
    case MasterState::running: return "running";
    case MasterState::reloading: return "reloading";
    case MasterState::stopping: return "stopping";
    case MasterState::quitting: return "quitting";
    }
    return "unknown";
}

constexpr const char* worker_phase_name(WorkerPhase phase)
{
    switch (phase) {
    case WorkerPhase::starting: return "starting";
    case WorkerPhase::serving: return "serving";
    case WorkerPhase::retiring: return "retiring";
    case WorkerPhase::stopping: return "stopping";
    case WorkerPhase::killed: return "killed";
    }
    return "unknown";
}

constexpr const char* stop_reason_name(StopReason reason)
{
    switch (reason) {
    case StopReason::none: return "none";
    case StopReason::crash: return "crash";
    case StopReason::timeout: return "timeout";
    case StopReason::max_requests: return "max_requests";
    case StopReason::max_rss: return "max_rss";
    case StopReason::max_lifetime: return "max_lifetime";
    case StopReason::reload: return "reload";
    case StopReason::scale_down: return "scale_down";
    case StopReason::shutdown: return "shutdown";
    }
    return "unknown";
}

} // namespace drover

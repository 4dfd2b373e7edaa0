// Everything the pool does to the world, as one small interface. The master
// implements it with fork, kill and sd_notify; a unit test with a recorder.
// The pool decides; an implementation carries out and decides nothing.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "base/log.hpp"
#include "supervisor/config.hpp"

namespace drover {

struct SpawnResult {
    enum class Outcome {
        forked,          ///< pid is the worker
        pending,         ///< a preloading zygote forks it and reports the pid later
        failed,          ///< could not even ask (the zygote's socket is gone): try again next tick
        failed_back_off  ///< fork() or the zygote failed: retry under the crash-loop backoff
    };
    Outcome outcome = Outcome::failed;
    pid_t pid = 0;

    static SpawnResult forked(pid_t pid) { return {Outcome::forked, pid}; }
    static SpawnResult pending() { return {Outcome::pending, 0}; }
    static SpawnResult failed() { return {Outcome::failed, 0}; }
    static SpawnResult failed_back_off() { return {Outcome::failed_back_off, 0}; }
};

/// What systemd is told about the service (sd_notify): READY=1, RELOADING=1,
/// STOPPING=1.
enum class Announcement { ready, reloading, stopping };

class PoolEffects {
public:
    virtual ~PoolEffects() = default;

    /// Starts a worker of generation in a scoreboard slot, which the
    /// implementation resets first. Failures are logged here, with the call
    /// that failed.
    virtual SpawnResult spawn(uint32_t slot, uint32_t generation, const Config& config) = 0;
    /// Sends sig to a worker (never to pid 0: the pool does not ask).
    virtual void signal(pid_t pid, int sig) = 0;
    /// Asks a busy worker for the idle connections it kept
    /// (kSignalHandoff, aimed at its main thread).
    virtual void ask_for_connections(pid_t pid) = 0;
    virtual void announce(Announcement what) = 0;
    /// systemd's STATUS= line.
    virtual void status(const std::string& text) = 0;
    /// Reads the configuration again for a reload, against the running one.
    /// Nothing when it is invalid (the implementation logged why).
    virtual std::optional<Config> load_config(const Config& running) = 0;
    /// Ends the preloading zygotes of every generation but keep_generation
    /// (0 keeps none).
    virtual void retire_zygotes(uint32_t keep_generation) = 0;
    /// The pool stops: kept connections parked in the master are closed.
    virtual void close_parked_connections() = 0;
    /// The master's own error log is reopened (the workers get SIGUSR1).
    virtual void reopen_log() = 0;
    virtual void log(LogLevel level, const std::string& message) = 0;
};

} // namespace drover

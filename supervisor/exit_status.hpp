// How a child process ended, as waitpid() reported it, in a form the pool
// can reason about and a test can write down.
#pragma once

#include <string>

namespace drover {

class ExitStatus {
public:
    /// From a waitpid() status word.
    static ExitStatus from_wait_status(int status);
    static ExitStatus exited(int code) { return ExitStatus(Kind::exited, code, false); }
    static ExitStatus killed(int signal, bool core_dumped = false) { return ExitStatus(Kind::signaled, signal, core_dumped); }

    bool exited_with(int code) const { return kind_ == Kind::exited && value_ == code; }
    /// Exited with code 0.
    bool clean() const { return exited_with(0); }
    /// "exited with code 3", "killed by signal 9 (SIGKILL)", "..., core dumped".
    std::string describe() const;

private:
    enum class Kind { exited, signaled, other };
    ExitStatus(Kind kind, int value, bool core) : kind_(kind), value_(value), core_(core) {}

    Kind kind_;
    int value_;  ///< the exit code, the signal, or the raw status
    bool core_;
};

} // namespace drover

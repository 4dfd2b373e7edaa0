// A Python exception taken out of the interpreter, so the bridge can run
// more Python (close(), the 500 answer) before it logs the exception.
// Implemented in errors.cpp, with the rest of what goes to the error log.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/log.hpp"
#include "worker/python/pyref.hpp"

namespace drover {

class PythonError {
public:
    /// Takes the pending exception (and clears it); empty when none is set.
    static PythonError fetch();

    bool empty() const { return !type_; }
    /// Makes it the pending exception again (and leaves this one empty).
    void restore();
    /// PyErr_GivenExceptionMatches: exc_type may be a class or a tuple.
    bool matches(PyObject* exc_type) const;
    /// "ModuleNotFoundError: No module named 'x'" (the traceback's last line).
    std::string summary() const;
    /// The full traceback as traceback.format_exception() gives it, one
    /// element per line, without line ends.
    std::vector<std::string> traceback_lines() const;

private:
    PyRef type_, value_, traceback_;
};

/// Logs headline and then the traceback, one log line per traceback line,
/// each with the "app: " prefix the wsgi.errors lines carry.
void log_python_error(const PythonError& error, std::string_view headline,
                      LogLevel level = LogLevel::error);

} // namespace drover

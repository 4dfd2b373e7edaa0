// Scoped GIL ownership. The worker thread holds the GIL only while it runs
// Python (inside handle()), and lets go of it around every call that may block
// on the client, so threads the application started keep running.
#pragma once

#include <Python.h>

namespace drover {

/// Holds the GIL for a scope, from any thread (PyGILState API).
class GilHold {
public:
    GilHold() noexcept : state_(PyGILState_Ensure()) {}
    ~GilHold() { PyGILState_Release(state_); }
    GilHold(const GilHold&) = delete;
    GilHold& operator=(const GilHold&) = delete;

private:
    PyGILState_STATE state_;
};

/// Releases the GIL held by this thread for a scope (Py_BEGIN_ALLOW_THREADS).
/// Nothing inside the scope may touch a Python object.
class GilRelease {
public:
    GilRelease() noexcept : state_(PyEval_SaveThread()) {}
    ~GilRelease() { PyEval_RestoreThread(state_); }
    GilRelease(const GilRelease&) = delete;
    GilRelease& operator=(const GilRelease&) = delete;

private:
    PyThreadState* state_;
};

} // namespace drover

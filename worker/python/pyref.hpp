// Owning handle for a PyObject reference: the one place in drover that pairs
// Py_INCREF with Py_DECREF, so no error path can leak or double-release.
//
// Every PyRef must be destroyed with the GIL held: Py_DECREF may run
// arbitrary finalisers.
#pragma once

#include <Python.h>

#include <utility>

namespace drover {

class PyRef {
public:
    PyRef() = default;
    PyRef(PyRef&& other) noexcept : p_(other.release()) {}
    PyRef& operator=(PyRef&& other) noexcept
    {
        reset(other.release());
        return *this;
    }
    PyRef(const PyRef&) = delete;
    PyRef& operator=(const PyRef&) = delete;
    ~PyRef() { Py_XDECREF(p_); }

    /// Takes over a new reference (what most C API calls return); nullptr
    /// stays nullptr, so the pending Python error can be checked after.
    static PyRef steal(PyObject* p) noexcept { return PyRef(p); }
    /// Adds a reference to a borrowed one (PyDict_GetItem, PyTuple_GET_ITEM).
    static PyRef borrow(PyObject* p) noexcept
    {
        Py_XINCREF(p);
        return PyRef(p);
    }

    PyObject* get() const noexcept { return p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    /// Hands the reference to a call that steals it (PyTuple_SET_ITEM ...).
    PyObject* release() noexcept { return std::exchange(p_, nullptr); }
    void reset(PyObject* stolen = nullptr) noexcept
    {
        // Swap first: the old object's finaliser may look at this handle.
        PyObject* old = std::exchange(p_, stolen);
        Py_XDECREF(old);
    }

private:
    explicit PyRef(PyObject* p) noexcept : p_(p) {}
    PyObject* p_ = nullptr;
};

} // namespace drover

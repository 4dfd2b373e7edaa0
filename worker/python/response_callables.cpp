// The start_response and write() callables PEP 3333 gives the application,
// as C types bound to one response's state.
#include "worker/python/response_state.hpp"

#include <algorithm>

#include "worker/ascii.hpp"
#include "worker/python/response_head.hpp"

namespace drover::response {

namespace {

struct CallableObject {
    PyObject ob_base;
    State* state;  // nullptr once the request has ended
};

State* state_of(PyObject* self) { return reinterpret_cast<CallableObject*>(self)->state; }

void callable_dealloc(PyObject* self)
{
    PyTypeObject* type = Py_TYPE(self);
    type->tp_free(self);
    Py_DECREF(type);
}

PyTypeObject* make_callable_type(PyType_Spec& spec)
{
    return reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&spec));
}

PyRef make_callable(PyTypeObject* type, State* state)
{
    if (!type)
        return {};
    PyRef self = PyRef::steal(type->tp_alloc(type, 0));
    if (self)
        reinterpret_cast<CallableObject*>(self.get())->state = state;
    return self;
}

PyObject* client_gone_error()
{
    PyErr_SetString(PyExc_BrokenPipeError, "client disconnected");
    return nullptr;
}

PyObject* write_call(PyObject* self, PyObject* args, PyObject* kwargs)
{
    State* s = state_of(self);
    static const char* keywords[] = {"data", nullptr};
    PyObject* data = nullptr;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:write", const_cast<char**>(keywords), &data))
        return nullptr;
    if (!s) {
        PyErr_SetString(PyExc_ValueError, "write() called after its request ended");
        return nullptr;
    }
    if (!PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError, "write() argument must be bytes, not %.100s", Py_TYPE(data)->tp_name);
        return nullptr;
    }
    if (!s->started) {
        PyErr_SetString(PyExc_AssertionError, "write() called before start_response()");
        return nullptr;
    }
    if (s->ended) {
        PyErr_SetString(PyExc_ValueError, "write() called after the response ended");
        return nullptr;
    }
    if (s->client_gone)
        return client_gone_error();
    struct Caller {
        explicit Caller(State& st) : s(st) { ++s.callers; }
        ~Caller() { --s.callers; }  // with the GIL: send_body returns holding it
        State& s;
    } caller(*s);
    // The args tuple keeps data alive while the GIL is released.
    if (!send_body(*s, std::string_view(PyBytes_AS_STRING(data), static_cast<size_t>(PyBytes_GET_SIZE(data))))) {
        if (s->ended && !s->client_gone) {
            PyErr_SetString(PyExc_ValueError, "write() called after the response ended");
            return nullptr;
        }
        return client_gone_error();
    }
    Py_RETURN_NONE;
}

PyType_Slot write_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(callable_dealloc)},
    {Py_tp_call, reinterpret_cast<void*>(write_call)},
    {Py_tp_doc, const_cast<char*>("write(data: bytes): the PEP 3333 write() callable")},
    {0, nullptr},
};
PyType_Spec write_spec = {"drover.Write", sizeof(CallableObject), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, write_slots};

PyTypeObject* write_type()
{
    static PyTypeObject* type = make_callable_type(write_spec);  // lives as long as the interpreter
    return type;
}

// PEP 3333: with exc_info once the head is out, "start_response must raise
// an error, and should re-raise using the exc_info tuple".
PyObject* reraise(PyObject* exc_info)
{
    PyObject* type = PyTuple_GET_ITEM(exc_info, 0);
    PyObject* value = PyTuple_GET_ITEM(exc_info, 1);
    PyObject* tb = PyTuple_GET_ITEM(exc_info, 2);
    if (!PyExceptionClass_Check(type) || (tb != Py_None && !PyTraceBack_Check(tb))) {
        PyErr_SetString(PyExc_TypeError, "exc_info must be a (type, value, traceback) tuple");
        return nullptr;
    }
    Py_INCREF(type);
    Py_INCREF(value);
    if (tb == Py_None)
        tb = nullptr;
    Py_XINCREF(tb);
    PyErr_Restore(type, value, tb);
    return nullptr;
}

PyObject* start_response_call(PyObject* self, PyObject* args, PyObject* kwargs)
{
    State* s = state_of(self);
    static const char* keywords[] = {"status", "response_headers", "exc_info", nullptr};
    PyObject* status = nullptr;
    PyObject* headers = nullptr;
    PyObject* exc_info = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|O:start_response", const_cast<char**>(keywords), &status,
                                     &headers, &exc_info))
        return nullptr;
    if (!s) {
        PyErr_SetString(PyExc_ValueError, "start_response() called after its request ended");
        return nullptr;
    }
    if (exc_info != Py_None) {
        if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
            PyErr_SetString(PyExc_TypeError, "exc_info must be a (type, value, traceback) tuple");
            return nullptr;
        }
        // sys.exc_info() outside an except block is (None, None, None): no error.
        if (PyTuple_GET_ITEM(exc_info, 0) == Py_None)
            exc_info = Py_None;
    }
    if (exc_info != Py_None) {
        if (s->head_out)
            return reraise(exc_info);
    } else if (s->started) {
        PyErr_SetString(PyExc_AssertionError, "start_response() called a second time without exc_info");
        return nullptr;
    }

    // Validate everything before changing anything: a rejected call leaves
    // the previous status and headers in place.
    int code = 0;
    std::string line;
    HeaderList list;
    int64_t declared = -1;
    if (!parse_status(status, code, line) || !parse_headers(headers, list, declared))
        return nullptr;
    if (code < 200) {
        // The server sends 100 Continue itself; an interim answer cannot be
        // the application's one response.
        PyErr_Format(PyExc_ValueError, "a 1xx status is not a final status: %R", status);
        return nullptr;
    }
    if (code == 204 && declared >= 0) {
        list.erase(std::remove_if(list.begin(), list.end(),
                                  [](const auto& h) { return ascii_iequals(h.first, "content-length"); }),
                   list.end());
        declared = -1;
    }
    if (!s->write) {
        s->write = make_callable(write_type(), s);
        if (!s->write)
            return nullptr;
    }
    s->started = true;
    s->status = code;
    s->status_line = std::move(line);
    s->headers = std::move(list);
    s->declared_length = declared;
    return PyRef::borrow(s->write.get()).release();
}

PyType_Slot start_response_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(callable_dealloc)},
    {Py_tp_call, reinterpret_cast<void*>(start_response_call)},
    {Py_tp_doc, const_cast<char*>("start_response(status, response_headers, exc_info=None) -> write")},
    {0, nullptr},
};
PyType_Spec start_response_spec = {"drover.StartResponse", sizeof(CallableObject), 0,
                                   Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, start_response_slots};

PyTypeObject* start_response_type()
{
    static PyTypeObject* type = make_callable_type(start_response_spec);
    return type;
}

} // namespace

PyRef make_start_response(State* state) { return make_callable(start_response_type(), state); }

void detach_callable(PyObject* callable)
{
    if (callable)
        reinterpret_cast<CallableObject*>(callable)->state = nullptr;
}

} // namespace drover::response

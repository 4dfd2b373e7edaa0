// Where Python's complaints go: wsgi.errors lines and exception tracebacks
// both end up in drover's error log with the "app: " prefix, one log line per
// text line, so a multi-line traceback cannot interleave with another
// process's lines and stays greppable.
#include "worker/python/errors.hpp"

#include <new>
#include <string>
#include <string_view>

#include "base/log.hpp"
#include "worker/python/python_error.hpp"

namespace drover {

namespace {

// A line that never ends (an app writing a progress bar, binary junk) is
// logged in pieces of this size instead of growing without bound.
constexpr size_t kMaxPendingLine = 64 * 1024;

struct ErrorStreamObject {
    PyObject ob_base;
    std::string pending;  // constructed in make_error_stream()
};

ErrorStreamObject* as_stream(PyObject* self) { return reinterpret_cast<ErrorStreamObject*>(self); }

void emit_line(std::string_view line)
{
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    log_error("app: ", line);
}

void append_text(ErrorStreamObject* self, std::string_view text)
{
    std::string& pending = self->pending;
    pending.append(text);
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
        emit_line(std::string_view(pending).substr(start, nl - start));
    pending.erase(0, start);
    if (pending.size() >= kMaxPendingLine) {
        emit_line(pending);
        pending.clear();
    }
}

bool write_text(ErrorStreamObject* self, PyObject* text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "write() argument must be str, not %.100s", Py_TYPE(text)->tp_name);
        return false;
    }
    Py_ssize_t size = 0;
    if (const char* utf8 = PyUnicode_AsUTF8AndSize(text, &size)) {
        append_text(self, std::string_view(utf8, static_cast<size_t>(size)));
        return true;
    }
    // Lone surrogates (bytes decoded with surrogateescape, e.g. a path from
    // environ) have no UTF-8 form: log them escaped rather than lose the line.
    PyErr_Clear();
    PyRef escaped = PyRef::steal(PyUnicode_AsEncodedString(text, "utf-8", "backslashreplace"));
    if (!escaped)
        return false;
    append_text(self, std::string_view(PyBytes_AS_STRING(escaped.get()),
                                       static_cast<size_t>(PyBytes_GET_SIZE(escaped.get()))));
    return true;
}

void flush_pending(ErrorStreamObject* self)
{
    if (self->pending.empty())
        return;
    emit_line(self->pending);
    self->pending.clear();
}

PyObject* stream_write(PyObject* self, PyObject* text)
{
    if (!write_text(as_stream(self), text))
        return nullptr;
    return PyLong_FromSsize_t(PyUnicode_GET_LENGTH(text));
}

PyObject* stream_writelines(PyObject* self, PyObject* lines)
{
    PyRef it = PyRef::steal(PyObject_GetIter(lines));
    if (!it)
        return nullptr;
    while (PyRef line = PyRef::steal(PyIter_Next(it.get()))) {
        if (!write_text(as_stream(self), line.get()))
            return nullptr;
    }
    if (PyErr_Occurred())
        return nullptr;
    Py_RETURN_NONE;
}

PyObject* stream_flush(PyObject* self, PyObject*)
{
    flush_pending(as_stream(self));
    Py_RETURN_NONE;
}

PyObject* stream_writable(PyObject*, PyObject*) { Py_RETURN_TRUE; }

void stream_dealloc(PyObject* self)
{
    PyTypeObject* type = Py_TYPE(self);
    flush_pending(as_stream(self));
    as_stream(self)->pending.~basic_string();
    type->tp_free(self);
    Py_DECREF(type);  // heap type instances own a reference to their type
}

PyMethodDef stream_methods[] = {
    {"write", stream_write, METH_O, "write(str) -> int: log each complete line"},
    {"writelines", stream_writelines, METH_O, "writelines(iterable of str)"},
    {"flush", stream_flush, METH_NOARGS, "log a pending partial line"},
    {"writable", stream_writable, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot stream_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(stream_dealloc)},
    {Py_tp_methods, stream_methods},
    {Py_tp_doc, const_cast<char*>("wsgi.errors: lines go to the drover error log")},
    {0, nullptr},
};

PyType_Spec stream_spec = {
    "drover.ErrorStream",
    sizeof(ErrorStreamObject),
    0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    stream_slots,
};

// Created once per process; the interpreter is never finalised, so the type
// lives as long as the process.
PyTypeObject* stream_type()
{
    static PyObject* type = PyType_FromSpec(&stream_spec);
    return reinterpret_cast<PyTypeObject*>(type);
}

// The traceback module's formatters, looked up once.
struct Formatters {
    PyObject* format_exception = nullptr;
    PyObject* format_exception_only = nullptr;
};

const Formatters& formatters()
{
    static Formatters f = [] {
        Formatters out;
        PyRef module = PyRef::steal(PyImport_ImportModule("traceback"));
        if (module) {
            out.format_exception = PyObject_GetAttrString(module.get(), "format_exception");
            out.format_exception_only = PyObject_GetAttrString(module.get(), "format_exception_only");
        }
        PyErr_Clear();
        return out;
    }();
    return f;
}

// Calls a traceback formatter and splits what it returns into lines; empty
// when formatting itself fails (then the caller falls back to the type name).
std::vector<std::string> format_lines(PyObject* formatter, PyObject* type, PyObject* value, PyObject* tb)
{
    std::vector<std::string> lines;
    if (!formatter)
        return lines;
    PyRef parts = PyRef::steal(tb ? PyObject_CallFunctionObjArgs(formatter, type, value, tb, nullptr)
                                  : PyObject_CallFunctionObjArgs(formatter, type, value, nullptr));
    PyRef it = parts ? PyRef::steal(PyObject_GetIter(parts.get())) : PyRef();
    if (!it) {
        PyErr_Clear();
        return lines;
    }
    while (PyRef part = PyRef::steal(PyIter_Next(it.get()))) {
        Py_ssize_t size = 0;
        const char* text = PyUnicode_Check(part.get()) ? PyUnicode_AsUTF8AndSize(part.get(), &size) : nullptr;
        if (!text) {
            PyErr_Clear();
            continue;
        }
        std::string_view rest(text, static_cast<size_t>(size));
        while (!rest.empty()) {
            size_t nl = rest.find('\n');
            lines.emplace_back(rest.substr(0, nl));
            rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
        }
    }
    PyErr_Clear();
    return lines;
}

std::string type_name(PyObject* type)
{
    if (type && PyType_Check(type))
        return reinterpret_cast<PyTypeObject*>(type)->tp_name;
    return "unknown exception";
}

} // namespace

PyRef make_error_stream()
{
    PyTypeObject* type = stream_type();
    if (!type)
        return {};
    PyRef self = PyRef::steal(type->tp_alloc(type, 0));
    if (self)
        new (&as_stream(self.get())->pending) std::string();
    return self;
}

void flush_error_stream(PyObject* stream)
{
    if (stream && Py_TYPE(stream) == stream_type())
        flush_pending(as_stream(stream));
}

PythonError PythonError::fetch()
{
    PyObject* type = nullptr;
    PyObject* value = nullptr;
    PyObject* tb = nullptr;
    PyErr_Fetch(&type, &value, &tb);
    if (!type)
        return {};
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value)
        PyException_SetTraceback(value, tb);
    PythonError error;
    error.type_ = PyRef::steal(type);
    error.value_ = PyRef::steal(value);
    error.traceback_ = PyRef::steal(tb);
    return error;
}

void PythonError::restore()
{
    if (type_)
        PyErr_Restore(type_.release(), value_.release(), traceback_.release());
}

bool PythonError::matches(PyObject* exc_type) const
{
    return type_ && PyErr_GivenExceptionMatches(type_.get(), exc_type);
}

std::string PythonError::summary() const
{
    if (empty())
        return {};
    std::vector<std::string> lines = format_lines(formatters().format_exception_only, type_.get(),
                                                  value_ ? value_.get() : Py_None, nullptr);
    // SyntaxError puts the offending source first; the message is last.
    return lines.empty() ? type_name(type_.get()) : lines.back();
}

std::vector<std::string> PythonError::traceback_lines() const
{
    if (empty())
        return {};
    std::vector<std::string> lines = format_lines(formatters().format_exception, type_.get(),
                                                  value_ ? value_.get() : Py_None,
                                                  traceback_ ? traceback_.get() : Py_None);
    if (lines.empty())
        lines.push_back(type_name(type_.get()));
    return lines;
}

void log_python_error(const PythonError& error, std::string_view headline, LogLevel level)
{
    if (!ErrorLog::enabled(level))
        return;
    ErrorLog::write(level, cat("app: ", headline));
    for (const std::string& line : error.traceback_lines())
        ErrorLog::write(level, cat("app: ", line));
}

} // namespace drover

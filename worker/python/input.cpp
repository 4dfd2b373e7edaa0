// wsgi.input. Reads block in BodySource::read() with the GIL released; the
// only read-ahead is the small buffer readline() needs to find a line end,
// and nothing is read once the source has reported the end of the body, so
// a read never waits for bytes that will not come.
#include "worker/python/input.hpp"

#include <time.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>

#include "worker/python/gil.hpp"

namespace drover {

namespace {

constexpr size_t kChunk = 64 * 1024;

// Bytes read from the source but not yet handed to the application. Unlike
// std::string it never zero-fills the room a read may not use, which matters
// when a client dribbles the body one byte per read.
class ReadAhead {
public:
    const char* data() const { return buffer_.get() + begin_; }
    size_t size() const { return end_ - begin_; }
    void consume(size_t n)
    {
        begin_ += n;
        if (begin_ == end_)
            begin_ = end_ = 0;
    }
    void clear() { begin_ = end_ = 0; }
    /// Room for at least n more bytes after the unread ones; returns where.
    char* prepare(size_t n)
    {
        if (capacity_ - end_ >= n)
            return buffer_.get() + end_;
        size_t unread = size();
        if (capacity_ - unread >= n) {
            std::memmove(buffer_.get(), data(), unread);
        } else {
            size_t capacity = std::max(capacity_ * 2, unread + n);
            std::unique_ptr<char[]> bigger(new char[capacity]);
            if (unread)
                std::memcpy(bigger.get(), data(), unread);
            buffer_ = std::move(bigger);
            capacity_ = capacity;
        }
        begin_ = 0;
        end_ = unread;
        return buffer_.get() + end_;
    }
    size_t room() const { return capacity_ - end_; }
    void commit(size_t n) { end_ += n; }

private:
    std::unique_ptr<char[]> buffer_;
    size_t capacity_ = 0;
    size_t begin_ = 0;
    size_t end_ = 0;
};

struct InputObject {
    PyObject ob_base;
    BodySource* source;  // nullptr once the request has ended
    bool eof;            // the source said 0: never ask it again
    bool reading;        // a source read is in flight with the GIL released
    bool failed;
    std::string error;   // the source's error(), raised again on every later call
    ReadAhead ahead;     // what readline() read past the line it returned
};

InputObject* as_input(PyObject* self) { return reinterpret_cast<InputObject*>(self); }

size_t buffered(const InputObject* self) { return self->ahead.size(); }

// Every method starts here. Two threads reading one body at once would race
// on the read-ahead buffer while one of them waits without the GIL.
bool usable(InputObject* self)
{
    if (self->reading) {
        PyErr_SetString(PyExc_RuntimeError, "wsgi.input is being read by another thread");
        return false;
    }
    if (self->failed) {
        PyErr_SetString(PyExc_OSError, self->error.c_str());
        return false;
    }
    if (!self->source) {
        PyErr_SetString(PyExc_ValueError, "wsgi.input used after its request ended");
        return false;
    }
    return true;
}

// Reads from the body with the GIL released: bytes read, 0 at the end, -1
// with a Python exception set.
ssize_t source_read(InputObject* self, char* dst, size_t size)
{
    if (self->eof)
        return 0;
    if (!self->source) {
        PyErr_SetString(PyExc_ValueError, "wsgi.input used after its request ended");
        return -1;
    }
    BodySource* source = self->source;
    self->reading = true;
    ssize_t n;
    std::string exception;
    try {
        GilRelease unlocked;
        n = source->read(dst, size);
    } catch (const std::exception& e) {
        // Must not unwind through the interpreter's C frames.
        n = -1;
        exception = e.what();
    }
    // detach_input() waits for reading to drop, so source is still alive here.
    if (n < 0) {
        self->failed = true;
        self->error = !exception.empty()        ? exception
                      : source->error().empty() ? std::string("reading the request body failed")
                                                : source->error();
        self->reading = false;
        PyErr_SetString(PyExc_OSError, self->error.c_str());
        return -1;
    }
    self->reading = false;
    if (n == 0)
        self->eof = true;
    return n;
}

// Appends up to one chunk to the read-ahead buffer; as source_read().
ssize_t fill(InputObject* self)
{
    ReadAhead& ahead = self->ahead;
    char* room = ahead.prepare(kChunk);
    ssize_t n = source_read(self, room, ahead.room());
    if (n > 0)
        ahead.commit(static_cast<size_t>(n));
    return n;
}

PyObject* take_buffered(InputObject* self, size_t n)
{
    PyObject* out = PyBytes_FromStringAndSize(self->ahead.data(), static_cast<Py_ssize_t>(n));
    if (out)
        self->ahead.consume(n);
    return out;
}

// A bytes object filled in place and shrunk to fit at the end, so a large
// read costs one copy, from the socket buffer into the result.
class BytesBuilder {
public:
    BytesBuilder() = default;
    BytesBuilder(const BytesBuilder&) = delete;
    BytesBuilder& operator=(const BytesBuilder&) = delete;
    ~BytesBuilder() { Py_XDECREF(bytes_); }

    bool reserve(size_t capacity)
    {
        if (capacity <= capacity_)
            return true;
        if (!bytes_)
            bytes_ = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(capacity));
        else if (_PyBytes_Resize(&bytes_, static_cast<Py_ssize_t>(capacity)) < 0)
            bytes_ = nullptr;  // _PyBytes_Resize has freed it
        if (!bytes_)
            return false;
        capacity_ = capacity;
        return true;
    }
    char* tail() { return PyBytes_AS_STRING(bytes_) + size_; }
    size_t size() const { return size_; }
    size_t room() const { return capacity_ - size_; }
    void commit(size_t n) { size_ += n; }

    PyObject* finish()
    {
        if (!bytes_)
            return PyBytes_FromStringAndSize(nullptr, 0);
        if (size_ != capacity_ && _PyBytes_Resize(&bytes_, static_cast<Py_ssize_t>(size_)) < 0) {
            bytes_ = nullptr;
            return nullptr;
        }
        return std::exchange(bytes_, nullptr);
    }

private:
    PyObject* bytes_ = nullptr;
    size_t size_ = 0;
    size_t capacity_ = 0;
};

// limit: SIZE_MAX reads to the end of the body.
PyObject* read_bytes(InputObject* self, size_t limit)
{
    size_t from_buffer = std::min(limit, buffered(self));
    if (from_buffer == limit || self->eof)
        return take_buffered(self, from_buffer);

    BytesBuilder out;
    if (!out.reserve(std::min(limit, from_buffer + kChunk)))
        return nullptr;
    if (from_buffer > 0) {
        std::memcpy(out.tail(), self->ahead.data(), from_buffer);
        out.commit(from_buffer);
        self->ahead.consume(from_buffer);
    }
    while (out.size() < limit) {
        if (out.room() == 0) {
            size_t grown = std::min(limit, std::max(out.size() * 2, out.size() + kChunk));
            if (!out.reserve(grown))
                return nullptr;
        }
        ssize_t n = source_read(self, out.tail(), std::min(out.room(), limit - out.size()));
        if (n < 0)
            return nullptr;
        if (n == 0)
            break;
        out.commit(static_cast<size_t>(n));
    }
    return out.finish();
}

// limit: SIZE_MAX for no limit. Returns b"" only at the end of the body.
PyObject* read_line(InputObject* self, size_t limit)
{
    size_t scanned = 0;  // unread bytes known to hold no '\n'
    for (;;) {
        size_t available = buffered(self);
        size_t window = std::min(available, limit);
        const char* start = self->ahead.data();
        const void* nl = window > scanned ? std::memchr(start + scanned, '\n', window - scanned) : nullptr;
        if (nl)
            return take_buffered(self, static_cast<size_t>(static_cast<const char*>(nl) - start) + 1);
        if (window == limit || self->eof)
            return take_buffered(self, window);
        scanned = window;
        if (fill(self) < 0)
            return nullptr;
    }
}

// read()/readline() take None or a negative size as "no limit", like io.
bool parse_size(PyObject* arg, size_t& out)
{
    out = SIZE_MAX;
    if (!arg || arg == Py_None)
        return true;
    Py_ssize_t size = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
    if (size == -1 && PyErr_Occurred())
        return false;
    if (size >= 0)
        out = static_cast<size_t>(size);
    return true;
}

PyObject* input_read(PyObject* self, PyObject* args, PyObject* kwargs)
{
    static const char* keywords[] = {"size", nullptr};
    PyObject* arg = nullptr;
    size_t limit;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:read", const_cast<char**>(keywords), &arg) ||
        !parse_size(arg, limit) || !usable(as_input(self)))
        return nullptr;
    return read_bytes(as_input(self), limit);
}

PyObject* input_readline(PyObject* self, PyObject* args, PyObject* kwargs)
{
    static const char* keywords[] = {"size", nullptr};
    PyObject* arg = nullptr;
    size_t limit;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:readline", const_cast<char**>(keywords), &arg) ||
        !parse_size(arg, limit) || !usable(as_input(self)))
        return nullptr;
    return read_line(as_input(self), limit);
}

PyObject* input_readlines(PyObject* self, PyObject* args, PyObject* kwargs)
{
    static const char* keywords[] = {"hint", nullptr};
    PyObject* arg = nullptr;
    size_t hint;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:readlines", const_cast<char**>(keywords), &arg) ||
        !parse_size(arg, hint) || !usable(as_input(self)))
        return nullptr;
    if (hint == 0)  // io: a hint of 0 means no hint
        hint = SIZE_MAX;
    PyRef lines = PyRef::steal(PyList_New(0));
    if (!lines)
        return nullptr;
    size_t total = 0;
    while (total < hint) {
        PyRef line = PyRef::steal(read_line(as_input(self), SIZE_MAX));
        if (!line)
            return nullptr;
        if (PyBytes_GET_SIZE(line.get()) == 0)
            break;
        total += static_cast<size_t>(PyBytes_GET_SIZE(line.get()));
        if (PyList_Append(lines.get(), line.get()) < 0)
            return nullptr;
    }
    return lines.release();
}

PyObject* input_iternext(PyObject* self)
{
    if (!usable(as_input(self)))
        return nullptr;
    PyObject* line = read_line(as_input(self), SIZE_MAX);
    if (line && PyBytes_GET_SIZE(line) == 0) {
        Py_DECREF(line);
        return nullptr;  // NULL without an exception set: StopIteration
    }
    return line;
}

PyObject* input_readable(PyObject*, PyObject*) { Py_RETURN_TRUE; }

void input_dealloc(PyObject* self)
{
    PyTypeObject* type = Py_TYPE(self);
    InputObject* input = as_input(self);
    input->error.~basic_string();
    input->ahead.~ReadAhead();
    type->tp_free(self);
    Py_DECREF(type);
}

PyMethodDef input_methods[] = {
    {"read", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(input_read)),
     METH_VARARGS | METH_KEYWORDS, "read(size=-1) -> bytes"},
    {"readline", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(input_readline)),
     METH_VARARGS | METH_KEYWORDS, "readline(size=-1) -> bytes"},
    {"readlines", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(input_readlines)),
     METH_VARARGS | METH_KEYWORDS, "readlines(hint=-1) -> list of bytes"},
    {"readable", input_readable, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot input_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(input_dealloc)},
    {Py_tp_methods, input_methods},
    {Py_tp_iter, reinterpret_cast<void*>(PyObject_SelfIter)},
    {Py_tp_iternext, reinterpret_cast<void*>(input_iternext)},
    {Py_tp_doc, const_cast<char*>("wsgi.input: the request body")},
    {0, nullptr},
};

PyType_Spec input_spec = {
    "drover.Input",
    sizeof(InputObject),
    0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    input_slots,
};

PyTypeObject* input_type()
{
    static PyObject* type = PyType_FromSpec(&input_spec);  // lives as long as the interpreter
    return reinterpret_cast<PyTypeObject*>(type);
}

} // namespace

PyRef make_input(BodySource& body)
{
    PyTypeObject* type = input_type();
    if (!type)
        return {};
    PyRef self = PyRef::steal(type->tp_alloc(type, 0));
    if (!self)
        return {};
    InputObject* input = as_input(self.get());
    input->source = &body;
    input->eof = false;
    input->reading = false;
    input->failed = false;
    new (&input->error) std::string();
    new (&input->ahead) ReadAhead();
    return self;
}

bool input_too_large(PyObject* self)
{
    if (!self || Py_TYPE(self) != input_type())
        return false;
    InputObject* input = as_input(self);
    return input->failed && input->error == kBodyTooLarge;
}

void detach_input(PyObject* self)
{
    if (!self || Py_TYPE(self) != input_type())
        return;
    InputObject* input = as_input(self);
    // An application thread may sit in BodySource::read() without the GIL;
    // the source must outlive that call. Reads end on data, end of body or
    // the connection's io timeout, so this wait is bounded.
    while (input->reading) {
        GilRelease unlocked;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, nullptr);
    }
    input->source = nullptr;
    input->ahead.clear();
}

} // namespace drover

// The response side of PEP 3333. The head goes out (ResponseWriter::start)
// at the first non-empty body bytes or at the end, never earlier, so an
// exception before that still becomes a clean 500 and start_response(...,
// exc_info) can still replace the status.
#include "worker/python/response.hpp"

#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <string_view>

#include "base/log.hpp"
#include "worker/python/file_wrapper.hpp"
#include "worker/python/gil.hpp"
#include "worker/python/input.hpp"
#include "worker/python/python_error.hpp"

namespace drover {

struct WsgiResponse::State {
    State(ResponseWriter& w, bool head, std::string ctx) : writer(w), head_request(head), context(std::move(ctx)) {}

    ResponseWriter& writer;
    const bool head_request;
    const std::string context;

    // What start_response() accepted last.
    bool started = false;
    int status = 0;
    std::string status_line;
    HeaderList headers;
    int64_t declared_length = -1;  // the application's Content-Length

    int64_t known_length = -1;     // what the bridge knows itself: list of bytes, file size
    bool head_out = false;         // start() has been called
    int64_t content_length = -1;   // what start() was told
    uint64_t body_bytes = 0;
    bool overflow = false;         // bytes past content_length were dropped
    bool file_response = false;    // the application returned a file_wrapper
    bool client_gone = false;
    bool close_connection = false;
    // A ResponseWriter call is in flight with the GIL released. Only GIL
    // holders change it, so checking it under the GIL is race-free.
    bool writer_busy = false;
    // The response has ended (its end went to the writer, or it is being torn
    // down): a write() from an application thread is refused from here on.
    bool ended = false;
    // Threads inside write() with this State in hand. The State outlives
    // them: teardown waits for this to drop to 0 (all under the GIL).
    int callers = 0;

    PyRef write;  // the write() callable, made by the first start_response()
    PyObject* input = nullptr;  // wsgi.input, borrowed
};

namespace {

using State = WsgiResponse::State;

// ---- the start_response and write callables -------------------------------

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

// ---- validation of what start_response() is given -------------------------

// Status and headers must be "bytes-as-str": a str whose characters all fit
// in latin-1, which CPython stores one byte per character.
bool latin1_text(PyObject* text, const char* what, std::string& out)
{
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "%s must be str, not %.100s", what, Py_TYPE(text)->tp_name);
        return false;
    }
    if (PyUnicode_READY(text) < 0)
        return false;
    if (PyUnicode_KIND(text) != PyUnicode_1BYTE_KIND) {
        PyErr_Format(PyExc_ValueError, "%s is not latin-1 encodable: %R", what, text);
        return false;
    }
    out.assign(reinterpret_cast<const char*>(PyUnicode_1BYTE_DATA(text)),
               static_cast<size_t>(PyUnicode_GET_LENGTH(text)));
    return true;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_control(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

bool parse_status(PyObject* status, int& code, std::string& line)
{
    if (!latin1_text(status, "status", line))
        return false;
    if (line.size() < 4 || !is_digit(line[0]) || line[0] == '0' || !is_digit(line[1]) || !is_digit(line[2]) ||
        line[3] != ' ') {
        PyErr_Format(PyExc_ValueError, "status must be '<3-digit code> <reason>', got %R", status);
        return false;
    }
    if (std::any_of(line.begin(), line.end(), [](char c) { return is_control(static_cast<unsigned char>(c)); })) {
        PyErr_Format(PyExc_ValueError, "status contains control characters: %R", status);
        return false;
    }
    code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    return true;
}

// RFC 9110 tchar.
bool is_token_char(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b)
{
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

// The connection owns framing and persistence; an application that sets
// these would contradict it (PEP 3333 forbids them; gunicorn refuses too).
bool is_hop_by_hop(std::string_view name)
{
    static constexpr std::string_view hop[] = {"connection", "keep-alive", "proxy-authenticate",
                                               "proxy-authorization", "te", "trailers", "transfer-encoding",
                                               "upgrade"};
    return std::any_of(std::begin(hop), std::end(hop), [&](std::string_view h) { return iequals(name, h); });
}

bool parse_content_length(std::string_view value, int64_t& out)
{
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
    if (value.empty() || value.size() > 18 || !std::all_of(value.begin(), value.end(), is_digit))
        return false;
    out = 0;
    for (char c : value)
        out = out * 10 + (c - '0');
    return true;
}

bool parse_headers(PyObject* list, HeaderList& out, int64_t& declared_length)
{
    if (!PyList_Check(list)) {
        PyErr_Format(PyExc_TypeError, "response headers must be a list, not %.100s", Py_TYPE(list)->tp_name);
        return false;
    }
    Py_ssize_t count = PyList_GET_SIZE(list);
    out.reserve(static_cast<size_t>(count));
    // Nothing below runs Python code, so the list cannot change under us.
    for (Py_ssize_t i = 0; i < count; ++i) {
        PyObject* item = PyList_GET_ITEM(list, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
            PyErr_Format(PyExc_TypeError, "response headers must be (name, value) tuples, got %R", item);
            return false;
        }
        std::string name, value;
        if (!latin1_text(PyTuple_GET_ITEM(item, 0), "header name", name) ||
            !latin1_text(PyTuple_GET_ITEM(item, 1), "header value", value))
            return false;
        if (name.empty() || !std::all_of(name.begin(), name.end(),
                                         [](char c) { return is_token_char(static_cast<unsigned char>(c)); })) {
            PyErr_Format(PyExc_ValueError, "invalid header name %R", PyTuple_GET_ITEM(item, 0));
            return false;
        }
        if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
            PyErr_Format(PyExc_ValueError, "header %R has CR, LF or NUL in its value", PyTuple_GET_ITEM(item, 0));
            return false;
        }
        if (is_hop_by_hop(name)) {
            PyErr_Format(PyExc_AssertionError, "hop-by-hop header %R is not allowed in a WSGI response",
                         PyTuple_GET_ITEM(item, 0));
            return false;
        }
        if (iequals(name, "content-length")) {
            int64_t length;
            if (!parse_content_length(value, length) || (declared_length >= 0 && declared_length != length)) {
                PyErr_Format(PyExc_ValueError, "invalid Content-Length header: %R", PyTuple_GET_ITEM(item, 1));
                return false;
            }
            declared_length = length;
        }
        out.emplace_back(std::move(name), std::move(value));
    }
    return true;
}

// ---- sending --------------------------------------------------------------

// RFC 9110 6.4.1: no body, whatever the headers say. A 304 keeps its
// Content-Length (the length the 200 would have, 8.6); a 204 must not send one.
bool bodyless_status(int status) { return status < 200 || status == 204 || status == 304; }

// What start() is told. body_complete: the body is over and nothing was
// sent, so its length is known to be 0 and no chunked framing is needed.
int64_t head_length(const State& s, bool body_complete)
{
    if (bodyless_status(s.status))
        return -1;
    if (s.declared_length >= 0)
        return s.declared_length;
    if (s.known_length >= 0)
        return s.known_length;
    return body_complete ? 0 : -1;
}

// The connection is not thread-safe, and while one ResponseWriter call runs
// without the GIL an application thread holding write() could start another.
// Waits (GIL released) until no call is in flight; returns with the GIL held.
void wait_for_writer(State& s)
{
    while (s.writer_busy) {
        GilRelease unlocked;
        struct timespec pause = {0, 100000};
        nanosleep(&pause, nullptr);
    }
}

void mark_gone(State& s)
{
    s.client_gone = true;
    s.close_connection = true;
}

enum class Writer { call, end };

struct WriterResult {
    enum Value { ok, failed, refused } value;
    operator bool() const { return value == ok; }  // NOLINT: used as a success flag
};

// Runs one ResponseWriter call, without the GIL unless it only records. A
// C++ exception from the connection must not unwind through the
// interpreter's C frames (this may run under the app's call to write()), so
// it ends the response as a gone client would. Once the response has ended
// only the call that ends it (Writer::end) reaches the writer: a thread that
// waited here while it ended must not add bytes after the end.
template <typename Call>
WriterResult writer_call(State& s, bool release_gil, Call call, Writer kind = Writer::call)
{
    wait_for_writer(s);
    if (s.ended && kind != Writer::end)
        return {WriterResult::refused};
    struct Busy {
        explicit Busy(bool& f) : flag(f) { flag = true; }
        ~Busy() { flag = false; }  // runs after GilRelease: with the GIL
        bool& flag;
    } busy(s.writer_busy);
    try {
        bool ok;
        if (!release_gil) {
            ok = call(s.writer);
        } else {
            GilRelease unlocked;
            ok = call(s.writer);
        }
        return {ok ? WriterResult::ok : WriterResult::failed};
    } catch (const std::exception& e) {
        log_error("app: ", s.context, ": the response writer failed: ", e.what());
        return {WriterResult::failed};
    }
}

// false: the client has gone away.
bool send_head(State& s, int64_t content_length)
{
    s.head_out = true;
    s.content_length = content_length;
    bool ok = writer_call(s, false, [&s, content_length](ResponseWriter& w) {
        w.start(s.status, s.status_line, s.headers, content_length);
        return true;
    });
    if (!ok)
        mark_gone(s);
    return ok;
}

// false: the client has gone away.
bool send_body(State& s, std::string_view data)
{
    if (data.empty())
        return true;
    if (!s.head_out && !send_head(s, head_length(s, false)))
        return false;
    if (s.head_request || bodyless_status(s.status))
        return true;
    if (s.content_length >= 0) {
        uint64_t room = static_cast<uint64_t>(s.content_length) - std::min<uint64_t>(s.body_bytes, s.content_length);
        if (data.size() > room) {
            // A file_wrapper with a Content-Length is how an application
            // sends part of a file (a range); only other bodies are wrong.
            if (!s.overflow && !s.file_response)
                log_error("app: ", s.context, ": response body is longer than its Content-Length (",
                          s.content_length, "); the rest is dropped and the connection closed");
            s.overflow = true;
            s.close_connection = s.close_connection || !s.file_response;
            data = data.substr(0, room);
            if (data.empty())
                return true;
        }
    }
    if (WriterResult r = writer_call(s, true, [data](ResponseWriter& w) { return w.write(data); }); !r) {
        if (r.value == WriterResult::failed)
            mark_gone(s);
        return false;  // refused: the response ended while this write waited
    }
    s.body_bytes += data.size();
    return true;
}

// Ends a response whose head is out. A body shorter than its Content-Length
// leaves the framing unfinished: finishing would pass it off as complete.
void end_body(State& s)
{
    if (s.client_gone)
        return;
    if (!s.head_request && !bodyless_status(s.status) && s.content_length >= 0 &&
        s.body_bytes < static_cast<uint64_t>(s.content_length)) {
        log_error("app: ", s.context, ": response body is shorter than its Content-Length (", s.body_bytes, " < ",
                  s.content_length, "); closing the connection");
        s.close_connection = true;
        return;
    }
    s.ended = true;
    if (!writer_call(s, true, [](ResponseWriter& w) { return w.finish(); }, Writer::end))
        mark_gone(s);
}

// The answer when the application failed before its head went out.
void send_error(State& s, int status, std::string_view reason)
{
    static const HeaderList headers = {{"Content-Type", "text/plain; charset=utf-8"}};
    const std::string body = cat(reason, "\n");
    s.status = status;
    s.status_line = cat(status, " ", reason);
    s.head_out = true;
    s.content_length = static_cast<int64_t>(body.size());
    bool head_request = s.head_request;
    bool ok = writer_call(s, false, [&s](ResponseWriter& w) {
        w.start(s.status, s.status_line, headers, s.content_length);
        return true;
    });
    s.ended = true;
    ok = ok && writer_call(
                   s, true, [head_request, &body](ResponseWriter& w) { return (head_request || w.write(body)) && w.finish(); },
                   Writer::end);
    if (!ok)
        mark_gone(s);
    else if (!s.head_request)
        s.body_bytes = body.size();
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
                                  [](const auto& h) { return iequals(h.first, "content-length"); }),
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

// ---- consuming the iterable -----------------------------------------------

// A list or tuple of bytes has a known total: the head can carry
// Content-Length instead of chunked framing (the common `return [body]`).
int64_t sequence_length(PyObject* result)
{
    if (!PyList_CheckExact(result) && !PyTuple_CheckExact(result))
        return -1;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(result);
    PyObject** items = PySequence_Fast_ITEMS(result);
    int64_t total = 0;
    for (Py_ssize_t i = 0; i < count; ++i) {
        if (!PyBytes_Check(items[i]))
            return -1;
        total += PyBytes_GET_SIZE(items[i]);
    }
    return total;
}

// true: the response was sent from the file (or the client went away);
// false: iterate the wrapper instead (the file length may now be known).
bool send_file(State& s, PyObject* filelike)
{
    if (!s.started)
        return false;
    PyRef fileno = PyRef::steal(PyObject_CallMethod(filelike, "fileno", nullptr));
    long fd = fileno ? PyLong_AsLong(fileno.get()) : -1;
    if (fd < 0) {
        PyErr_Clear();  // BytesIO and friends: io.UnsupportedOperation
        return false;
    }
    struct stat st;
    if (::fstat(static_cast<int>(fd), &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    // tell(), not lseek(): a buffered file object may have read ahead of the
    // position the application sees.
    int64_t offset = 0;
    PyRef position = PyRef::steal(PyObject_CallMethod(filelike, "tell", nullptr));
    if (position) {
        long long value = PyLong_AsLongLong(position.get());
        if (value > 0)
            offset = value;
    }
    PyErr_Clear();
    int64_t available = std::max<int64_t>(0, static_cast<int64_t>(st.st_size) - offset);
    if (s.declared_length < 0)
        s.known_length = available;
    if (s.head_request) {
        if (send_head(s, head_length(s, false)))
            end_body(s);
        return true;
    }
    if (!s.writer.can_sendfile())
        return false;
    if (!send_head(s, head_length(s, false)))
        return true;
    int64_t count = s.content_length >= 0 ? std::min(s.content_length, available) : available;
    if (count > 0) {
        bool ok = writer_call(s, true, [fd, offset, count](ResponseWriter& w) {
            return w.sendfile(static_cast<int>(fd), static_cast<off_t>(offset), count);
        });
        if (!ok) {
            mark_gone(s);
            return true;
        }
        s.body_bytes += static_cast<uint64_t>(count);
    }
    end_body(s);
    return true;
}

// Iterates until the end, an error, a gone client, or (HEAD) the head.
PythonError iterate(State& s, PyObject* result)
{
    PyRef it = PyRef::steal(PyObject_GetIter(result));
    if (!it)
        return PythonError::fetch();
    while (PyRef item = PyRef::steal(PyIter_Next(it.get()))) {
        if (!PyBytes_Check(item.get())) {
            PyErr_Format(PyExc_TypeError, "response body items must be bytes, not %.100s",
                         Py_TYPE(item.get())->tp_name);
            break;
        }
        if (PyBytes_GET_SIZE(item.get()) == 0)
            continue;
        if (!s.started) {
            PyErr_SetString(PyExc_AssertionError, "the application produced body bytes before start_response()");
            break;
        }
        if (!send_body(s, std::string_view(PyBytes_AS_STRING(item.get()),
                                           static_cast<size_t>(PyBytes_GET_SIZE(item.get())))))
            break;
        if (s.overflow || (s.head_request && s.head_out))
            break;  // nothing more can be sent
    }
    return PythonError::fetch();
}

// PEP 3333: close() is called however the iteration ended.
PythonError call_close(PyObject* result)
{
    PyRef close = PyRef::steal(PyObject_GetAttrString(result, "close"));
    if (!close) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError))
            PyErr_Clear();
        return PythonError::fetch();
    }
    PyRef returned = PyRef::steal(PyObject_CallNoArgs(close.get()));
    return PythonError::fetch();
}

} // namespace

WsgiResponse::WsgiResponse(ResponseWriter& writer, bool head_request, std::string context)
    : state_(std::make_unique<State>(writer, head_request, std::move(context))),
      start_response_(make_callable(start_response_type(), state_.get()))
{
}

WsgiResponse::~WsgiResponse()
{
    // Application threads may still be inside write(), or waiting for the
    // writer there: from now on they are refused, and State outlives them.
    // New calls find no state at all.
    State& s = *state_;
    s.ended = true;
    if (start_response_)
        reinterpret_cast<CallableObject*>(start_response_.get())->state = nullptr;
    if (s.write)
        reinterpret_cast<CallableObject*>(s.write.get())->state = nullptr;
    while (s.callers > 0 || s.writer_busy) {
        GilRelease unlocked;
        struct timespec pause = {0, 100000};
        nanosleep(&pause, nullptr);
    }
}

RequestOutcome WsgiResponse::outcome()
{
    state_->ended = true;
    RequestOutcome out;
    out.status = state_->head_out ? state_->status : 0;
    out.response_bytes = state_->body_bytes;
    out.client_gone = state_->client_gone;
    out.close_connection = state_->close_connection;
    return out;
}

void WsgiResponse::set_input(PyObject* input) { state_->input = input; }

RequestOutcome WsgiResponse::fail()
{
    State& s = *state_;
    PythonError error = PythonError::fetch();
    // The client's fault, not the application's: no traceback at error level.
    bool too_large = input_too_large(s.input);
    if (s.client_gone)
        log_info("app: ", s.context, ": client went away (", error.summary(), ")");
    else if (too_large)
        log_info("app: ", s.context, ": ", kBodyTooLarge, " (", error.summary(), ")");
    else
        log_python_error(error, cat(s.context, ": request failed"));
    if (s.head_out)
        s.close_connection = true;  // the framing is left unfinished
    else if (too_large)
        send_error(s, 413, "Content Too Large");
    else
        send_error(s, 500, "Internal Server Error");
    if (too_large)
        s.close_connection = true;  // the rest of the body is left unread
    return outcome();
}

RequestOutcome WsgiResponse::run(PyRef result)
{
    State& s = *state_;
    if (!result)
        return fail();

    if (s.started && s.declared_length < 0)
        s.known_length = sequence_length(result.get());
    bool sent = false;
    PythonError error;
    if (PyObject* filelike = file_wrapper_filelike(result.get())) {
        s.file_response = true;
        sent = send_file(s, filelike);
    }
    if (!sent)
        error = iterate(s, result.get());

    PythonError close_error = call_close(result.get());
    if (!close_error.empty()) {
        if (error.empty())
            error = std::move(close_error);
        else
            log_python_error(close_error, cat(s.context, ": close() of the response failed too"));
    }
    if (!error.empty()) {
        error.restore();
        return fail();
    }
    if (sent || s.client_gone)
        return outcome();
    if (!s.started) {
        PyErr_SetString(PyExc_AssertionError, "the application returned without calling start_response()");
        return fail();
    }
    if (!s.head_out)
        send_head(s, head_length(s, true));
    end_body(s);  // nothing when send_head() found the client gone
    return outcome();
}

} // namespace drover

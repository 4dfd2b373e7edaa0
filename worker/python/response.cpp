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
#include "worker/python/response_state.hpp"

namespace drover {

using namespace response;

namespace {

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
    if (count > 0 && !send_file_range(s, static_cast<int>(fd), offset, count))
        return true;
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
    // The common `return [body]`: a list or tuple has no close(), and asking
    // would raise (and format) an AttributeError per request.
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result) || PyBytes_CheckExact(result))
        return {};
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
      start_response_(make_start_response(state_.get()))
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
        detach_callable(start_response_.get());
    if (s.write)
        detach_callable(s.write.get());
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

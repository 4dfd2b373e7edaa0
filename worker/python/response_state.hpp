// Inside the WSGI bridge: the state of one response, shared by the
// start_response and write() callables (response_callables.cpp), the sending
// of its head and body (response_send.cpp) and the consumption of the
// iterable (response.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "worker/python/bridge.hpp"
#include "worker/python/pyref.hpp"
#include "worker/python/response.hpp"

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

namespace response {

using State = WsgiResponse::State;

// ---- sending (response_send.cpp)

/// RFC 9110 6.4.1: no body, whatever the headers say.
bool bodyless_status(int status);
/// What start() is told. body_complete: the body is over and nothing was
/// sent, so its length is known to be 0 and no chunked framing is needed.
int64_t head_length(const State& s, bool body_complete);
/// Waits (GIL released) until no ResponseWriter call is in flight; returns
/// with the GIL held.
void wait_for_writer(State& s);
void mark_gone(State& s);
/// false: the client has gone away.
bool send_head(State& s, int64_t content_length);
/// false: the client has gone away, or (s.ended) the response ended while
/// this call waited for the writer.
bool send_body(State& s, std::string_view data);
/// sendfile() of count bytes of fd from offset; false: the client is gone.
bool send_file_range(State& s, int fd, int64_t offset, int64_t count);
/// Ends a response whose head is out.
void end_body(State& s);
/// The answer when the application failed before its head went out.
void send_error(State& s, int status, std::string_view reason);

// ---- the callables (response_callables.cpp)

/// A new start_response callable bound to state.
PyRef make_start_response(State* state);
/// Cuts a start_response or write() callable off from its state: a
/// reference the application kept raises ValueError from then on.
void detach_callable(PyObject* callable);

} // namespace response
} // namespace drover

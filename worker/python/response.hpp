// One request's response: the start_response and write() callables the
// application gets, and the consumption of the iterable it returns, turned
// into ResponseWriter calls.
#pragma once

#include <memory>
#include <string>

#include "worker/python/bridge.hpp"
#include "worker/python/pyref.hpp"

namespace drover {

class WsgiResponse {
public:
    /// context names the request in log lines ("GET /path"). GIL held.
    WsgiResponse(ResponseWriter& writer, bool head_request, std::string context);
    /// Cuts start_response and write() off from this object: a reference the
    /// application kept raises ValueError instead of reaching freed memory.
    ~WsgiResponse();
    WsgiResponse(const WsgiResponse&) = delete;
    WsgiResponse& operator=(const WsgiResponse&) = delete;

    /// The start_response callable (borrowed); nullptr with an exception set
    /// when it could not be created.
    PyObject* start_response() const { return start_response_.get(); }

    /// Sends what the application returned (nullptr: the call raised, and the
    /// exception is pending). Always calls the iterable's close(); answers 500
    /// (413 for a body over max_body_size, see set_input()) when the
    /// application failed before the head went out; returns with no Python
    /// exception set.
    RequestOutcome run(PyRef result);

    /// Answers 500 for a failure outside the application (environ could not
    /// be built). The pending Python exception, if any, is logged.
    RequestOutcome fail();

    /// The request's wsgi.input (borrowed; it outlives this object): when a
    /// failure comes from a body over max_body_size, the answer is 413.
    void set_input(PyObject* input);

    struct State;

private:
    /// Ends the response for the application too, and reports it.
    RequestOutcome outcome();

    std::unique_ptr<State> state_;
    PyRef start_response_;
};

} // namespace drover

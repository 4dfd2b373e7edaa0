// wsgi.input: the request body as a binary file object, streamed from the
// connection's BodySource (never gathered into one buffer up front).
#pragma once

#include "worker/python/bridge.hpp"
#include "worker/python/pyref.hpp"

namespace drover {

/// A stream over body for one request (GIL held).
PyRef make_input(BodySource& body);

/// Cuts the stream off from its BodySource when the request ends: a
/// reference the application kept then raises ValueError instead of reaching
/// a freed connection. Waits (GIL released) for a read another thread has in
/// flight. GIL held.
void detach_input(PyObject* input);

/// True when a read of this stream failed because the body went over
/// max_body_size (kBodyTooLarge). GIL held.
bool input_too_large(PyObject* input);

} // namespace drover

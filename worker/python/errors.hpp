// wsgi.errors: a text stream whose lines go to drover's error log.
#pragma once

#include "worker/python/pyref.hpp"

namespace drover {

/// A new stream (GIL held). Writes are line-buffered: every complete line
/// becomes one log_error("app: ", line).
PyRef make_error_stream();

/// Logs a pending partial line, as flush() does from Python (GIL held).
void flush_error_stream(PyObject* stream);

} // namespace drover

// wsgi.file_wrapper (PEP 3333 "Optional Platform-Specific File Handling"):
// the application wraps a file in it so the bridge can send the file with
// sendfile(2) instead of copying it through Python.
#pragma once

#include <Python.h>

namespace drover {

/// The wsgi.file_wrapper type, callable as file_wrapper(filelike, blksize=8192).
/// Borrowed; created on first use (GIL held). nullptr with an exception set
/// when the type cannot be created.
PyObject* file_wrapper_type();

/// The wrapped file object (borrowed) when result is a file_wrapper, else nullptr.
PyObject* file_wrapper_filelike(PyObject* result);

} // namespace drover

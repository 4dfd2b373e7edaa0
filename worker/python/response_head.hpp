// What start_response() is given, checked as PEP 3333 and RFC 9110 want
// it: a "NNN reason" status and (name, value) headers that are latin-1 text,
// tokens and no CR/LF/NUL, no hop-by-hop header, one Content-Length.
#pragma once

#include <Python.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "worker/request.hpp"

namespace drover {

/// The status code and the whole line; false with a Python exception set.
bool parse_status(PyObject* status, int& code, std::string& line);
/// The headers, and the application's Content-Length into declared_length
/// (left as it is when there is none); false with a Python exception set.
bool parse_headers(PyObject* list, HeaderList& out, int64_t& declared_length);

} // namespace drover

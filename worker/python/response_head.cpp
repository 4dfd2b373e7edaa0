#include "worker/python/response_head.hpp"

#include <algorithm>

#include "worker/ascii.hpp"

namespace drover {

namespace {

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




// The connection owns framing and persistence; an application that sets
// these would contradict it (PEP 3333 forbids them; gunicorn refuses too).
bool is_hop_by_hop(std::string_view name)
{
    static constexpr std::string_view hop[] = {"connection", "keep-alive", "proxy-authenticate",
                                               "proxy-authorization", "te", "trailers", "transfer-encoding",
                                               "upgrade"};
    return std::any_of(std::begin(hop), std::end(hop), [&](std::string_view h) { return ascii_iequals(name, h); });
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

} // namespace

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
                                         [](char c) { return is_tchar(c); })) {
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
        if (ascii_iequals(name, "content-length")) {
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

} // namespace drover

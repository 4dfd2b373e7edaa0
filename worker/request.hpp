// The request object every codec produces and the WSGI bridge consumes.
//
// Codecs speak in CGI terms (RFC 3875): the HTTP codec turns the request line
// and headers into REQUEST_METHOD, PATH_INFO, QUERY_STRING, HTTP_* ...; the
// FastCGI and SCGI codecs pass on the frontend's params as they came. The
// bridge adds what the transport knows (peer and local address) and the
// wsgi.* keys, and never learns which codec fed it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ipc/slot.hpp"

namespace drover {

using Param = std::pair<std::string, std::string>;
using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Request {
    Protocol protocol = Protocol::http;
    /// CGI variables, names as in the environ ("REQUEST_METHOD", "HTTP_HOST").
    std::vector<Param> params;
    /// The body length when the framing says it (Content-Length, CONTENT_LENGTH);
    /// -1 when the body ends with its framing (HTTP chunked, FastCGI empty STDIN).
    int64_t content_length = 0;
    /// HEAD: the response head is sent, its body is not.
    bool head = false;
    /// The HTTP version of the request line (HTTP codec); 1.1 elsewhere.
    int http_major = 1;
    int http_minor = 1;

    /// The value of a param, or empty; linear, the list is short.
    std::string_view param(std::string_view name) const
    {
        for (const auto& [k, v] : params)
            if (k == name)
                return v;
        return {};
    }
    bool has_param(std::string_view name) const
    {
        for (const auto& [k, v] : params)
            if (k == name)
                return true;
        return false;
    }
};

} // namespace drover

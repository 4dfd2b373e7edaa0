// What the two CGI-style codecs (FastCGI, SCGI) share: the response head in
// CGI form ("Status: 200 OK", headers, blank line), the small error answer,
// and CONTENT_LENGTH parsing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "worker/codec.hpp"

namespace drover {

/// "Status: LINE\r\n" + headers + "\r\n". Adds Content-Length when the length
/// is known and the application did not send the header.
std::string cgi_head(const ResponseHead& head);

/// A complete small text/plain answer for status (400, 413, 431, ...); the
/// body is left out for HEAD.
std::string cgi_error_response(int status, bool head_request);

/// A non-empty run of ASCII digits that fits int64_t, else nothing.
std::optional<int64_t> parse_cgi_length(std::string_view s);

} // namespace drover

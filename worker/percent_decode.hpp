// Percent-decoding of a request path into raw bytes (PEP 3333: PATH_INFO is
// "bytes as latin-1 str"). Shared by the HTTP codec and the environ builder,
// which derives PATH_INFO from REQUEST_URI when a frontend sent neither.
#pragma once

#include <string>
#include <string_view>

namespace drover {

/// "%41" -> "A". A malformed escape is kept as it is, as gunicorn and
/// wsgiref do.
std::string percent_decode(std::string_view in);

} // namespace drover

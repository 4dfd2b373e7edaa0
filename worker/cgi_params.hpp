// What the two CGI-style codecs (FastCGI, SCGI) do with the params a web
// server sends, so the application and the codec's framing always agree.
#pragma once

#include <string>
#include <vector>

#include "worker/request.hpp"

namespace drover {

/// Makes each name appear once, in linear time. A repeated name keeps its
/// last value, where it first appeared (nginx appends a `fastcgi_param`
/// written after `include fastcgi_params`: the later one is meant). A
/// repeated CONTENT_LENGTH must repeat its value: two different lengths are
/// two framings of one body (smuggling), refused; an empty one (nginx's
/// $content_length of a request without a body) adds nothing. Returns an error text, or
/// "" when the params are good.
std::string merge_repeated_params(std::vector<Param>& params);

} // namespace drover

// HTTP/1.1 response framing: the head drover writes for the app's status and
// headers, then Content-Length when the length is known, chunked for HTTP/1.1
// otherwise, close-delimited for HTTP/1.0; and the complete answers for
// requests refused before the app ran.
#pragma once

#include <string_view>

#include "worker/codec.hpp"
#include "worker/http_request_parser.hpp"

namespace drover {

class HttpResponseFramer {
public:
    /// May clear exchange.keep_alive (a close-delimited body).
    void write_head(const ResponseHead& head, HttpExchange& exchange, Output& out);
    void write_body(std::string_view data, Output& out);
    void write_end(Output& out);
    bool raw_body() const { return !chunked_ && !no_body_; }
    /// A complete answer that ends the connection; no content after a HEAD.
    void write_error(int status, HttpExchange& exchange, Output& out);

private:
    bool chunked_ = false;
    bool no_body_ = false;
};

} // namespace drover

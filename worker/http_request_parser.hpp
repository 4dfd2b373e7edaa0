// HTTP/1.1 requests off the wire (RFC 9112 §2-§7) into CGI-form Requests,
// on top of llhttp built in strict mode (see the root meson.build) with no
// lenient flag.
//
// llhttp frames the messages; this file adds what llhttp 8.1 lets through and
// owns the limits. Every rule a server must enforce, with its answer (tests in
// tests/unit/worker/http_{request_parser,fields,target}_test.cpp, each input
// fed whole and a byte at a time):
//
//   §2.2  CR and LF only as CRLF; no line starts with SP/HTAB (obs-fold,
//         whitespace before the first field line), head, chunk lines and
//         trailers alike: 400 (LineGuard). Empty lines before the request
//         line are skipped (llhttp).
//   §2.3  a well-formed version other than 1.0 and 1.1, the HTTP/2 preface:
//         505; a malformed one: 400.
//   §3    exactly one SP between method, target and version (LineGuard): 400. Method:
//         a token llhttp does not know 501, not a token 400, CONNECT (proxies
//         only) 501.
//   §3.2  target: origin-form; absolute-form with http/https, whose host
//         replaces Host; "*" only with OPTIONS; anything else, a fragment or
//         userinfo: 400. A target that takes the head past max_header_size: 414.
//   §3.2  Host: required in HTTP/1.1, at most one, valid uri-host[:port]: 400.
//   §5    field names are tokens with no whitespace before ':', values hold no
//         CTL (llhttp): 400; an empty name: 400; values lose leading and
//         trailing OWS; fields of one value repeated (http_fields.cpp): 400;
//         more than max_header_count fields: 431; a head (leading empty lines
//         included) over max_header_size: 431.
//   §6.1  Transfer-Encoding in HTTP/1.0: 400; final coding not chunked (or
//         chunked twice, or empty): 400; other codings before chunked: 501.
//   §6.3  Content-Length with Transfer-Encoding, an invalid Content-Length,
//         a repeated one even if equal (llhttp): 400; over max_body_size: 413.
//   §7.1  chunk-size lines, extensions and the CRLF after chunk data (llhttp
//         strict, LineGuard): 400; trailer fields are checked, capped (431)
//         and dropped.
//   §9.3  bytes after the last request of a connection (Connection: close,
//         HTTP/1.0 without keep-alive, an Upgrade request): closed unanswered.
#pragma once

#include <llhttp.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "worker/codec.hpp"
#include "worker/http_fields.hpp"
#include "worker/http_line_guard.hpp"
#include "worker/http_target.hpp"

namespace drover {

/// What the response to the current request needs to know of it.
struct HttpExchange {
    int http_major = 1;
    int http_minor = 1;
    bool head = false;        ///< a HEAD request, as soon as its method is read
    bool keep_alive = true;   ///< the client allows another request after this one
};

class HttpRequestParser {
public:
    explicit HttpRequestParser(const CodecLimits& limits);
    HttpRequestParser(const HttpRequestParser&) = delete;
    HttpRequestParser& operator=(const HttpRequestParser&) = delete;

    /// Codec::feed: parses until a request is complete (paused), an error,
    /// or the end of data (more).
    ParseResult feed(std::string_view data, RequestSink& sink);
    /// Codec::resume: the response has ended, go on with the next request.
    void resume();

    HttpExchange& exchange() { return exchange_; }
    const HttpExchange& exchange() const { return exchange_; }

private:
    static const llhttp_settings_t& settings();
    static HttpRequestParser& self(llhttp_t* p) { return *static_cast<HttpRequestParser*>(p->data); }

    int fail(int status, std::string text);
    /// Absolute offset in the connection's byte stream of a pointer into the
    /// data of the current feed().
    uint64_t offset_of(const char* p) const { return fed_before_ + static_cast<uint64_t>(p - data_); }
    /// Guards the non-content bytes up to end; false (with fail()) if bad.
    bool guard(const char* end);
    /// A head, or a trailer section, up to end within max_header_size? If
    /// not, fail() with 414 or 431.
    bool section_within_limit(const char* end);

    // llhttp callbacks: 0 to go on, -1 (after fail()) to stop.
    int on_message_begin();
    int on_method_complete();
    int on_url(const char* at, size_t n);
    int on_url_complete();
    int on_version(const char* at, size_t n);
    int on_version_complete();
    int on_header_field(const char* at, size_t n);
    int on_header_value(const char* at, size_t n);
    int on_header_value_complete();
    int on_headers_complete();
    int on_body(const char* at, size_t n);
    int on_chunk_header();
    int on_message_complete();

    /// After the head's last byte is guarded: the rules that need all of it,
    /// then on_request. 0 or, with fail(), -1.
    int finish_head();
    void build_params();
    ParseResult error_result(llhttp_errno_t err, const char* at);

    const CodecLimits limits_;
    llhttp_t parser_;
    LineGuard guard_;
    RequestSink* sink_ = nullptr;
    HttpExchange exchange_;

    // The current feed(): its data and where the guard has got to.
    const char* data_ = nullptr;
    const char* data_end_ = nullptr;
    const char* guarded_ = nullptr;
    uint64_t fed_before_ = 0;     // bytes consumed by earlier feed() calls
    uint64_t section_start_ = 0;  // offset where the current head (or trailer section) began

    // The request being read.
    Request request_;
    CgiFields fields_;
    std::string url_, field_, value_, version_;
    RequestTarget target_;  // views into url_
    bool in_url_ = false, url_done_ = false, version_done_ = false;
    bool in_head_ = true, head_pending_ = false, message_done_ = false;
    bool in_trailers_ = false, trailers_pending_ = false;
    uint32_t trailer_fields_ = 0;
    uint64_t body_bytes_ = 0;

    bool failed_ = false;
    bool guard_failed_ = false;
    int error_status_ = 0;
    std::string error_text_;
};

} // namespace drover

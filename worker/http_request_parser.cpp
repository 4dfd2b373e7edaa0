#include "worker/http_request_parser.hpp"

#include <algorithm>

#include "worker/ascii.hpp"
#include "worker/percent_decode.hpp"

namespace drover {

namespace {

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string* find_host(CgiFields& fields)
{
    static const uint32_t hash = HeaderIndex::hash("HTTP_HOST");
    return fields.find("HTTP_HOST", hash);
}

std::string* find_transfer_encoding(CgiFields& fields)
{
    static const uint32_t hash = HeaderIndex::hash("HTTP_TRANSFER_ENCODING");
    return fields.find("HTTP_TRANSFER_ENCODING", hash);
}

} // namespace

HttpRequestParser::HttpRequestParser(const CodecLimits& limits) : limits_(limits), fields_(limits.max_header_count)
{
    // Strict mode is compiled in (LLHTTP_STRICT_MODE=1) and no lenient flag
    // is ever set: each of them reopens a smuggling vector.
    llhttp_init(&parser_, HTTP_REQUEST, &settings());
    parser_.data = this;
    fields_.start(request_.params);
}

const llhttp_settings_t& HttpRequestParser::settings()
{
    static const llhttp_settings_t s = [] {
        llhttp_settings_t s;
        llhttp_settings_init(&s);
        s.on_message_begin = [](llhttp_t* p) { return self(p).on_message_begin(); };
        s.on_method_complete = [](llhttp_t* p) { return self(p).on_method_complete(); };
        s.on_url = [](llhttp_t* p, const char* at, size_t n) { return self(p).on_url(at, n); };
        s.on_url_complete = [](llhttp_t* p) { return self(p).on_url_complete(); };
        s.on_version = [](llhttp_t* p, const char* at, size_t n) { return self(p).on_version(at, n); };
        s.on_version_complete = [](llhttp_t* p) { return self(p).on_version_complete(); };
        s.on_header_field = [](llhttp_t* p, const char* at, size_t n) { return self(p).on_header_field(at, n); };
        s.on_header_value = [](llhttp_t* p, const char* at, size_t n) { return self(p).on_header_value(at, n); };
        s.on_header_value_complete = [](llhttp_t* p) { return self(p).on_header_value_complete(); };
        s.on_headers_complete = [](llhttp_t* p) { return self(p).on_headers_complete(); };
        s.on_body = [](llhttp_t* p, const char* at, size_t n) { return self(p).on_body(at, n); };
        s.on_chunk_header = [](llhttp_t* p) { return self(p).on_chunk_header(); };
        s.on_message_complete = [](llhttp_t* p) { return self(p).on_message_complete(); };
        return s;
    }();
    return s;
}

// ---------------------------------------------------------------- feeding

ParseResult HttpRequestParser::feed(std::string_view data, RequestSink& sink)
{
    ParseResult result;
    if (failed_) {
        result.status = ParseStatus::error;
        result.error = "input after a parse error";
        return result;
    }
    if (message_done_) {
        result.status = ParseStatus::paused;
        return result;
    }
    sink_ = &sink;
    data_ = data.data();
    guarded_ = data_;
    const char* const end = data_end_ = data_ + data.size();
    const char* at = data_;
    for (;;) {
        // A head (or trailer section) gets no byte past max_header_size + 1:
        // the limit is found at the same byte however the input was cut,
        // and llhttp never reads far past it.
        size_t length = static_cast<size_t>(end - at);
        if (in_head_ || in_trailers_) {
            const uint64_t used = offset_of(at) - section_start_;
            const uint64_t room = used < limits_.max_header_size ? limits_.max_header_size - used + 1 : 1;
            length = static_cast<size_t>(std::min<uint64_t>(length, room));
        }
        const llhttp_errno_t err = llhttp_execute(&parser_, at, length);
        if (err == HPE_OK) {
            // All taken; what llhttp read without a span callback is guarded
            // and counted now.
            const char* stop = at + length;
            if (!guard(stop) || !section_within_limit(stop)) {
                result = error_result(HPE_USER, stop);
                break;
            }
            result.status = ParseStatus::more;
            result.consumed = static_cast<size_t>(stop - data_);  // all of it: a cut short head failed above
            break;
        }
        const char* stop = llhttp_get_error_pos(&parser_);
        if (err == HPE_PAUSED && head_pending_) {
            // The head is complete: the request is only handed on once its
            // last byte has passed the guard and the rules that need all of it.
            head_pending_ = false;
            const bool ok = guard(stop) && section_within_limit(stop);
            in_head_ = false;
            if (!ok || finish_head() != 0) {
                result = error_result(HPE_USER, stop);
                break;
            }
            llhttp_resume(&parser_);
            at = stop;
            continue;
        }
        if (err == HPE_PAUSED && trailers_pending_) {
            // The last chunk's line is read: a trailer section may follow.
            trailers_pending_ = false;
            in_trailers_ = true;
            section_start_ = offset_of(stop);
            llhttp_resume(&parser_);
            at = stop;
            continue;
        }
        if (err == HPE_PAUSED && message_done_) {
            // The final CRLF (or trailer section) is guarded before the body ends.
            if (!guard(stop)) {
                result = error_result(HPE_USER, stop);
                break;
            }
            sink_->on_body_end();
            in_trailers_ = false;
            in_head_ = true;  // what follows is the next request's head
            guard_.start_head();
            section_start_ = offset_of(stop);
            result.status = ParseStatus::paused;
            result.consumed = static_cast<size_t>(stop - data_);
            break;
        }
        result = error_result(err, stop);
        break;
    }
    sink_ = nullptr;
    fed_before_ += result.consumed;
    return result;
}

void HttpRequestParser::resume()
{
    if (!message_done_)
        return;
    message_done_ = false;
    exchange_.head = false;  // an error before the next method is known is no HEAD's
    llhttp_resume(&parser_);
}

int HttpRequestParser::fail(int status, std::string text)
{
    if (error_status_ == 0) {
        error_status_ = status;
        error_text_ = std::move(text);
    }
    return -1;
}

bool HttpRequestParser::guard(const char* end)
{
    const char* bad = guard_.scan(guarded_, end);
    guarded_ = end;
    if (bad) {
        guard_failed_ = true;
        fail(400, bad);
    }
    return bad == nullptr;
}

bool HttpRequestParser::section_within_limit(const char* end)
{
    // Leading empty lines count: llhttp would skip any number of them.
    if ((!in_head_ && !in_trailers_) || offset_of(end) - section_start_ <= limits_.max_header_size)
        return true;
    if (in_trailers_)
        fail(431, "trailer section larger than max_header_size");
    else if ((in_url_ || url_done_) && !version_done_)
        fail(414, "request target longer than max_header_size");
    else
        fail(431, "request head larger than max_header_size");
    return false;
}

ParseResult HttpRequestParser::error_result(llhttp_errno_t err, const char* at)
{
    failed_ = true;
    // The bytes before the error that no callback has guarded yet: a bad
    // line ending there came first, and is what a byte-at-a-time feed (which
    // guards after every byte) reports too. Found by the differential fuzzer.
    if (!guard_failed_ && at != nullptr && at >= guarded_) {
        if (const char* bad = guard_.scan(guarded_, at)) {
            error_status_ = 400;
            error_text_ = bad;
        }
    }
    ParseResult r;
    r.status = ParseStatus::error;
    r.consumed = static_cast<size_t>(at - data_);
    if (error_status_ != 0) {
        r.error_status = error_status_;
        r.error = error_text_;
        return r;
    }
    r.error_status = 400;
    r.error = std::string("invalid request: ") + llhttp_get_error_reason(&parser_) + " (" + llhttp_errno_name(err) + ")";
    switch (err) {
    case HPE_INVALID_METHOD:
        // llhttp knows the registered methods only. A token it does not know
        // is a method drover does not implement (RFC 9110 §9.1: 501); any
        // other byte where a method should be is malformed.
        if (at != nullptr && at >= data_ && at < data_end_ && is_tchar(*at))
            r.error_status = 501;
        break;
    case HPE_INVALID_VERSION:
        // "HTTP/1.2", "HTTP/3.0": well-formed (RFC 9112 §2.3) and not ours;
        // after "1.0" or "1.1" the error is in what follows.
        if (version_.size() == 3 && is_digit(version_[0]) && version_[1] == '.' && is_digit(version_[2]) &&
            version_ != "1.0" && version_ != "1.1")
            r.error_status = 505;
        break;
    case HPE_PAUSED_H2_UPGRADE:
        r.error_status = 505;
        break;
    case HPE_CLOSED_CONNECTION:
    case HPE_PAUSED_UPGRADE:
        // Bytes after the last request of the connection (Connection: close,
        // HTTP/1.0, an Upgrade request): nothing to answer, close.
        r.error_status = 0;
        break;
    default:
        break;
    }
    return r;
}

// ---------------------------------------------------------------- the head

int HttpRequestParser::on_message_begin()
{
    request_ = Request{};
    // Room for a typical head and the params added after it, in one allocation.
    request_.params.reserve(32);
    fields_.start(request_.params);
    url_.clear();
    field_.clear();
    value_.clear();
    version_.clear();
    in_url_ = url_done_ = version_done_ = false;
    exchange_.head = false;
    trailer_fields_ = 0;
    body_bytes_ = 0;
    return 0;
}

int HttpRequestParser::on_method_complete()
{
    const auto method = static_cast<llhttp_method_t>(parser_.method);
    exchange_.head = method == HTTP_HEAD;  // an error answer to it has no content
    if (method == HTTP_PRI)
        return fail(505, "HTTP/2 connection preface on an HTTP/1.1 connection");
    if (method == HTTP_CONNECT)
        return fail(501, "CONNECT: drover is not a proxy");
    if (method > HTTP_PRI)
        return fail(501, "RTSP method in an HTTP request");
    return 0;
}

// Span callbacks only collect. The guard runs where the parser acts on
// what it has read (a request, body bytes, the end of a message, the end of
// a feed) and, in error_result(), before any error: so a bad line ending is
// reported first however the bytes were cut, and each byte is guarded once.
int HttpRequestParser::on_url(const char* at, size_t n)
{
    in_url_ = true;
    url_.append(at, n);
    return 0;
}

int HttpRequestParser::on_url_complete()
{
    in_url_ = false;
    url_done_ = true;
    if (const char* bad = parse_request_target(url_, parser_.method == HTTP_OPTIONS, target_))
        return fail(400, bad);
    return 0;
}

int HttpRequestParser::on_version(const char* at, size_t n)
{
    if (version_.size() < 8)  // enough to tell "1.2" from "1.x" in error_result()
        version_.append(at, std::min(n, 8 - version_.size()));
    return 0;
}

int HttpRequestParser::on_version_complete()
{
    version_done_ = true;
    // llhttp also takes 0.9 and 2.0. HTTP/2 never arrives as text on an
    // HTTP/1 connection, and 0.9 has no head to speak of: 505 for both.
    if (parser_.http_major != 1 || parser_.http_minor > 1)
        return fail(505, "HTTP/" + version_ + " is not supported");
    return 0;
}

int HttpRequestParser::on_header_field(const char* at, size_t n)
{
    field_.append(at, n);  // in trailers too: bounded like the head
    return 0;
}

int HttpRequestParser::on_header_value(const char* at, size_t n)
{
    if (in_head_)
        value_.append(at, n);
    return 0;
}

int HttpRequestParser::on_header_value_complete()
{
    if (!in_head_) {
        // Trailer fields are checked, counted and dropped: WSGI has no place
        // for them (RFC 9110 §6.5.1 lets a recipient discard them).
        if (field_.empty())
            return fail(400, "trailer field without a name");
        field_.clear();
        if (++trailer_fields_ > limits_.max_header_count)
            return fail(431, "more than " + std::to_string(limits_.max_header_count) + " trailer fields");
        return 0;
    }
    const FieldError error = fields_.add(field_, value_);
    field_.clear();
    value_.clear();
    switch (error) {
    case FieldError::none:
        return 0;
    case FieldError::too_many:
        return fail(431, "more than " + std::to_string(limits_.max_header_count) + " header fields");
    case FieldError::repeated:
        return fail(400, "more than one " + std::string(fields_.refused_name()) + " field");
    case FieldError::empty_name:
        return fail(400, "header field without a name");
    }
    return 0;
}

int HttpRequestParser::on_headers_complete()
{
    // Pause: feed() guards the head's last bytes, then calls finish_head().
    head_pending_ = true;
    return HPE_PAUSED;
}

int HttpRequestParser::finish_head()
{
    // llhttp takes "GET /" with no version as HTTP/0.9: a request line
    // without its version is malformed for RFC 9112 §3.
    if (!version_done_)
        return fail(400, "request line without an HTTP version");
    const int major = parser_.http_major, minor = parser_.http_minor;
    std::string* host = find_host(fields_);
    // RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host (a second one
    // was refused as it came), with a valid value.
    if (minor == 1 && host == nullptr)
        return fail(400, "HTTP/1.1 request without Host");
    if (host != nullptr && !valid_host(*host))
        return fail(400, "invalid Host");

    // llhttp sets no flag for an empty Transfer-Encoding: the field decides.
    const std::string* te = find_transfer_encoding(fields_);
    if (te != nullptr || (parser_.flags & F_TRANSFER_ENCODING)) {
        // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means the framing is
        // faulty (a hop in between did not understand it).
        if (minor == 0)
            return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
        switch (te ? classify_transfer_coding(*te) : TransferCoding::not_chunked) {
        case TransferCoding::chunked:
            // Both readings must agree before a body is framed by one of
            // them (llhttp takes no HTAB after "chunked").
            if (!(parser_.flags & F_CHUNKED))
                return fail(400, "Transfer-Encoding that llhttp does not read as chunked");
            break;
        case TransferCoding::not_chunked:
            // §6.3: the body length cannot be determined.
            return fail(400, "Transfer-Encoding whose final coding is not chunked");
        case TransferCoding::unimplemented:
            return fail(501, "Transfer-Encoding other than chunked");  // §6.1
        }
        request_.content_length = -1;
    } else if (parser_.flags & F_CONTENT_LENGTH) {
        // llhttp has refused a second Content-Length (even an equal one), a
        // list ("3, 3"), a sign, an overflow and Content-Length with
        // Transfer-Encoding (§6.3 items 3 and 5).
        if (parser_.content_length > limits_.max_body_size)
            return fail(413, "request body larger than max_body_size");
        request_.content_length = static_cast<int64_t>(parser_.content_length);
    } else {
        request_.content_length = 0;  // §6.3 item 7: no body
    }

    exchange_.http_major = major;
    exchange_.http_minor = minor;
    exchange_.keep_alive = llhttp_should_keep_alive(&parser_) != 0 && !parser_.upgrade;
    build_params();
    if (fields_.expect_continue() && request_.content_length != 0 && minor == 1)
        sink_->on_reply("HTTP/1.1 100 Continue\r\n\r\n");
    sink_->on_request(std::move(request_));
    return 0;
}

void HttpRequestParser::build_params()
{
    const RequestTarget& target = target_;  // views into url_, parsed in on_url_complete
    Request& r = request_;
    r.protocol = Protocol::http;
    r.http_major = exchange_.http_major;
    r.http_minor = exchange_.http_minor;
    r.head = exchange_.head;

    // A copy: the params it lives in grow below.
    std::string host;
    bool has_host = false;
    std::string request_uri = url_;
    if (target.absolute) {
        // absolute-form: the target names the host, and a received Host is
        // ignored (RFC 9112 §3.2.2). REQUEST_URI is the origin-form part, so
        // an app that glues HTTP_HOST and REQUEST_URI gets one URL, not two.
        host.assign(target.authority);
        has_host = true;
        if (std::string* field = find_host(fields_))
            field->assign(host);
        else
            r.params.emplace_back("HTTP_HOST", host);
        request_uri = target.path.empty() ? "/" + std::string(target.origin) : std::string(target.origin);
    } else if (const std::string* field = find_host(fields_)) {
        host = *field;
        has_host = true;
    }
    r.params.emplace_back("REQUEST_METHOD", llhttp_method_name(static_cast<llhttp_method_t>(parser_.method)));
    r.params.emplace_back("REQUEST_URI", std::move(request_uri));
    r.params.emplace_back("PATH_INFO", percent_decode(target.path.empty() ? std::string_view("/") : target.path));
    r.params.emplace_back("QUERY_STRING", std::string(target.query));
    r.params.emplace_back("SERVER_PROTOCOL", exchange_.http_minor == 0 ? "HTTP/1.0" : "HTTP/1.1");
    if (has_host && !host.empty()) {
        std::string_view name, port;
        if (!split_host(host, name, port))
            port = target.https ? "443" : "80";
        r.params.emplace_back("SERVER_NAME", std::string(name));
        r.params.emplace_back("SERVER_PORT", std::string(port));
    }
}

// ---------------------------------------------------------------- the body

int HttpRequestParser::on_body(const char* at, size_t n)
{
    // The bytes before the content (chunk-size line, CRLF) are guarded, the
    // content itself is anything.
    if (!guard(at))
        return -1;
    if (const char* bad = guard_.content())
        return fail(400, bad);
    guarded_ = at + n;
    // Up to the limit, then refused: the same bytes reach the app however
    // the input was cut.
    const uint64_t room = limits_.max_body_size - body_bytes_;
    const size_t take = n > room ? static_cast<size_t>(room) : n;
    body_bytes_ += take;
    if (take > 0)
        sink_->on_body(std::string_view(at, take));
    if (take < n)
        return fail(413, "request body larger than max_body_size");
    return 0;
}

int HttpRequestParser::on_chunk_header()
{
    // Pause at the last chunk, so the trailer section is bounded from its
    // first byte (feed()).
    if (parser_.content_length != 0)
        return 0;
    trailers_pending_ = true;
    return HPE_PAUSED;
}

int HttpRequestParser::on_message_complete()
{
    message_done_ = true;
    return HPE_PAUSED;
}

} // namespace drover

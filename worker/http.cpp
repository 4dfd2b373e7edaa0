// HTTP/1.1 codec on top of nodejs http-parser (Debian's libhttp-parser).
//
// http-parser does the request line, headers, chunked decoding and the
// smuggling checks (duplicate Content-Length, Transfer-Encoding with
// Content-Length); this file turns its callbacks into CGI params and frames
// responses: Content-Length when the length is known, chunked for HTTP/1.1
// otherwise, close-delimited for HTTP/1.0.
#include <http_parser.h>
#include <time.h>

#include <cstdio>
#include <cstring>

#include "worker/codec.hpp"
#include "worker/ascii.hpp"
#include "worker/http_fields.hpp"
#include "worker/percent_decode.hpp"

namespace drover {

namespace {

/// "Thu, 26 Nov 2026 10:02:22 GMT", recomputed at most once a second.
std::string_view http_date()
{
    static time_t cached_at = 0;
    static char buf[40];
    time_t now = ::time(nullptr);
    if (now != cached_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_at = now;
    }
    return buf;
}

class HttpCodec final : public Codec {
public:
    explicit HttpCodec(const CodecLimits& limits) : limits_(limits), fields_(limits.max_header_count) { reset_parser(); }

    Protocol protocol() const override { return Protocol::http; }

    ParseResult feed(std::string_view data, RequestSink& sink) override
    {
        ParseResult result;
        if (message_done_) {
            result.status = ParseStatus::paused;
            return result;
        }
        if (failed_) {
            result.status = ParseStatus::error;
            result.error = "input after a parse error";
            return result;
        }
        sink_ = &sink;
        size_t n = http_parser_execute(&parser_, &settings(), data.data(), data.size());
        sink_ = nullptr;
        result.consumed = n;
        http_errno err = HTTP_PARSER_ERRNO(&parser_);
        if (err == HPE_PAUSED) {
            result.status = ParseStatus::paused;
            return result;
        }
        if (err != HPE_OK) {
            failed_ = true;
            result.status = ParseStatus::error;
            if (error_status_ != 0) {
                result.error_status = error_status_;
                result.error = error_text_;
            } else {
                result.error_status = err == HPE_HEADER_OVERFLOW ? 431 : 400;
                result.error = http_errno_description(err);
            }
            return result;
        }
        if (parser_.upgrade && message_done_) {
            result.status = ParseStatus::paused;
            return result;
        }
        result.status = message_done_ ? ParseStatus::paused : ParseStatus::more;
        return result;
    }

    void resume() override
    {
        message_done_ = false;
        if (HTTP_PARSER_ERRNO(&parser_) == HPE_PAUSED)
            http_parser_pause(&parser_, 0);
    }

    void refuse_keep_alive() override { keep_alive_ = false; }

    void write_head(const ResponseHead& head, Output& out) override
    {
        no_body_ = head_request_ || head.status < 200 || head.status == 204 || head.status == 304;
        chunked_ = false;
        bool app_sent_length = false;
        std::string h;
        h.reserve(256);
        h.append("HTTP/1.1 ").append(head.status_line).append("\r\n");
        if (head.headers) {
            for (const auto& [name, value] : *head.headers) {
                if (ascii_iequals(name, "content-length"))
                    app_sent_length = true;
                h.append(name).append(": ").append(value).append("\r\n");
            }
        }
        if (!no_body_ || head_request_) {
            if (head.content_length >= 0) {
                if (!app_sent_length)
                    h.append("Content-Length: ").append(std::to_string(head.content_length)).append("\r\n");
            } else if (!no_body_ && http_minor_ >= 1 && http_major_ == 1) {
                h.append("Transfer-Encoding: chunked\r\n");
                chunked_ = true;
            } else if (!no_body_) {
                keep_alive_ = false;  // the body ends when the connection does
            }
        }
        if (!keep_alive_)
            h.append("Connection: close\r\n");
        else if (http_minor_ == 0)
            h.append("Connection: keep-alive\r\n");
        h.append("Date: ").append(http_date()).append("\r\n\r\n");
        out.copy(h);
    }

    void write_body(std::string_view data, Output& out) override
    {
        if (no_body_ || data.empty())
            return;
        if (chunked_) {
            char size[24];
            int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
            out.copy(std::string_view(size, static_cast<size_t>(n)));
            out.borrow(data);
            out.copy("\r\n");
        } else {
            out.borrow(data);
        }
    }

    void write_end(Output& out) override
    {
        if (chunked_ && !no_body_)
            out.copy("0\r\n\r\n");
        chunked_ = false;
    }

    bool keep_alive() const override { return keep_alive_; }
    bool raw_body() const override { return !chunked_ && !no_body_; }

    void write_error(int status, Output& out) override
    {
        keep_alive_ = false;
        std::string body = std::to_string(status) + " " + std::string(status_reason(status)) + "\n";
        std::string h = "HTTP/1.1 " + std::to_string(status) + " " + std::string(status_reason(status)) +
                        "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\nConnection: close\r\n\r\n";
        out.copy(h);
        if (!head_request_)
            out.copy(body);
    }

private:
    static const http_parser_settings& settings()
    {
        static const http_parser_settings s = [] {
            http_parser_settings s;
            http_parser_settings_init(&s);
            s.on_message_begin = [](http_parser* p) { return self(p).on_message_begin(); };
            s.on_url = [](http_parser* p, const char* at, size_t n) { return self(p).on_url(at, n); };
            s.on_header_field = [](http_parser* p, const char* at, size_t n) { return self(p).on_field(at, n); };
            s.on_header_value = [](http_parser* p, const char* at, size_t n) { return self(p).on_value(at, n); };
            s.on_headers_complete = [](http_parser* p) { return self(p).on_headers_complete(); };
            s.on_body = [](http_parser* p, const char* at, size_t n) { return self(p).on_body(at, n); };
            s.on_message_complete = [](http_parser* p) { return self(p).on_message_complete(); };
            return s;
        }();
        return s;
    }
    static HttpCodec& self(http_parser* p) { return *static_cast<HttpCodec*>(p->data); }

    void reset_parser()
    {
        http_parser_init(&parser_, HTTP_REQUEST);
        parser_.data = this;
    }

    int fail(int status, std::string text)
    {
        error_status_ = status;
        error_text_ = std::move(text);
        return -1;
    }

    bool count_header_bytes(size_t n)
    {
        header_bytes_ += n;
        return header_bytes_ <= limits_.max_header_size;
    }

    int on_message_begin()
    {
        request_ = Request{};
        url_.clear();
        field_.clear();
        value_.clear();
        in_value_ = false;
        header_bytes_ = 0;
        body_bytes_ = 0;
        // Until this request's method is known, an error answer has a body:
        // the previous request's HEAD does not carry over.
        head_request_ = false;
        fields_.start(request_.params);
        return 0;
    }

    int on_url(const char* at, size_t n)
    {
        // The method is parsed by now: a HEAD's error answer has no content.
        head_request_ = parser_.method == HTTP_HEAD;
        if (!count_header_bytes(n))
            return fail(414, "request target too long");
        url_.append(at, n);
        return 0;
    }

    int on_field(const char* at, size_t n)
    {
        if (!count_header_bytes(n))
            return fail(431, "request headers too large");
        if (in_value_) {
            if (int refused = add_header())
                return refused;
            field_.clear();
            value_.clear();
            in_value_ = false;
        }
        field_.append(at, n);
        return 0;
    }

    int on_value(const char* at, size_t n)
    {
        if (!count_header_bytes(n))
            return fail(431, "request headers too large");
        in_value_ = true;
        value_.append(at, n);
        return 0;
    }

    /// One header into CGI form; non-zero (from fail()) when it is refused.
    int add_header()
    {
        switch (fields_.add(field_, value_)) {
        case FieldError::none:
            return 0;
        case FieldError::too_many:
            return fail(431, "more than " + std::to_string(limits_.max_header_count) + " header fields");
        case FieldError::repeated_host:
            return fail(400, "more than one Host header");  // RFC 9112 3.2
        }
        return 0;
    }

    int on_headers_complete()
    {
        if (in_value_) {
            if (int refused = add_header())
                return refused;
        }
        http_major_ = parser_.http_major;
        http_minor_ = parser_.http_minor;
        head_request_ = parser_.method == HTTP_HEAD;
        keep_alive_ = http_should_keep_alive(&parser_) != 0 && !parser_.upgrade;

        struct http_parser_url u;
        http_parser_url_init(&u);
        if (parser_.method == HTTP_CONNECT || http_parser_parse_url(url_.data(), url_.size(), 0, &u) != 0) {
            if (!(url_ == "*" && parser_.method == HTTP_OPTIONS))
                return fail(400, "invalid request target");
        }
        auto field = [&](int f) -> std::string_view {
            if (!(u.field_set & (1 << f)))
                return {};
            return std::string_view(url_).substr(u.field_data[f].off, u.field_data[f].len);
        };
        std::string_view path = url_ == "*" ? std::string_view("*") : field(UF_PATH);
        Request& r = request_;
        r.protocol = Protocol::http;
        r.http_major = http_major_;
        r.http_minor = http_minor_;
        r.head = head_request_;
        r.params.emplace_back("REQUEST_METHOD", http_method_str(static_cast<http_method>(parser_.method)));
        r.params.emplace_back("REQUEST_URI", url_);
        r.params.emplace_back("PATH_INFO", percent_decode(path.empty() ? std::string_view("/") : path));
        r.params.emplace_back("QUERY_STRING", std::string(field(UF_QUERY)));
        r.params.emplace_back("SERVER_PROTOCOL",
                              "HTTP/" + std::to_string(http_major_) + "." + std::to_string(http_minor_));
        // A copy: emplace_back below may move the string the param lives in.
        std::string host(r.param("HTTP_HOST"));
        if (!host.empty()) {
            // "host", "host:port", "[v6]:port"
            size_t colon = host.rfind(':');
            size_t bracket = host.rfind(']');
            if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
                r.params.emplace_back("SERVER_NAME", host.substr(0, colon));
                r.params.emplace_back("SERVER_PORT", host.substr(colon + 1));
            } else {
                r.params.emplace_back("SERVER_NAME", host);
                r.params.emplace_back("SERVER_PORT", "80");
            }
        }

        if (parser_.flags & F_CHUNKED) {
            r.content_length = -1;
        } else if (parser_.flags & F_CONTENTLENGTH) {
            if (parser_.content_length > limits_.max_body_size)
                return fail(413, "request body larger than max_body_size");
            r.content_length = static_cast<int64_t>(parser_.content_length);
        } else {
            r.content_length = 0;
        }
        if (fields_.expect_continue() && r.content_length != 0 && http_minor_ >= 1)
            sink_->on_reply("HTTP/1.1 100 Continue\r\n\r\n");
        sink_->on_request(std::move(request_));
        return 0;
    }

    int on_body(const char* at, size_t n)
    {
        body_bytes_ += n;
        if (body_bytes_ > limits_.max_body_size)
            return fail(413, "request body larger than max_body_size");
        sink_->on_body(std::string_view(at, n));
        return 0;
    }

    int on_message_complete()
    {
        sink_->on_body_end();
        message_done_ = true;
        http_parser_pause(&parser_, 1);
        return 0;
    }

    CodecLimits limits_;
    http_parser parser_;
    RequestSink* sink_ = nullptr;
    Request request_;
    CgiFields fields_;
    std::string url_, field_, value_;
    bool in_value_ = false;
    size_t header_bytes_ = 0;
    uint64_t body_bytes_ = 0;
    bool message_done_ = false;
    bool failed_ = false;
    int error_status_ = 0;
    std::string error_text_;

    int http_major_ = 1, http_minor_ = 1;
    bool head_request_ = false;
    bool keep_alive_ = true;
    bool chunked_ = false;
    bool no_body_ = false;
};

} // namespace

std::unique_ptr<Codec> make_http_codec(const CodecLimits& limits) { return std::make_unique<HttpCodec>(limits); }

} // namespace drover

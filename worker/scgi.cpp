// SCGI codec (Neil Schemenauer, "SCGI: A Simple Common Gateway Interface
// alternative", 2008): a netstring of NUL-terminated header pairs, then
// CONTENT_LENGTH body bytes. One request per connection; the response is a
// CGI-style head and the raw body, ended by closing the connection.
//
// A netstring length above max_header_size is answered with 431, like an
// oversized HTTP head or FastCGI params stream: the frontend gets an answer
// instead of a reset, and the length is checked digit by digit so it can
// neither overflow nor make us buffer more than the limit.
#include <algorithm>
#include <limits>
#include <optional>

#include "worker/cgi_params.hpp"
#include "worker/cgi_response.hpp"
#include "worker/codec.hpp"

namespace drover {
namespace {

/// A header value or name for a log line: bounded, NULs and controls escaped.
std::string printable(std::string_view s)
{
    constexpr size_t kMax = 64;
    std::string out;
    for (char c : s.substr(0, kMax)) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f) {
            static constexpr char kHex[] = "0123456789abcdef";
            out += "\\x";
            out += kHex[u >> 4];
            out += kHex[u & 0xf];
        } else {
            out += c;
        }
    }
    if (s.size() > kMax)
        out += "...";
    return out;
}

class ScgiCodec final : public Codec {
public:
    explicit ScgiCodec(const CodecLimits& limits) : limits_(limits) {}

    Protocol protocol() const override { return Protocol::scgi; }
    ParseResult feed(std::string_view data, RequestSink& sink) override;
    void resume() override
    {
        if (stage_ == Stage::done)
            stage_ = Stage::closed;
    }

    void write_head(const ResponseHead& head, Output& out) override { out.copy(cgi_head(head)); }
    void write_body(std::string_view data, Output& out) override
    {
        if (!head_request_)
            out.borrow(data);
    }
    void write_end(Output&) override {}  // the response ends when the connection closes
    bool keep_alive() const override { return false; }
    void write_error(int status, Output& out) override;

private:
    enum class Stage {
        length,   ///< netstring length digits up to ':'
        headers,  ///< netstring content
        comma,    ///< the netstring's closing ','
        body,
        done,     ///< request complete, waiting for resume()
        closed,   ///< resumed: SCGI has no second request
    };

    bool on_headers(RequestSink& sink);
    bool fail(int status, std::string message);
    ParseResult failure(size_t consumed) const { return ParseResult{ParseStatus::error, consumed, error_status_, error_}; }

    const CodecLimits limits_;
    Stage stage_ = Stage::length;
    size_t netstring_length_ = 0;
    size_t length_digits_ = 0;
    std::string headers_;
    uint64_t body_left_ = 0;
    bool head_request_ = false;

    bool failed_ = false;
    int error_status_ = 0;
    std::string error_;
};

ParseResult ScgiCodec::feed(std::string_view data, RequestSink& sink)
{
    if (failed_)
        return failure(0);
    size_t pos = 0;
    while (pos < data.size()) {
        switch (stage_) {
        case Stage::length: {
            const char c = data[pos++];
            if (c == ':') {
                if (length_digits_ == 0) {
                    fail(0, "SCGI netstring has no length before ':'");
                    return failure(pos);
                }
                stage_ = Stage::headers;
                headers_.reserve(netstring_length_);
                if (netstring_length_ == 0)
                    stage_ = Stage::comma;
                break;
            }
            if (c < '0' || c > '9') {
                fail(0, "SCGI netstring length has a non-digit byte '" + printable(std::string_view(&c, 1)) + "'");
                return failure(pos);
            }
            if (length_digits_ > 0 && netstring_length_ == 0) {
                fail(0, "SCGI netstring length starts with 0");
                return failure(pos);
            }
            const auto digit = static_cast<size_t>(c - '0');
            if (netstring_length_ > limits_.max_header_size / 10 ||
                netstring_length_ * 10 + digit > limits_.max_header_size) {
                fail(431, "SCGI headers longer than " + std::to_string(limits_.max_header_size) + " bytes");
                return failure(pos);
            }
            netstring_length_ = netstring_length_ * 10 + digit;
            ++length_digits_;
            break;
        }
        case Stage::headers: {
            const size_t n = std::min(netstring_length_ - headers_.size(), data.size() - pos);
            headers_.append(data.substr(pos, n));
            pos += n;
            if (headers_.size() == netstring_length_)
                stage_ = Stage::comma;
            break;
        }
        case Stage::comma:
            if (data[pos++] != ',') {
                fail(0, "SCGI netstring of " + std::to_string(netstring_length_) + " bytes is not followed by ','");
                return failure(pos);
            }
            if (!on_headers(sink))
                return failure(pos);
            if (stage_ == Stage::done)
                return ParseResult{ParseStatus::paused, pos, 0, {}};
            break;
        case Stage::body: {
            const size_t n = static_cast<size_t>(std::min<uint64_t>(body_left_, data.size() - pos));
            const std::string_view chunk = data.substr(pos, n);
            pos += n;
            body_left_ -= n;
            sink.on_body(chunk);
            if (body_left_ == 0) {
                stage_ = Stage::done;
                sink.on_body_end();
                return ParseResult{ParseStatus::paused, pos, 0, {}};
            }
            break;
        }
        case Stage::done:
            return ParseResult{ParseStatus::paused, pos, 0, {}};
        case Stage::closed:
            fail(0, "data after the SCGI request (SCGI carries one request per connection)");
            return failure(pos);
        }
    }
    return ParseResult{stage_ == Stage::done ? ParseStatus::paused : ParseStatus::more, pos, 0, {}};
}

bool ScgiCodec::on_headers(RequestSink& sink)
{
    Request request;
    request.protocol = Protocol::scgi;

    // name NUL value NUL, repeated; names non-empty, values may be empty.
    std::string_view rest = headers_;
    while (!rest.empty()) {
        if (request.params.size() == limits_.max_header_count)
            return fail(431, "more than " + std::to_string(limits_.max_header_count) + " SCGI headers");
        const size_t name_end = rest.find('\0');
        if (name_end == std::string_view::npos)
            return fail(0, "SCGI header name '" + printable(rest) + "' is not NUL-terminated");
        if (name_end == 0)
            return fail(0, "SCGI header with an empty name");
        const size_t value_end = rest.find('\0', name_end + 1);
        if (value_end == std::string_view::npos)
            return fail(0, "SCGI header '" + printable(rest.substr(0, name_end)) + "' has no NUL-terminated value");
        request.params.emplace_back(std::string(rest.substr(0, name_end)),
                                    std::string(rest.substr(name_end + 1, value_end - name_end - 1)));
        rest.remove_prefix(value_end + 1);
    }
    headers_ = std::string();

    if (request.params.empty() || request.params.front().first != "CONTENT_LENGTH")
        return fail(0, request.params.empty()
                           ? std::string("SCGI request has no headers (CONTENT_LENGTH must come first)")
                           : "first SCGI header must be CONTENT_LENGTH, not '" +
                                 printable(request.params.front().first) + "'");
    const auto length = parse_cgi_length(request.params.front().second);
    if (!length)
        return fail(0, "SCGI CONTENT_LENGTH '" + printable(request.params.front().second) +
                           "' is not a non-negative integer");

    if (std::string error = merge_repeated_params(request.params); !error.empty())
        return fail(0, error);

    if (!request.has_param("SCGI"))
        return fail(0, "SCGI request has no SCGI header");
    if (request.param("SCGI") != "1")
        return fail(0, "SCGI header is '" + printable(request.param("SCGI")) + "', expected '1'");

    if (static_cast<uint64_t>(*length) > limits_.max_body_size)
        return fail(413, "CONTENT_LENGTH " + std::to_string(*length) + " exceeds " +
                             std::to_string(limits_.max_body_size) + " bytes");

    request.content_length = *length;
    head_request_ = request.param("REQUEST_METHOD") == "HEAD";
    request.head = head_request_;
    body_left_ = static_cast<uint64_t>(*length);
    stage_ = body_left_ == 0 ? Stage::done : Stage::body;
    sink.on_request(std::move(request));
    if (body_left_ == 0)
        sink.on_body_end();
    return true;
}

void ScgiCodec::write_error(int status, Output& out)
{
    out.copy(cgi_error_response(status, head_request_));
}

bool ScgiCodec::fail(int status, std::string message)
{
    failed_ = true;
    error_status_ = status;
    error_ = std::move(message);
    return false;
}

} // namespace

std::unique_ptr<Codec> make_scgi_codec(const CodecLimits& limits)
{
    return std::make_unique<ScgiCodec>(limits);
}

} // namespace drover

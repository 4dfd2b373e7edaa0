// FastCGI responder codec: one request at a time per connection
// (FCGI_MPXS_CONNS = 0), FCGI_KEEP_CONN honoured.
//
// Records are parsed incrementally with any split across feeds. STDIN content
// goes to the sink straight out of the caller's buffer; only PARAMS (bounded by
// max_header_size) and the small discrete records are buffered.
//
// feed() never pauses: the web server may send FCGI_ABORT_REQUEST, or a
// BEGIN_REQUEST that must be refused with FCGI_CANT_MPX_CONN, while the
// response of the current request is still being written.
//
// Sink callbacks may call write_head/write_body/write_end re-entrantly (the
// connection may run the application from on_body_end); every step below
// re-checks `active_` after a callback instead of assuming the request is
// still open.
#include "worker/fastcgi.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

#include "worker/cgi_params.hpp"
#include "worker/cgi_response.hpp"
#include "worker/codec.hpp"

namespace drover {
namespace {

struct RecordHeader {
    uint8_t version = 0;
    uint8_t type = 0;
    uint16_t request_id = 0;
    uint16_t content_length = 0;
    uint8_t padding_length = 0;
};

constexpr char kZeros[8] = {};

RecordHeader decode_header(const unsigned char* b)
{
    RecordHeader h;
    h.version = b[0];
    h.type = b[1];
    h.request_id = static_cast<uint16_t>(b[2] << 8 | b[3]);
    h.content_length = static_cast<uint16_t>(b[4] << 8 | b[5]);
    h.padding_length = b[6];
    return h;
}

size_t padding_for(size_t content_length)
{
    return (8 - content_length % 8) % 8;
}

void append_header(std::string& out, uint8_t type, uint16_t id, size_t content_length)
{
    const char h[fcgi::kHeaderLength] = {
        static_cast<char>(fcgi::kVersion1),
        static_cast<char>(type),
        static_cast<char>(id >> 8),
        static_cast<char>(id & 0xff),
        static_cast<char>(content_length >> 8),
        static_cast<char>(content_length & 0xff),
        static_cast<char>(padding_for(content_length)),
        0,
    };
    out.append(h, sizeof h);
}

/// A whole record with its padding; content must fit in one record.
std::string make_record(uint8_t type, uint16_t id, std::string_view content)
{
    std::string out;
    out.reserve(fcgi::kHeaderLength + content.size() + 7);
    append_header(out, type, id, content.size());
    out.append(content);
    out.append(kZeros, padding_for(content.size()));
    return out;
}

std::string end_request_record(uint16_t id, uint8_t protocol_status)
{
    // appStatus 0: the CGI exit status has no meaning for a WSGI response.
    const char body[fcgi::kEndRequestBodyLength] = {0, 0, 0, 0, static_cast<char>(protocol_status), 0, 0, 0};
    return make_record(fcgi::kEndRequest, id, std::string_view(body, sizeof body));
}

std::string unknown_type_record(uint8_t type)
{
    const char body[fcgi::kUnknownTypeBodyLength] = {static_cast<char>(type), 0, 0, 0, 0, 0, 0, 0};
    return make_record(fcgi::kUnknownType, fcgi::kNullRequestId, std::string_view(body, sizeof body));
}

void append_length(std::string& out, size_t length)
{
    if (length < 0x80) {
        out.push_back(static_cast<char>(length));
        return;
    }
    out.push_back(static_cast<char>(0x80 | (length >> 24)));
    out.push_back(static_cast<char>(length >> 16));
    out.push_back(static_cast<char>(length >> 8));
    out.push_back(static_cast<char>(length));
}

void append_name_value(std::string& out, std::string_view name, std::string_view value)
{
    append_length(out, name.size());
    append_length(out, value.size());
    out.append(name);
    out.append(value);
}

/// One 1- or 4-byte length at pos; false when its bytes are not all there.
bool read_length(std::string_view s, size_t& pos, size_t& length)
{
    if (pos >= s.size())
        return false;
    const auto b0 = static_cast<unsigned char>(s[pos]);
    if ((b0 & 0x80) == 0) {
        length = b0;
        pos += 1;
        return true;
    }
    if (s.size() - pos < 4)
        return false;
    length = static_cast<size_t>(b0 & 0x7f) << 24 | static_cast<size_t>(static_cast<unsigned char>(s[pos + 1])) << 16 |
             static_cast<size_t>(static_cast<unsigned char>(s[pos + 2])) << 8 |
             static_cast<size_t>(static_cast<unsigned char>(s[pos + 3]));
    pos += 4;
    return true;
}

/// Splits a name-value pair stream; false when it ends inside a pair.
bool parse_pairs(std::string_view s, std::vector<Param>& out)
{
    size_t pos = 0;
    while (pos < s.size()) {
        size_t name_length = 0;
        size_t value_length = 0;
        if (!read_length(s, pos, name_length) || !read_length(s, pos, value_length))
            return false;
        // Lengths are < 2^31 each, so the sum cannot overflow size_t.
        if (s.size() - pos < name_length + value_length)
            return false;
        out.emplace_back(std::string(s.substr(pos, name_length)), std::string(s.substr(pos + name_length, value_length)));
        pos += name_length + value_length;
    }
    return true;
}

const char* type_name(uint8_t type)
{
    switch (type) {
    case fcgi::kBeginRequest: return "FCGI_BEGIN_REQUEST";
    case fcgi::kAbortRequest: return "FCGI_ABORT_REQUEST";
    case fcgi::kEndRequest: return "FCGI_END_REQUEST";
    case fcgi::kParams: return "FCGI_PARAMS";
    case fcgi::kStdin: return "FCGI_STDIN";
    case fcgi::kStdout: return "FCGI_STDOUT";
    case fcgi::kStderr: return "FCGI_STDERR";
    case fcgi::kData: return "FCGI_DATA";
    case fcgi::kGetValues: return "FCGI_GET_VALUES";
    case fcgi::kGetValuesResult: return "FCGI_GET_VALUES_RESULT";
    case fcgi::kUnknownType: return "FCGI_UNKNOWN_TYPE";
    default: return "unknown record type";
    }
}

class FastcgiCodec final : public Codec {
public:
    FastcgiCodec(const CodecLimits& limits, uint32_t max_conns) : limits_(limits), max_conns_(max_conns) {}

    Protocol protocol() const override { return Protocol::fastcgi; }
    ParseResult feed(std::string_view data, RequestSink& sink) override;
    void resume() override {}

    void write_head(const ResponseHead& head, Output& out) override;
    void write_body(std::string_view data, Output& out) override;
    void write_end(Output& out) override;
    bool keep_alive() const override { return keep_conn_; }
    bool reads_while_responding() const override { return true; }
    bool stays_in_step_without_body() const override { return true; }
    bool peer_owns_connection() const override { return true; }
    void write_error(int status, Output& out) override;

private:
    enum class Stage { header, content, padding };
    /// What the content of the record being read is for, decided from its header.
    enum class Action { skip, buffer, params, body, abort };
    /// Input progress of the active request.
    enum class Phase { params, body, body_done };

    bool on_header();
    void on_content(std::string_view chunk, RequestSink& sink);
    bool on_record_end(RequestSink& sink);
    bool begin_request(RequestSink& sink);
    bool end_params(RequestSink& sink);
    bool answer_get_values(RequestSink& sink);
    void append_stdout(std::string_view data, bool borrow, Output& out) const;
    bool fail(int status, std::string message);
    ParseResult failure(size_t consumed) const;

    const CodecLimits limits_;
    const uint32_t max_conns_;

    // Record framing.
    Stage stage_ = Stage::header;
    unsigned char header_[fcgi::kHeaderLength] = {};
    size_t header_fill_ = 0;
    RecordHeader record_;
    size_t content_left_ = 0;
    size_t padding_left_ = 0;
    Action action_ = Action::skip;
    std::string content_;  // discrete record content (BEGIN_REQUEST, GET_VALUES)

    // The current request: active from its BEGIN_REQUEST until write_end.
    // Records for any other id are ignored (specification 3.3: "While a
    // request ID R is inactive, the application ignores records with
    // requestId == R, except for FCGI_BEGIN_REQUEST"). That covers the late
    // STDIN of a request answered before its body was read, the records of
    // a request refused with CANT_MPX_CONN or UNKNOWN_ROLE, and the late
    // STDIN reaching a fresh codec when a kept connection was passed to
    // another worker between the response and the end of that STDIN.
    bool active_ = false;
    uint16_t current_id_ = 0;
    bool keep_conn_ = false;
    Phase phase_ = Phase::params;
    std::string params_;  // the raw PARAMS stream, at most max_header_size
    int64_t content_length_ = -1;
    uint64_t body_received_ = 0;
    bool head_request_ = false;
    bool aborted_ = false;
    bool response_started_ = false;

    bool failed_ = false;
    int error_status_ = 0;
    std::string error_;
};

ParseResult FastcgiCodec::feed(std::string_view data, RequestSink& sink)
{
    if (failed_)
        return failure(0);
    size_t pos = 0;
    while (pos < data.size()) {
        const size_t available = data.size() - pos;
        switch (stage_) {
        case Stage::header: {
            const size_t n = std::min(fcgi::kHeaderLength - header_fill_, available);
            std::memcpy(header_ + header_fill_, data.data() + pos, n);
            header_fill_ += n;
            pos += n;
            if (header_fill_ < fcgi::kHeaderLength)
                break;
            header_fill_ = 0;
            record_ = decode_header(header_);
            content_left_ = record_.content_length;
            padding_left_ = record_.padding_length;
            content_.clear();
            if (!on_header())
                return failure(pos);
            stage_ = Stage::content;
            if (content_left_ == 0) {
                stage_ = padding_left_ ? Stage::padding : Stage::header;
                if (!on_record_end(sink))
                    return failure(pos);
            }
            break;
        }
        case Stage::content: {
            const size_t n = std::min(content_left_, available);
            const std::string_view chunk = data.substr(pos, n);
            pos += n;
            content_left_ -= n;
            on_content(chunk, sink);
            if (content_left_ == 0) {
                stage_ = padding_left_ ? Stage::padding : Stage::header;
                if (!on_record_end(sink))
                    return failure(pos);
            }
            break;
        }
        case Stage::padding: {
            const size_t n = std::min(padding_left_, available);
            pos += n;
            padding_left_ -= n;
            if (padding_left_ == 0)
                stage_ = Stage::header;
            break;
        }
        }
    }
    return ParseResult{ParseStatus::more, pos, 0, {}};
}

// Validates a record against the connection state before any of its content
// is taken, so an oversized PARAMS or STDIN record is refused whole.
bool FastcgiCodec::on_header()
{
    const RecordHeader& r = record_;
    action_ = Action::skip;
    if (r.version != fcgi::kVersion1)
        return fail(0, "FastCGI record version " + std::to_string(r.version) + " is not supported (expected 1)");

    if (r.request_id == fcgi::kNullRequestId) {
        // Management record: GET_VALUES is answered, anything else gets UNKNOWN_TYPE.
        if (r.type == fcgi::kGetValues)
            action_ = Action::buffer;
        return true;
    }
    if (r.type == 0 || r.type > fcgi::kMaxType)
        return true;  // answered with FCGI_UNKNOWN_TYPE at its end

    switch (r.type) {
    case fcgi::kBeginRequest:
        if (r.content_length != fcgi::kBeginRequestBodyLength)
            return fail(0, "FCGI_BEGIN_REQUEST with content length " + std::to_string(r.content_length) +
                               " (expected 8)");
        action_ = Action::buffer;
        return true;
    case fcgi::kAbortRequest:
    case fcgi::kParams:
    case fcgi::kStdin:
    case fcgi::kData:
        break;
    default:
        return fail(0, std::string(type_name(r.type)) + " record from the web server (request id " +
                           std::to_string(r.request_id) + ")");
    }

    if (!active_ || r.request_id != current_id_)
        return true;  // an inactive request id: ignored

    switch (r.type) {
    case fcgi::kParams:
        if (phase_ != Phase::params)
            return fail(0, "FCGI_PARAMS after the end of the params stream (request id " +
                               std::to_string(r.request_id) + ")");
        if (r.content_length > limits_.max_header_size - params_.size())
            return fail(431, "FastCGI params exceed " + std::to_string(limits_.max_header_size) + " bytes");
        action_ = Action::params;
        return true;
    case fcgi::kStdin:
        if (phase_ == Phase::params)
            return fail(0, "FCGI_STDIN before the end of FCGI_PARAMS (request id " + std::to_string(r.request_id) +
                               ")");
        if (phase_ == Phase::body_done)
            return fail(0, "FCGI_STDIN after the end of the body (request id " + std::to_string(r.request_id) + ")");
        if (r.content_length > limits_.max_body_size - body_received_)
            return fail(413, "request body exceeds " + std::to_string(limits_.max_body_size) + " bytes");
        if (content_length_ >= 0 && body_received_ + r.content_length > static_cast<uint64_t>(content_length_))
            return fail(400, "FCGI_STDIN longer than CONTENT_LENGTH " + std::to_string(content_length_));
        action_ = Action::body;
        return true;
    case fcgi::kAbortRequest:
        action_ = Action::abort;
        return true;
    default:  // FCGI_DATA: only the Filter role reads it
        return true;
    }
}

void FastcgiCodec::on_content(std::string_view chunk, RequestSink& sink)
{
    switch (action_) {
    case Action::buffer:
        content_.append(chunk);
        break;
    case Action::params:
        params_.append(chunk);
        break;
    case Action::body:
        body_received_ += chunk.size();
        // The response may have ended inside an earlier on_body: drop the rest.
        if (active_ && !chunk.empty())
            sink.on_body(chunk);
        break;
    case Action::skip:
    case Action::abort:
        break;
    }
}

bool FastcgiCodec::on_record_end(RequestSink& sink)
{
    const RecordHeader& r = record_;
    if (r.request_id == fcgi::kNullRequestId) {
        if (r.type == fcgi::kGetValues)
            return answer_get_values(sink);
        sink.on_reply(unknown_type_record(r.type));
        return true;
    }
    if (r.type == 0 || r.type > fcgi::kMaxType) {
        sink.on_reply(unknown_type_record(r.type));
        return true;
    }
    switch (r.type) {
    case fcgi::kBeginRequest:
        return begin_request(sink);
    case fcgi::kParams:
        if (action_ == Action::params && r.content_length == 0)
            return end_params(sink);
        return true;
    case fcgi::kStdin:
        if (action_ == Action::body && r.content_length == 0 && active_) {
            phase_ = Phase::body_done;
            sink.on_body_end();
        }
        return true;
    case fcgi::kAbortRequest:
        if (action_ != Action::abort || !active_ || aborted_)
            return true;
        aborted_ = true;
        if (phase_ == Phase::params) {
            // The sink never saw this request: answer the abort here (the
            // spec wants an END_REQUEST) and forget the request.
            active_ = false;
            params_ = std::string();
            sink.on_reply(end_request_record(current_id_, fcgi::kRequestComplete));
            return true;
        }
        sink.on_abort();
        return true;
    default:
        return true;
    }
}

bool FastcgiCodec::begin_request(RequestSink& sink)
{
    const auto* body = reinterpret_cast<const unsigned char*>(content_.data());
    const auto role = static_cast<uint16_t>(body[0] << 8 | body[1]);
    const uint8_t flags = body[2];
    const uint16_t id = record_.request_id;

    if (active_) {
        if (id == current_id_)
            return fail(0, "FCGI_BEGIN_REQUEST for request id " + std::to_string(id) + ", which is already active");
        sink.on_reply(end_request_record(id, fcgi::kCantMpxConn));
        return true;
    }
    if (role != fcgi::kResponder) {
        sink.on_reply(end_request_record(id, fcgi::kUnknownRole));
        return true;
    }
    active_ = true;
    current_id_ = id;
    keep_conn_ = (flags & fcgi::kKeepConn) != 0;
    phase_ = Phase::params;
    params_.clear();
    content_length_ = -1;
    body_received_ = 0;
    head_request_ = false;
    aborted_ = false;
    response_started_ = false;
    return true;
}

bool FastcgiCodec::end_params(RequestSink& sink)
{
    Request request;
    request.protocol = Protocol::fastcgi;
    if (!parse_pairs(params_, request.params))
        return fail(0, "FCGI_PARAMS stream ends inside a name-value pair (request id " + std::to_string(current_id_) +
                           ")");
    params_ = std::string();
    if (request.params.size() > limits_.max_header_count)
        return fail(431, "more than " + std::to_string(limits_.max_header_count) + " FastCGI params");
    if (std::string error = merge_repeated_params(request.params); !error.empty())
        return fail(400, error);

    // nginx sends CONTENT_LENGTH "" when the request has no length (a GET, or a
    // chunked body without request buffering): the body then ends at the
    // empty STDIN record.
    content_length_ = -1;
    if (request.has_param("CONTENT_LENGTH")) {
        if (auto length = parse_cgi_length(request.param("CONTENT_LENGTH")))
            content_length_ = *length;
    }
    if (content_length_ > 0 && static_cast<uint64_t>(content_length_) > limits_.max_body_size)
        return fail(413, "CONTENT_LENGTH " + std::to_string(content_length_) + " exceeds " +
                             std::to_string(limits_.max_body_size) + " bytes");
    request.content_length = content_length_;
    head_request_ = request.param("REQUEST_METHOD") == "HEAD";
    request.head = head_request_;
    phase_ = Phase::body;
    sink.on_request(std::move(request));
    return true;
}

bool FastcgiCodec::answer_get_values(RequestSink& sink)
{
    std::vector<Param> asked;
    if (!parse_pairs(content_, asked))
        return fail(0, "FCGI_GET_VALUES ends inside a name-value pair");
    // Each known name is answered once, so the answer always fits one record.
    bool conns = false, reqs = false, mpxs = false;
    std::string answer;
    for (const auto& [name, value] : asked) {
        if (name == fcgi::kMaxConns && !conns) {
            conns = true;
            append_name_value(answer, name, std::to_string(max_conns_));
        } else if (name == fcgi::kMaxReqs && !reqs) {
            reqs = true;
            append_name_value(answer, name, std::to_string(max_conns_));
        } else if (name == fcgi::kMpxsConns && !mpxs) {
            mpxs = true;
            append_name_value(answer, name, "0");
        }
    }
    sink.on_reply(make_record(fcgi::kGetValuesResult, fcgi::kNullRequestId, answer));
    return true;
}

void FastcgiCodec::append_stdout(std::string_view data, bool borrow, Output& out) const
{
    std::string framing;
    while (!data.empty()) {
        const size_t n = std::min(data.size(), fcgi::kMaxStdoutContent);
        framing.clear();
        append_header(framing, fcgi::kStdout, current_id_, n);
        out.copy(framing);
        if (borrow)
            out.borrow(data.substr(0, n));
        else
            out.copy(data.substr(0, n));
        out.copy(std::string_view(kZeros, padding_for(n)));
        data.remove_prefix(n);
    }
}

void FastcgiCodec::write_head(const ResponseHead& head, Output& out)
{
    if (!active_)
        return;
    response_started_ = true;
    append_stdout(cgi_head(head), false, out);
}

void FastcgiCodec::write_body(std::string_view data, Output& out)
{
    // An empty STDOUT record would end the stream, so empty data writes nothing.
    if (!active_ || head_request_ || data.empty())
        return;
    append_stdout(data, true, out);
}

void FastcgiCodec::write_end(Output& out)
{
    if (!active_)
        return;
    std::string framing;
    append_header(framing, fcgi::kStdout, current_id_, 0);
    framing += end_request_record(current_id_, fcgi::kRequestComplete);
    out.copy(framing);
    active_ = false;
    params_ = std::string();
}

void FastcgiCodec::write_error(int status, Output& out)
{
    if (!active_)
        return;
    // Once a head went out, a second one would land in the body: just end.
    if (!response_started_) {
        const std::string text = cgi_error_response(status, head_request_);
        response_started_ = true;
        append_stdout(text, false, out);
    }
    write_end(out);
}

bool FastcgiCodec::fail(int status, std::string message)
{
    failed_ = true;
    error_status_ = status;
    error_ = std::move(message);
    return false;
}

ParseResult FastcgiCodec::failure(size_t consumed) const
{
    return ParseResult{ParseStatus::error, consumed, error_status_, error_};
}

} // namespace

std::unique_ptr<Codec> make_fastcgi_codec(const CodecLimits& limits, uint32_t max_conns)
{
    return std::make_unique<FastcgiCodec>(limits, max_conns);
}

} // namespace drover

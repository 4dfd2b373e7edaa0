// The codec interface: one protocol's bytes in, request events and response
// bytes out. A codec owns no socket and no Python object, so it can be unit
// tested and fuzzed on its own; the connection feeds it what it reads and
// writes what it frames.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "worker/request.hpp"

namespace drover {

/// Events a codec raises while it parses.
class RequestSink {
public:
    virtual ~RequestSink() = default;
    /// The request head is complete; the body (if any) follows as on_body.
    virtual void on_request(Request&& request) = 0;
    virtual void on_body(std::string_view chunk) = 0;
    /// The body is complete (also right after on_request when there is none).
    virtual void on_body_end() = 0;
    /// The frontend gave up on the current request (FastCGI FCGI_ABORT_REQUEST).
    virtual void on_abort() {}
    /// Bytes the codec must send on its own, outside any response
    /// (FastCGI management replies, FCGI_CANT_MPX_CONN ...).
    virtual void on_reply(std::string_view bytes) { (void)bytes; }
};

enum class ParseStatus {
    more,    ///< everything consumed; more input wanted
    paused,  ///< a request is complete; feed the rest after its response ends
    error,   ///< malformed input; answer with error_status (if not 0) and close
};

struct ParseResult {
    ParseStatus status = ParseStatus::more;
    size_t consumed = 0;
    /// For ParseStatus::error: the HTTP status to answer with (400, 413, 431...),
    /// 0 to close without an answer.
    int error_status = 0;
    /// For ParseStatus::error: what was wrong, for the log.
    std::string error;
};

/// Bytes to write: owned framing plus borrowed body views, gathered for writev().
/// Borrowed views must stay valid until the output is written.
class Output {
public:
    void copy(std::string_view bytes);
    void borrow(std::string_view bytes);
    bool empty() const { return pieces_.empty(); }
    size_t size() const { return size_; }
    void clear();
    /// The pieces as iovecs (valid until the next change to this Output).
    std::vector<struct iovec> iovecs() const;
    /// Everything as one string (tests, small replies).
    std::string str() const;

private:
    struct Piece {
        bool owned;
        size_t offset;       // into owned_ when owned
        const char* data;    // when borrowed
        size_t length;
    };
    std::string owned_;
    std::vector<Piece> pieces_;
    size_t size_ = 0;
};

/// What the application answered, as the codec needs it to frame a head.
struct ResponseHead {
    int status = 200;
    std::string_view status_line;  ///< "200 OK", as the app gave it
    const HeaderList* headers = nullptr;
    int64_t content_length = -1;   ///< from the headers or known by the bridge; -1 unknown
};

class Codec {
public:
    virtual ~Codec() = default;
    virtual Protocol protocol() const = 0;

    /// Parses as much of data as it can. After ParseStatus::paused, call
    /// resume() once the response has ended, then feed the unconsumed rest.
    virtual ParseResult feed(std::string_view data, RequestSink& sink) = 0;
    virtual void resume() = 0;

    /// Frames the response head. Called once, before any body.
    virtual void write_head(const ResponseHead& head, Output& out) = 0;
    /// Frames body bytes (borrowing data when it can).
    virtual void write_body(std::string_view data, Output& out) = 0;
    /// Ends the response (last chunk, FCGI_END_REQUEST, ...).
    virtual void write_end(Output& out) = 0;
    /// After write_end: may the connection carry another request?
    virtual bool keep_alive() const = 0;
    /// The next response must end the connection (keep-alive off, graceful
    /// stop); HTTP says so in its head. Call before write_head.
    virtual void refuse_keep_alive() {}
    /// True while the body can go out raw with sendfile(2) (identity framing).
    virtual bool raw_body() const { return false; }
    // What the connection and the worker loop ask of the protocol, instead of
    // testing its name.

    /// Can a request head that timed out be answered (408)? Only where the
    /// codec can frame an answer without a complete head (HTTP): a web
    /// server's FastCGI or SCGI head arrives whole or not at all.
    virtual bool answers_head_timeout() const { return false; }
    /// Must the connection take in what the peer sends while the response
    /// streams (FastCGI: FCGI_ABORT_REQUEST, a BEGIN_REQUEST to refuse now)?
    virtual bool reads_while_responding() const { return false; }
    /// May the connection go on after a body the app left unread, without
    /// reading it? (FastCGI: the codec drops an ended request's late
    /// FCGI_STDIN itself, and reading here could swallow the next
    /// BEGIN_REQUEST.) Elsewhere an unread body means closing.
    virtual bool stays_in_step_without_body() const { return false; }
    /// May a file body go out with sendfile(2) when raw_body() holds?
    virtual bool can_send_files() const { return false; }
    /// Does the peer own this kept connection, so that closing it after a
    /// response could lose the request it sends next (a web server's pool,
    /// FastCGI FCGI_KEEP_CONN)? A stopping worker hands such a connection
    /// over instead of closing it.
    virtual bool peer_owns_connection() const { return false; }
    /// A complete answer for a request that failed before the app ran
    /// (400, 413, 431, 500...). Ends the response; the connection closes after.
    virtual void write_error(int status, Output& out) = 0;
};

/// Limits every codec enforces on its input.
struct CodecLimits {
    size_t max_header_size = 64 * 1024;      ///< request line + headers, or all params
    uint64_t max_body_size = 100ULL << 20;   ///< 413 above this
    /// Header fields (HTTP) or params (FastCGI, SCGI) in one request; 431
    /// above. Bounds the work a request head can make before the app runs.
    uint32_t max_header_count = 100;
};

std::unique_ptr<Codec> make_http_codec(const CodecLimits& limits);
std::unique_ptr<Codec> make_fastcgi_codec(const CodecLimits& limits, uint32_t max_conns);
std::unique_ptr<Codec> make_scgi_codec(const CodecLimits& limits);

/// "200 OK" for 200, "Internal Server Error" body texts, ...
std::string_view status_reason(int status);

} // namespace drover

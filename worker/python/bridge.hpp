// The WSGI bridge (PEP 3333): turns one Request into one call of the
// application and its response into ResponseWriter calls. It sees no socket
// and no codec: the connection gives it a BodySource and a ResponseWriter.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "worker/request.hpp"
#include "worker/worker_spec.hpp"

namespace drover {

/// BodySource::error() of a body that went over max_body_size. When the
/// application lets that read error out, the answer is 413, not 500: the
/// client sent too much, the application did nothing wrong. (A body whose
/// Content-Length is over the limit is refused before the application runs;
/// a chunked one can only be caught while it is read.)
inline constexpr std::string_view kBodyTooLarge = "request body larger than max_body_size";

/// The request body, streamed from the connection.
class BodySource {
public:
    virtual ~BodySource() = default;
    /// Reads up to size bytes; 0 at the end of the body. Blocks until data
    /// arrives. On failure (client gone, timeout, body over the limit) returns
    /// -1 and error() says why.
    virtual ssize_t read(char* buffer, size_t size) = 0;
    virtual const std::string& error() const = 0;
    /// True when the body length was not known up front (chunked, FastCGI).
    virtual bool input_terminated() const = 0;
};

/// The response, as the application produces it.
class ResponseWriter {
public:
    virtual ~ResponseWriter() = default;
    /// Records the head; it is sent with the first body bytes or at finish().
    /// content_length is -1 when unknown.
    virtual void start(int status, std::string_view status_line, const HeaderList& headers,
                       int64_t content_length) = 0;
    /// Sends body bytes; false when the client has gone away.
    virtual bool write(std::string_view data) = 0;
    /// True when sendfile() can be used for this response.
    virtual bool can_sendfile() const = 0;
    /// Sends count bytes of fd from offset (count < 0: to end of file) with
    /// sendfile(2); false when the client has gone away.
    virtual bool sendfile(int fd, off_t offset, int64_t count) = 0;
    /// Ends the response; false when the client has gone away.
    virtual bool finish() = 0;
    /// True once the head has gone out (exc_info must then re-raise).
    virtual bool head_sent() const = 0;
};

/// What the worker reports about one request (access log, scoreboard).
struct RequestOutcome {
    int status = 0;
    uint64_t response_bytes = 0;
    bool client_gone = false;
    /// The connection must close after this request (framing left unfinished).
    bool close_connection = false;
    /// The client's address for the access log: the one a trusted proxy
    /// named, else the peer REMOTE_ADDR names ("" when unknown).
    std::string client;
};

/// Transport facts the connection knows and the codec may not.
struct PeerInfo {
    std::string remote_addr;
    std::string remote_port;
    std::string server_name;
    std::string server_port;
};

class WsgiBridge {
public:
    virtual ~WsgiBridge() = default;
    /// Calls the application for one request. Never throws; an application
    /// error becomes a 500 (or a cut connection once the head is out).
    virtual RequestOutcome handle(const Request& request, const PeerInfo& peer, BodySource& body,
                                  ResponseWriter& response) = 0;
};

/// Initialises CPython in this (already forked) process, sets up sys.path and
/// the virtualenv, and imports the application. Throws std::runtime_error
/// with the reason (the traceback is already in the error log) when it fails.
std::unique_ptr<WsgiBridge> make_wsgi_bridge(const AppSettings& settings);

/// From a process whose bridge is made (a preloading zygote): forks a child
/// that shares the imported application copy-on-write and is adopted by
/// `adopter` (the master, a child subreaper): the child returns only once
/// adopted. Returns 0 in the child, the child's pid in this process, -1 with
/// errno on failure.
pid_t fork_preloaded(pid_t adopter);

} // namespace drover

#include "worker/connection.hpp"

#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "base/clock.hpp"
#include "base/log.hpp"

namespace drover {

namespace {

constexpr size_t kReadSize = 64 * 1024;
/// A connection keeps at most this much buffer capacity between requests;
/// a large request's buffers are released when it ends.
constexpr size_t kKeptCapacity = 16 * 1024;

uint64_t seconds_ns(double s) { return static_cast<uint64_t>(s * 1e9); }

void release_if_large(std::string& buffer)
{
    if (buffer.capacity() > kKeptCapacity)
        std::string().swap(buffer);
}
/// The longest a lingering close goes on, whatever the client keeps sending.
constexpr uint64_t kLingerNs = 5'000'000'000ULL;

/// Access log fields are quoted; a quote or control byte in them would let a
/// client forge log lines.
void append_escaped(std::string& out, std::string_view s)
{
    for (unsigned char c : s) {
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out.append(buf);
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
}

} // namespace

Connection::Connection(UniqueFd fd, std::unique_ptr<Codec> codec, PeerInfo peer, const AppSettings& app)
    : fd_(std::move(fd)), codec_(std::move(codec)), peer_(std::move(peer)), app_(app),
      head_deadline_ns_(monotonic_ns() + seconds_ns(app.header_timeout))
{
}

// ---------------------------------------------------------------- parsing

ssize_t Connection::receive(int flags)
{
    // Into the stack first: the connection's buffer grows by what arrived,
    // never by a whole read size (a slow or silent client pins nothing, and
    // nothing is zero-filled per read).
    char chunk[kReadSize];
    for (;;) {
        ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, flags);
        if (n > 0)
            in_.append(chunk, static_cast<size_t>(n));
        if (n == 0)
            peer_closed_ = true;
        if (n >= 0 || errno != EINTR)
            return n;
    }
}

double Connection::seconds_to_wait() const
{
    if (idle())
        return app_.keepalive;
    uint64_t now = monotonic_ns();
    return now >= head_deadline_ns_ ? 0.0 : static_cast<double>(head_deadline_ns_ - now) / 1e9;
}

void Connection::time_out_head()
{
    log_info(protocol_name(codec_->protocol()), " request head from ", peer_.remote_addr.empty() ? "-" : peer_.remote_addr,
             " not complete within header_timeout (", app_.header_timeout, " s)");
    if (mid_request_ && !head_sent_ && codec_->answers_head_timeout()) {
        Output out;
        codec_->write_error(408, out);
        flush(out);
    }
    unread_input_ = mid_request_;
}

Connection::Next Connection::on_readable()
{
    // One read, then parse: a large body streams through the codec in
    // kReadSize steps rather than piling up here first.
    ssize_t n = receive(0);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        log_debug("recv() from client failed: ", std::strerror(errno));
        return Next::close;
    }
    Next next = parse();
    if (next == Next::wait && peer_closed_)
        return Next::close;
    return next;
}

Connection::Next Connection::parse()
{
    if (pending_)
        return Next::serve;
    if (parsed_ < in_.size()) {
        ParseResult r = codec_->feed(std::string_view(in_).substr(parsed_), *this);
        parsed_ += r.consumed;
        if (r.status == ParseStatus::error) {
            unread_input_ = true;
            log_info(protocol_name(codec_->protocol()), " request from ", peer_.remote_addr, " rejected: ", r.error);
            if (r.error_status != 0 && !head_sent_) {
                Output out;
                codec_->write_error(r.error_status, out);
                flush(out);
            }
            return Next::close;
        }
        if (!pending_ && r.consumed > 0 && !mid_request_) {
            mid_request_ = true;
            // A kept connection's next request: its head's clock starts now.
            if (served_ > 0)
                head_deadline_ns_ = monotonic_ns() + seconds_ns(app_.header_timeout);
        }
    }
    if (parsed_ == in_.size()) {
        in_.clear();
        parsed_ = 0;
    }
    if (client_gone_)
        return Next::close;
    return pending_ ? Next::serve : Next::wait;
}

void Connection::on_request(Request&& request)
{
    pending_ = std::move(request);
    mid_request_ = false;
    body_.clear();
    body_pos_ = 0;
    body_end_ = false;
    aborted_ = false;
    body_bytes_ = 0;
    body_error_.clear();
}

void Connection::on_body(std::string_view chunk)
{
    if (body_pos_ == body_.size()) {
        body_.clear();
        body_pos_ = 0;
    }
    body_.append(chunk);
    body_bytes_ += chunk.size();
}

void Connection::on_body_end() { body_end_ = true; }

void Connection::on_abort()
{
    aborted_ = true;
    body_error_ = "request aborted by the frontend";
}

void Connection::on_reply(std::string_view bytes)
{
    Output out;
    out.copy(bytes);
    flush(out);
}

// ---------------------------------------------------------------- I/O

bool Connection::wait_for(short events)
{
    struct pollfd p = {fd_.get(), events, 0};
    int timeout_ms = app_.io_timeout > 0 ? static_cast<int>(std::min(app_.io_timeout * 1000.0, double(INT_MAX))) : -1;
    for (;;) {
        int n = ::poll(&p, 1, timeout_ms);
        if (n > 0)
            return true;
        if (n == 0) {
            errno = ETIMEDOUT;
            return false;
        }
        if (errno != EINTR)
            return false;
    }
}

bool Connection::read_blocking()
{
    for (;;) {
        ssize_t n = receive(0);
        if (n > 0)
            return true;
        if (n == 0) {
            errno = ECONNRESET;
            return false;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return false;
        if (!wait_for(POLLIN))
            return false;
    }
}

bool Connection::flush(Output& out, bool more_follows)
{
    if (client_gone_)
        return false;
    std::vector<struct iovec> iov = out.iovecs();
    size_t first = 0;
    while (first < iov.size()) {
        struct msghdr msg = {};
        msg.msg_iov = iov.data() + first;
        msg.msg_iovlen = std::min<size_t>(iov.size() - first, IOV_MAX);
        ssize_t n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL | (more_follows ? MSG_MORE : 0));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_for(POLLOUT))
                continue;
            log_debug("send() to client failed: ", std::strerror(errno));
            client_gone_ = true;
            out.clear();
            return false;
        }
        size_t left = static_cast<size_t>(n);
        while (first < iov.size() && left >= iov[first].iov_len) {
            left -= iov[first].iov_len;
            ++first;
        }
        if (left > 0) {
            iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
            iov[first].iov_len -= left;
        }
    }
    out.clear();
    return true;
}

void Connection::begin_linger()
{
    lingering_ = true;
    linger_until_ns_ = monotonic_ns() + kLingerNs;
    ::shutdown(fd_.get(), SHUT_WR);
}

bool Connection::discard_input()
{
    if (monotonic_ns() > linger_until_ns_)
        return false;
    char sink[16384];
    for (;;) {
        ssize_t n = ::recv(fd_.get(), sink, sizeof sink, 0);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
}

// ---------------------------------------------------------------- BodySource

ssize_t Connection::read(char* buffer, size_t size)
{
    std::lock_guard<std::mutex> lock(io_mutex_);
    while (body_pos_ == body_.size()) {
        body_.clear();
        body_pos_ = 0;
        if (aborted_)
            return -1;
        if (body_end_)
            return 0;
        if (parsed_ == in_.size()) {
            in_.clear();
            parsed_ = 0;
            if (!read_blocking()) {
                body_error_ = errno == ETIMEDOUT ? "timed out reading the request body"
                                                 : "client closed the connection during the request body";
                broken_ = true;
                return -1;
            }
        }
        ParseResult r = codec_->feed(std::string_view(in_).substr(parsed_), *this);
        parsed_ += r.consumed;
        if (r.status == ParseStatus::error) {
            body_error_ = r.error_status == 413 ? std::string(kBodyTooLarge) : r.error;
            broken_ = true;
            // The answer the app (or the bridge) gives now is the last one
            // on this connection: its head should say so.
            codec_->refuse_keep_alive();
            return -1;
        }
    }
    size_t n = std::min(size, body_.size() - body_pos_);
    std::memcpy(buffer, body_.data() + body_pos_, n);
    body_pos_ += n;
    return static_cast<ssize_t>(n);
}

bool Connection::finish_body()
{
    if (body_end_ && body_pos_ == body_.size())
        return true;
    // HTTP and SCGI close instead of reading what the app ignored. FastCGI
    // stays in step without reading here: once the response has ended the
    // codec drops the late FCGI_STDIN of that request id by itself, and
    // draining here would hang, since the codec raises no on_body_end for an
    // ended request, and could swallow the next BEGIN_REQUEST into this one.
    return codec_->protocol() == Protocol::fastcgi && !broken_ && !aborted_;
}

// ---------------------------------------------------------------- ResponseWriter

void Connection::start(int status, std::string_view status_line, const HeaderList& headers, int64_t content_length)
{
    std::lock_guard<std::mutex> lock(io_mutex_);
    status_ = status;
    status_line_.assign(status_line);
    headers_ = headers;
    content_length_ = content_length;
    started_ = true;
}

bool Connection::write_head_if_needed(Output& out)
{
    if (head_sent_)
        return true;
    if (!started_)
        return false;
    ResponseHead head;
    head.status = status_;
    head.status_line = status_line_;
    head.headers = &headers_;
    head.content_length = content_length_;
    codec_->write_head(head, out);
    head_sent_ = true;
    return true;
}

bool Connection::read_frontend_records()
{
    // While the app writes nothing else reads the socket, but a FastCGI web
    // server may send FCGI_ABORT_REQUEST, or a BEGIN_REQUEST that must be
    // refused with FCGI_CANT_MPX_CONN now: take what has arrived, without
    // waiting. The codec never pauses, so this cannot start another request.
    if (!broken_ && !peer_closed_) {
        while (receive(MSG_DONTWAIT) == static_cast<ssize_t>(kReadSize)) {
        }
        if (parsed_ < in_.size()) {
            ParseResult r = codec_->feed(std::string_view(in_).substr(parsed_), *this);
            parsed_ += r.consumed;
            if (r.status == ParseStatus::error) {
                log_info(protocol_name(codec_->protocol()), " request from ", peer_.remote_addr, " rejected: ", r.error);
                broken_ = true;
            }
        }
    }
    return !aborted_;
}

bool Connection::write(std::string_view data)
{
    std::lock_guard<std::mutex> lock(io_mutex_);
    return write_locked(data);
}

bool Connection::write_locked(std::string_view data)
{
    if (client_gone_ || aborted_)
        return false;
    // Between the chunks of a streamed FastCGI response (not before the
    // first: a one-write response gains nothing from an extra recv()).
    if (codec_->protocol() == Protocol::fastcgi && head_sent_ && !read_frontend_records())
        return false;
    Output out;
    write_head_if_needed(out);
    codec_->write_body(data, out);
    response_bytes_ += data.size();
    return flush(out);
}

bool Connection::sendfile(int fd, off_t offset, int64_t count)
{
    std::lock_guard<std::mutex> lock(io_mutex_);
    if (client_gone_ || aborted_)
        return false;
    Output out;
    write_head_if_needed(out);
    if (!codec_->raw_body()) {
        // HEAD sends no body; other framing (chunked) needs the bytes: no
        // zero-copy path.
        if (pending_ && pending_->head)
            return flush(out);
        char buf[65536];
        if (!flush(out))
            return false;
        while (count != 0) {
            size_t want = count < 0 ? sizeof buf : std::min<size_t>(sizeof buf, static_cast<size_t>(count));
            ssize_t n = ::pread(fd, buf, want, offset);
            if (n <= 0) {
                if (count > 0)
                    return file_ended_early(count);
                break;
            }
            offset += n;
            if (count > 0)
                count -= n;
            if (!write_locked(std::string_view(buf, static_cast<size_t>(n))))
                return false;
        }
        return true;
    }
    if (!flush(out, true))
        return false;
    while (count != 0) {
        size_t want = count < 0 ? (1u << 30) : static_cast<size_t>(std::min<int64_t>(count, 1 << 30));
        ssize_t n = ::sendfile(fd_.get(), fd, &offset, want);
        if (n > 0) {
            response_bytes_ += static_cast<uint64_t>(n);
            if (count > 0)
                count -= n;
            continue;
        }
        if (n == 0) {
            if (count > 0)
                return file_ended_early(count);
            break;  // end of file
        }
        if (errno == EINTR)
            continue;
        if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_for(POLLOUT))
            continue;
        client_gone_ = true;
        return false;
    }
    return true;
}

bool Connection::file_ended_early(int64_t missing)
{
    // The head announced more than the file holds now (it shrank): a short
    // body must not stay on a kept connection, where the client would read
    // the next response as its rest. The connection ends here.
    log_error("the file being sent is ", missing, " bytes shorter than announced; closing the connection");
    client_gone_ = true;
    return false;
}

bool Connection::finish()
{
    std::lock_guard<std::mutex> lock(io_mutex_);
    if (client_gone_)
        return false;
    Output out;
    if (!head_sent_ && content_length_ < 0)
        content_length_ = 0;  // nothing was written: the length is known
    write_head_if_needed(out);
    codec_->write_end(out);
    return flush(out);
}

// ---------------------------------------------------------------- serving

Connection::Next Connection::serve(WsgiBridge& bridge, Slot& slot, bool keep_alive_allowed)
{
    Request& request = *pending_;
    uint64_t start_ns = monotonic_ns();
    {
        std::string summary;
        summary.reserve(Slot::kSummaryBytes);
        summary.append(protocol_name(request.protocol)).append(" ");
        summary.append(request.param("REQUEST_METHOD")).append(" ");
        std::string_view uri = request.param("REQUEST_URI");
        summary.append(uri.empty() ? request.param("PATH_INFO") : uri);
        slot.begin_request(start_ns, summary);
    }
    if (!keep_alive_allowed)
        codec_->refuse_keep_alive();

    status_ = 0;
    started_ = head_sent_ = false;
    response_bytes_ = 0;
    content_length_ = -1;
    headers_.clear();

    RequestOutcome outcome = bridge.handle(request, peer_, *this, *this);
    if (aborted_) {
        // FCGI_ABORT_REQUEST is answered with the request's FCGI_END_REQUEST,
        // sent once the app has let go of the request (its close() ran).
        Output out;
        codec_->write_end(out);
        flush(out);
    }

    ++served_;
    // keep_alive_allowed is false while the worker stops: HTTP said
    // "Connection: close" in the head; FastCGI and SCGI simply close after
    // the end of the response.
    bool body_done = finish_body();
    unread_input_ = !body_done || broken_;
    bool keep = keep_alive_allowed && body_done && !outcome.close_connection && !outcome.client_gone &&
                !client_gone_ && !broken_ && !aborted_ && codec_->keep_alive();
    uint64_t duration_us = (monotonic_ns() - start_ns) / 1000;
    slot.counters.record(request.protocol, outcome.status, duration_us, body_bytes_, outcome.response_bytes);
    slot.end_request();
    if (AccessLog::enabled())
        log_access(outcome, duration_us);

    pending_.reset();
    body_.clear();
    body_pos_ = 0;
    headers_.clear();
    // The next exchange starts with nothing sent: an error in its head is
    // answered (a head sent for this one must not silence it).
    started_ = head_sent_ = false;
    release_if_large(body_);
    if (parsed_ == in_.size()) {
        in_.clear();
        parsed_ = 0;
        release_if_large(in_);
    }
    if (!keep)
        return Next::close;
    codec_->resume();
    Next next = parse();
    if (next == Next::wait && peer_closed_)
        return Next::close;
    return next;
}

void Connection::log_access(const RequestOutcome& outcome, uint64_t duration_us)
{
    // remote - - [time] "METHOD URI PROTOCOL" status bytes "referer" "user-agent" duration_ms pid protocol
    const Request& r = *pending_;
    std::string line;
    line.reserve(256);
    append_escaped(line, peer_.remote_addr.empty() ? std::string_view("-") : peer_.remote_addr);
    line.append(" - - [").append(format_timestamp(realtime_ns())).append("] \"");
    append_escaped(line, r.param("REQUEST_METHOD"));
    line.push_back(' ');
    std::string_view uri = r.param("REQUEST_URI");
    if (uri.empty()) {
        append_escaped(line, r.param("SCRIPT_NAME"));
        append_escaped(line, r.param("PATH_INFO"));
        if (!r.param("QUERY_STRING").empty()) {
            line.push_back('?');
            append_escaped(line, r.param("QUERY_STRING"));
        }
    } else {
        append_escaped(line, uri);
    }
    line.push_back(' ');
    append_escaped(line, r.param("SERVER_PROTOCOL").empty() ? std::string_view("-") : r.param("SERVER_PROTOCOL"));
    line.append("\" ").append(std::to_string(outcome.status)).push_back(' ');
    line.append(std::to_string(outcome.response_bytes)).append(" \"");
    append_escaped(line, r.param("HTTP_REFERER").empty() ? std::string_view("-") : r.param("HTTP_REFERER"));
    line.append("\" \"");
    append_escaped(line, r.param("HTTP_USER_AGENT").empty() ? std::string_view("-") : r.param("HTTP_USER_AGENT"));
    char tail[96];
    std::snprintf(tail, sizeof tail, "\" %.3f %ld %s\n", static_cast<double>(duration_us) / 1000.0,
                  static_cast<long>(::getpid()), protocol_name(r.protocol));
    line.append(tail);
    AccessLog::write_line(line);
}

} // namespace drover

#include "worker/connection.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/clock.hpp"
#include "base/log.hpp"
#include "worker/access_line.hpp"

namespace drover {

namespace {

/// A connection keeps at most this much buffer capacity between requests;
/// a large request's buffers are released when it ends.
constexpr size_t kKeptCapacity = 16 * 1024;
/// The longest a lingering close goes on, whatever the client keeps sending.
constexpr uint64_t kLingerNs = 5'000'000'000ULL;
/// Copying a file through the codec (chunked framing, no sendfile): this much
/// at a time.
constexpr size_t kFileCopyChunk = 64 * 1024;

uint64_t seconds_ns(double s) { return static_cast<uint64_t>(s * 1e9); }

void release_if_large(std::string& buffer)
{
    if (buffer.capacity() > kKeptCapacity)
        std::string().swap(buffer);
}

bool would_block(const SysError& e) { return e.err == EAGAIN || e.err == EWOULDBLOCK; }

} // namespace

Connection::Connection(UniqueFd fd, std::unique_ptr<Codec> codec, PeerInfo peer, const AppSettings& app)
    : socket_(std::move(fd)), codec_(std::move(codec)), peer_(std::move(peer)), app_(app),
      head_deadline_ns_(monotonic_ns() + seconds_ns(app.header_timeout))
{
}

// ---------------------------------------------------------------- waiting for a request

bool Connection::receive_now(int flags)
{
    bool awaiting = phase_ == Phase::awaiting;
    Result<size_t> n = socket_.receive(in_, flags);
    if (!n) {
        if (would_block(n.error()))
            return true;
        log_debug(n.error().message());
        return false;
    }
    if (*n == 0) {
        peer_closed_ = true;
    } else if (awaiting) {
        // The first bytes of a request: on a kept connection its head's
        // clock starts now (a new one's started at accept).
        phase_ = Phase::receiving;
        if (served_ > 0)
            head_deadline_ns_ = monotonic_ns() + seconds_ns(app_.header_timeout);
    }
    return true;
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
    bool partial = phase_ == Phase::receiving;
    if (partial && !response_.head_sent && codec_->answers_head_timeout()) {
        Output out;
        codec_->write_error(408, out);
        flush(out);
    }
    unread_input_ = partial;
}

Connection::Next Connection::on_readable()
{
    // One read, then parse: a large body streams through the codec in
    // read-sized steps rather than piling up here first.
    if (!receive_now(0))
        return Next::close;
    Next next = parse();
    if (next == Next::wait && peer_closed_)
        return Next::close;
    return next;
}

Connection::Next Connection::parse()
{
    if (phase_ == Phase::ready)
        return Next::serve;
    if (parsed_ < in_.size()) {
        ParseResult r = codec_->feed(std::string_view(in_).substr(parsed_), *this);
        parsed_ += r.consumed;
        if (r.status == ParseStatus::error) {
            unread_input_ = true;
            log_info(protocol_name(codec_->protocol()), " request from ", peer_.remote_addr, " rejected: ", r.error);
            if (r.error_status != 0 && !response_.head_sent) {
                Output out;
                codec_->write_error(r.error_status, out);
                flush(out);
            }
            return Next::close;
        }
    }
    compact_input();
    if (response_.client_gone)
        return Next::close;
    return phase_ == Phase::ready ? Next::serve : Next::wait;
}

void Connection::compact_input()
{
    if (parsed_ == in_.size()) {
        in_.clear();
        parsed_ = 0;
    }
}

void Connection::on_request(Request&& request)
{
    pending_ = std::move(request);
    phase_ = Phase::ready;
    body_ = Body{};
}

void Connection::on_body(std::string_view chunk)
{
    if (body_.pos == body_.buffer.size()) {
        body_.buffer.clear();
        body_.pos = 0;
    }
    body_.buffer.append(chunk);
    body_.bytes += chunk.size();
}

void Connection::on_body_end() { body_.ended = true; }

void Connection::on_abort()
{
    body_.aborted = true;
    body_.error = "request aborted by the frontend";
}

void Connection::on_reply(std::string_view bytes)
{
    Output out;
    out.copy(bytes);
    flush(out);
}

// ---------------------------------------------------------------- I/O during a request

bool Connection::receive_blocking()
{
    Result<size_t> n = socket_.receive_waiting(in_, app_.io_timeout);
    if (n && *n > 0)
        return true;
    if (n)
        peer_closed_ = true;
    body_.error = (!n && n.error().err == ETIMEDOUT) ? "timed out reading the request body"
                                                     : "client closed the connection during the request body";
    return false;
}

bool Connection::flush(Output& out, bool more_follows)
{
    if (response_.client_gone)
        return false;
    Result<void> sent = socket_.send_all(out, more_follows, app_.io_timeout);
    out.clear();
    if (!sent) {
        log_debug(sent.error().message());
        response_.client_gone = true;
        return false;
    }
    return true;
}

void Connection::begin_linger()
{
    phase_ = Phase::lingering;
    linger_until_ns_ = monotonic_ns() + kLingerNs;
    socket_.shutdown_write();
}

bool Connection::discard_input() { return monotonic_ns() <= linger_until_ns_ && socket_.discard_input(); }

// ---------------------------------------------------------------- BodySource

ssize_t Connection::read(char* buffer, size_t size)
{
    std::lock_guard<std::mutex> lock(io_mutex_);
    while (body_.pos == body_.buffer.size()) {
        body_.buffer.clear();
        body_.pos = 0;
        if (body_.aborted)
            return -1;
        if (body_.ended)
            return 0;
        if (parsed_ == in_.size()) {
            compact_input();
            if (!receive_blocking()) {
                broken_ = true;
                return -1;
            }
        }
        ParseResult r = codec_->feed(std::string_view(in_).substr(parsed_), *this);
        parsed_ += r.consumed;
        if (r.status == ParseStatus::error) {
            body_.error = r.error_status == 413 ? std::string(kBodyTooLarge) : r.error;
            broken_ = true;
            // The answer the app (or the bridge) gives now is the last one
            // on this connection: its head should say so.
            codec_->refuse_keep_alive();
            return -1;
        }
    }
    size_t n = std::min(size, body_.buffer.size() - body_.pos);
    std::memcpy(buffer, body_.buffer.data() + body_.pos, n);
    body_.pos += n;
    return static_cast<ssize_t>(n);
}

bool Connection::body_dealt_with() const
{
    if (body_.ended && body_.pos == body_.buffer.size())
        return true;
    // A body the app ignored: only a codec that stays in step by itself may
    // go on without reading it; the others close (draining could hang).
    return codec_->stays_in_step_without_body() && !broken_ && !body_.aborted;
}

// ---------------------------------------------------------------- ResponseWriter

void Connection::start(int status, std::string_view status_line, const HeaderList& headers, int64_t content_length)
{
    std::lock_guard<std::mutex> lock(io_mutex_);
    response_.status = status;
    response_.status_line.assign(status_line);
    response_.headers = headers;
    response_.content_length = content_length;
    response_.started = true;
}

bool Connection::write_head_if_needed(Output& out)
{
    if (response_.head_sent)
        return true;
    if (!response_.started)
        return false;
    ResponseHead head;
    head.status = response_.status;
    head.status_line = response_.status_line;
    head.headers = &response_.headers;
    head.content_length = response_.content_length;
    codec_->write_head(head, out);
    response_.head_sent = true;
    return true;
}

bool Connection::read_peer_records()
{
    // While the app writes nothing else reads the socket, but the peer may
    // have sent what must be acted on now (FastCGI: FCGI_ABORT_REQUEST, a
    // BEGIN_REQUEST to refuse with FCGI_CANT_MPX_CONN): take what has
    // arrived, without waiting. The codec never pauses here, so this cannot
    // start another request.
    if (!broken_ && !peer_closed_) {
        size_t before;
        do {
            before = in_.size();
            if (!receive_now(MSG_DONTWAIT))
                break;
        } while (in_.size() > before && !peer_closed_);
        if (parsed_ < in_.size()) {
            ParseResult r = codec_->feed(std::string_view(in_).substr(parsed_), *this);
            parsed_ += r.consumed;
            if (r.status == ParseStatus::error) {
                log_info(protocol_name(codec_->protocol()), " request from ", peer_.remote_addr, " rejected: ", r.error);
                broken_ = true;
            }
        }
    }
    return !body_.aborted;
}

bool Connection::write(std::string_view data)
{
    std::lock_guard<std::mutex> lock(io_mutex_);
    return write_locked(data);
}

bool Connection::write_locked(std::string_view data)
{
    if (response_.client_gone || body_.aborted)
        return false;
    // Between the chunks of a streamed response (not before the first: a
    // one-write response gains nothing from an extra recv()).
    if (codec_->reads_while_responding() && response_.head_sent && !read_peer_records())
        return false;
    Output out;
    write_head_if_needed(out);
    codec_->write_body(data, out);
    response_.bytes += data.size();
    return flush(out);
}

bool Connection::sendfile(int fd, off_t offset, int64_t count)
{
    std::lock_guard<std::mutex> lock(io_mutex_);
    if (response_.client_gone || body_.aborted)
        return false;
    Output out;
    write_head_if_needed(out);
    if (!codec_->raw_body()) {
        // HEAD sends no body; other framing (chunked) needs the bytes: no
        // zero-copy path.
        if (pending_ && pending_->head)
            return flush(out);
        if (!flush(out))
            return false;
        std::string chunk(kFileCopyChunk, '\0');
        while (count != 0) {
            size_t want = count < 0 ? chunk.size() : std::min<size_t>(chunk.size(), static_cast<size_t>(count));
            ssize_t n = ::pread(fd, chunk.data(), want, offset);
            if (n <= 0) {
                if (count > 0)
                    return file_ended_early(count);
                break;
            }
            offset += n;
            if (count > 0)
                count -= n;
            if (!write_locked(std::string_view(chunk.data(), static_cast<size_t>(n))))
                return false;
        }
        return true;
    }
    if (!flush(out, true))
        return false;
    Result<int64_t> sent = socket_.send_file(fd, offset, count, app_.io_timeout);
    if (!sent) {
        log_debug(sent.error().message());
        response_.client_gone = true;
        return false;
    }
    response_.bytes += static_cast<uint64_t>(*sent);
    if (count > 0 && *sent < count)
        return file_ended_early(count - *sent);
    return true;
}

bool Connection::file_ended_early(int64_t missing)
{
    // The head announced more than the file holds now (it shrank): a short
    // body must not stay on a kept connection, where the client would read
    // the next response as its rest. The connection ends here.
    log_error("the file being sent is ", missing, " bytes shorter than announced; closing the connection");
    response_.client_gone = true;
    return false;
}

bool Connection::finish()
{
    std::lock_guard<std::mutex> lock(io_mutex_);
    if (response_.client_gone)
        return false;
    Output out;
    if (!response_.head_sent && response_.content_length < 0)
        response_.content_length = 0;  // nothing was written: the length is known
    write_head_if_needed(out);
    codec_->write_end(out);
    return flush(out);
}

// ---------------------------------------------------------------- serving

Connection::Next Connection::serve(WsgiBridge& bridge, Slot& slot, bool keep_alive_allowed)
{
    Request& request = *pending_;
    phase_ = Phase::serving;
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
    response_ = Response{};

    RequestOutcome outcome = bridge.handle(request, peer_, *this, *this);
    if (body_.aborted) {
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
    bool body_done = body_dealt_with();
    unread_input_ = !body_done || broken_;
    bool keep = keep_alive_allowed && body_done && !outcome.close_connection && !outcome.client_gone &&
                !response_.client_gone && !broken_ && !body_.aborted && codec_->keep_alive();
    uint64_t duration_us = (monotonic_ns() - start_ns) / 1000;
    slot.counters.record(request.protocol, outcome.status, duration_us, body_.bytes, outcome.response_bytes);
    slot.end_request();
    if (AccessLog::enabled())
        log_access(outcome, duration_us);

    // The next exchange starts with nothing sent: an error in its head is
    // answered (a head sent for this one must not silence it).
    pending_.reset();
    response_ = Response{};
    body_ = Body{};
    compact_input();
    if (in_.empty())
        release_if_large(in_);
    phase_ = in_.empty() ? Phase::awaiting : Phase::receiving;
    if (!keep)
        return Next::close;
    if (phase_ == Phase::receiving)
        head_deadline_ns_ = monotonic_ns() + seconds_ns(app_.header_timeout);
    codec_->resume();
    Next next = parse();
    if (next == Next::wait && peer_closed_)
        return Next::close;
    return next;
}

void Connection::log_access(const RequestOutcome& outcome, uint64_t duration_us)
{
    AccessRecord record;
    record.request = &*pending_;
    // The client, not the web server or proxy in front: what the bridge
    // believed, else the web server's REMOTE_ADDR (FastCGI, SCGI), else
    // the socket's peer.
    record.client = outcome.client;
    if (record.client.empty())
        record.client = pending_->param("REMOTE_ADDR");
    if (record.client.empty())
        record.client = peer_.remote_addr;
    record.status = outcome.status;
    record.response_bytes = outcome.response_bytes;
    record.duration_us = duration_us;
    record.time_ns = realtime_ns();
    record.worker_pid = ::getpid();
    AccessLog::write_line(format_access_line(record));
}

} // namespace drover

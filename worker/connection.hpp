// One client connection of a worker: reads and parses without blocking while
// the worker loop waits, then serves a complete request head with one
// blocking application call (the worker runs one call at a time). During that
// call it is the bridge's BodySource and ResponseWriter.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "ipc/slot.hpp"
#include "base/unique_fd.hpp"
#include "worker/codec.hpp"
#include "worker/python/bridge.hpp"

namespace drover {

class Connection final : public RequestSink, public BodySource, public ResponseWriter {
public:
    Connection(UniqueFd fd, std::unique_ptr<Codec> codec, PeerInfo peer, const AppSettings& app);

    int fd() const { return fd_.get(); }
    Protocol protocol() const { return codec_->protocol(); }

    enum class Next {
        wait,   ///< nothing complete yet (or idle between requests): wait for input
        serve,  ///< a request head is complete: call serve()
        close,  ///< done, or the peer went away, or the input was malformed
    };

    /// Loop side: reads what the socket has without blocking, and parses it.
    Next on_readable();
    /// Serves the pending request. Blocking; returns wait (kept alive, idle),
    /// serve (a pipelined request is complete) or close.
    Next serve(WsgiBridge& bridge, Slot& slot, bool keep_alive_allowed);

    /// A kept connection between requests with nothing buffered: may be
    /// closed or handed over. A new connection still waiting for its first
    /// request is not idle: its client was promised an answer.
    bool idle() const
    {
        return served_ > 0 && !lingering_ && !pending_ && parsed_ == in_.size() && !mid_request_;
    }

    /// How long the loop waits for this connection's next bytes: keepalive
    /// when idle, else what is left of the request head's header_timeout.
    double seconds_to_wait() const;
    /// The head did not arrive in time: answers 408 where the codec can and
    /// bytes of it came (a silent client is closed without a word).
    void time_out_head();

    /// A new connection that has sent nothing yet: it may go to another
    /// worker (through the master), but its client was promised an answer.
    bool fresh() const { return served_ == 0 && !lingering_ && !pending_ && in_.empty() && !mid_request_; }

    /// Closing now could reset the connection under a response the client
    /// has not read yet: it may still be sending a body drover did not read.
    bool should_linger() const { return unread_input_ && !peer_closed_ && !lingering_; }
    /// Lingering close, as nginx does: our side of the stream ends (the
    /// client sees the response and EOF), and what the client still sends is
    /// read and dropped until it stops or a timeout, so the kernel never
    /// answers it with a reset.
    void begin_linger();
    bool lingering() const { return lingering_; }
    /// Reads and drops what arrived; false once the client has closed.
    bool discard_input();

    // RequestSink
    void on_request(Request&& request) override;
    void on_body(std::string_view chunk) override;
    void on_body_end() override;
    void on_abort() override;
    void on_reply(std::string_view bytes) override;

    // BodySource
    ssize_t read(char* buffer, size_t size) override;
    const std::string& error() const override { return body_error_; }
    bool input_terminated() const override { return pending_ && pending_->content_length < 0; }

    // ResponseWriter
    void start(int status, std::string_view status_line, const HeaderList& headers, int64_t content_length) override;
    bool write(std::string_view data) override;
    bool can_sendfile() const override { return codec_->protocol() == Protocol::http; }
    bool sendfile(int fd, off_t offset, int64_t count) override;
    bool finish() override;
    bool head_sent() const override { return head_sent_; }

private:
    /// Feeds unparsed input to the codec and says what follows.
    Next parse();
    /// One recv() appended to the input (EINTR retried); recv's result.
    ssize_t receive(int flags);
    /// Reads more input, waiting up to io_timeout (during a request).
    bool read_blocking();
    bool write_head_if_needed(Output& out);
    /// Writes out completely, waiting up to io_timeout per stall.
    bool flush(Output& out, bool more_follows = false);
    bool wait_for(short events);
    /// FastCGI, while the app writes: takes in what the web server sent
    /// without waiting (FCGI_ABORT_REQUEST, a BEGIN_REQUEST to refuse); false
    /// once the request is aborted.
    bool read_frontend_records();
    /// sendfile() found the end of the file `missing` bytes early.
    bool file_ended_early(int64_t missing);
    /// write() with io_mutex_ held.
    bool write_locked(std::string_view data);
    /// After the app returned: drain an unread body if the protocol needs it.
    bool finish_body();
    void log_access(const RequestOutcome& outcome, uint64_t duration_us);

    UniqueFd fd_;
    /// The app may read wsgi.input in one thread while another writes the
    /// response, both with the GIL released; both feed in_ and the codec
    /// (FastCGI reads the web server's records while it writes). One at a time.
    std::mutex io_mutex_;
    std::unique_ptr<Codec> codec_;
    PeerInfo peer_;
    const AppSettings& app_;

    std::string in_;      // received bytes; [parsed_, size) not yet given to the codec
    size_t parsed_ = 0;
    // The request head must be complete by then, however it trickles in:
    // set at the connection's start and when the next request's first bytes
    // arrive on a kept one.
    uint64_t head_deadline_ns_ = 0;
    bool peer_closed_ = false;
    bool mid_request_ = false;   // the codec has seen part of a request head
    bool broken_ = false;        // parse error or I/O error: close after this request
    uint64_t served_ = 0;        // requests answered on this connection
    bool unread_input_ = false;  // closing with request bytes possibly still on the way
    bool lingering_ = false;
    uint64_t linger_until_ns_ = 0;  // however much the client sends, lingering ends then

    std::optional<Request> pending_;
    std::string body_;    // body bytes parsed but not yet read by the app; [body_pos_, size)
    size_t body_pos_ = 0;
    bool body_end_ = false;
    bool aborted_ = false;
    uint64_t body_bytes_ = 0;
    std::string body_error_;

    // the response in progress
    int status_ = 0;
    std::string status_line_;
    HeaderList headers_;
    int64_t content_length_ = -1;
    bool started_ = false;
    bool head_sent_ = false;
    bool client_gone_ = false;
    uint64_t response_bytes_ = 0;
};

} // namespace drover

// One client connection of a worker: the exchanges of requests and responses
// on it. While the worker loop waits, it reads and parses without blocking;
// a complete request head is then served with one blocking application call
// (the worker runs one call at a time), during which the connection is the
// bridge's BodySource and ResponseWriter.
//
// The socket is a ClientSocket (timed I/O, results not errno); the protocol
// is a Codec, asked (never tested by name) what to do where protocols differ.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "ipc/slot.hpp"
#include "worker/client_socket.hpp"
#include "worker/codec.hpp"
#include "worker/python/bridge.hpp"

namespace drover {

class Connection final : public RequestSink, public BodySource, public ResponseWriter {
public:
    Connection(UniqueFd fd, std::unique_ptr<Codec> codec, PeerInfo peer, const AppSettings& app);

    /// Where the exchange on this connection stands.
    enum class Phase {
        awaiting,   ///< nothing of a request yet: new, or kept between requests
        receiving,  ///< part of a request head has arrived
        ready,      ///< a request head is complete: serve() it
        serving,    ///< inside serve(): the application runs
        lingering,  ///< closing: our side is shut, what the client sends is dropped
    };

    enum class Next {
        wait,   ///< nothing complete yet (or idle between requests): wait for input
        serve,  ///< a request head is complete: call serve()
        close,  ///< done, or the peer went away, or the input was malformed
    };

    int fd() const { return socket_.fd(); }
    Phase phase() const { return phase_; }
    const Codec& codec() const { return *codec_; }

    /// Loop side: reads what the socket has without blocking, and parses it.
    Next on_readable();
    /// Serves the pending request. Blocking; returns wait (kept alive, idle),
    /// serve (a pipelined request is complete) or close.
    Next serve(WsgiBridge& bridge, Slot& slot, bool keep_alive_allowed);

    /// A kept connection between requests with nothing buffered: may be
    /// closed or handed over. A new connection still waiting for its first
    /// request is not idle: its client was promised an answer.
    bool idle() const { return phase_ == Phase::awaiting && served_ > 0 && parsed_ == in_.size(); }
    /// A new connection that has sent nothing yet: it may go to another
    /// worker (through the master), but its client was promised an answer.
    bool fresh() const { return phase_ == Phase::awaiting && served_ == 0 && in_.empty(); }

    /// How long the loop waits for this connection's next bytes: keepalive
    /// when idle, else what is left of the request head's header_timeout.
    double seconds_to_wait() const;
    /// The head did not arrive in time: answers 408 where the codec can and
    /// bytes of it came (a silent client is closed without a word).
    void time_out_head();

    /// Closing now could reset the connection under a response the client
    /// has not read yet: it may still be sending a body drover did not read.
    bool should_linger() const { return unread_input_ && !peer_closed_ && phase_ != Phase::lingering; }
    /// Lingering close, as nginx does: our side of the stream ends (the
    /// client sees the response and EOF), and what the client still sends is
    /// read and dropped until it stops or a timeout, so the kernel never
    /// answers it with a reset.
    void begin_linger();
    bool lingering() const { return phase_ == Phase::lingering; }
    /// Reads and drops what arrived; false once the client has closed or the
    /// lingering time is over.
    bool discard_input();

    // RequestSink
    void on_request(Request&& request) override;
    void on_body(std::string_view chunk) override;
    void on_body_end() override;
    void on_abort() override;
    void on_reply(std::string_view bytes) override;

    // BodySource
    ssize_t read(char* buffer, size_t size) override;
    const std::string& error() const override { return body_.error; }
    bool input_terminated() const override { return pending_ && pending_->content_length < 0; }

    // ResponseWriter
    void start(int status, std::string_view status_line, const HeaderList& headers, int64_t content_length) override;
    bool write(std::string_view data) override;
    bool can_sendfile() const override { return codec_->can_send_files(); }
    bool sendfile(int fd, off_t offset, int64_t count) override;
    bool finish() override;
    bool head_sent() const override { return response_.head_sent; }

private:
    /// The request body as the codec delivers it and the app reads it.
    struct Body {
        std::string buffer;  ///< parsed, not yet read by the app: [pos, size)
        size_t pos = 0;
        bool ended = false;
        bool aborted = false;  ///< the frontend gave up on the request
        uint64_t bytes = 0;
        std::string error;
    };
    /// The response as the app gives it; its head goes out with the first
    /// body bytes or at the end.
    struct Response {
        int status = 0;
        std::string status_line;
        HeaderList headers;
        int64_t content_length = -1;
        bool started = false;
        bool head_sent = false;
        bool client_gone = false;
        uint64_t bytes = 0;
    };

    /// Feeds unparsed input to the codec and says what follows.
    Next parse();
    /// Appends what the socket has (one read) to in_: false on a failed read.
    bool receive_now(int flags);
    /// Reads more input, waiting up to io_timeout (during a request).
    bool receive_blocking();
    /// Drops the parsed prefix of in_.
    void compact_input();
    bool write_head_if_needed(Output& out);
    /// Writes out completely, waiting up to io_timeout per stall.
    bool flush(Output& out, bool more_follows = false);
    /// While the response streams: takes in what the peer sent without
    /// waiting (codec().reads_while_responding()); false once the request is
    /// aborted.
    bool read_peer_records();
    /// After the app returned: is the body dealt with, so the connection
    /// may carry on?
    bool body_dealt_with() const;
    /// sendfile() found the end of the file `missing` bytes early.
    bool file_ended_early(int64_t missing);
    /// write() with io_mutex_ held.
    bool write_locked(std::string_view data);
    void log_access(const RequestOutcome& outcome, uint64_t duration_us);

    ClientSocket socket_;
    /// The app may read wsgi.input in one thread while another writes the
    /// response, both with the GIL released; both feed in_ and the codec
    /// (FastCGI reads the web server's records while it writes). One at a time.
    std::mutex io_mutex_;
    std::unique_ptr<Codec> codec_;
    PeerInfo peer_;
    const AppSettings& app_;

    Phase phase_ = Phase::awaiting;
    std::string in_;      ///< received bytes; [parsed_, size) not yet given to the codec
    size_t parsed_ = 0;
    /// The request head must be complete by then, however it trickles in:
    /// set at the connection's start and when the next request's first bytes
    /// arrive on a kept one.
    uint64_t head_deadline_ns_ = 0;
    uint64_t linger_until_ns_ = 0;  ///< however much the client sends, lingering ends then
    bool peer_closed_ = false;      ///< the client's side of the stream has ended
    bool broken_ = false;           ///< a parse or I/O error: close after this request
    bool unread_input_ = false;     ///< closing with request bytes possibly still on the way
    uint64_t served_ = 0;           ///< requests answered on this connection

    std::optional<Request> pending_;
    Body body_;
    Response response_;
};

} // namespace drover

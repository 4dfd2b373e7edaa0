// One client's socket as a connection uses it: non-blocking, with reads that
// append what arrived, timed waits, vectored writes, sendfile(2) and the
// half-close of a lingering close. Every call returns a result; nothing is
// left in errno for the caller to find.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "worker/codec.hpp"

namespace drover {

class ClientSocket {
public:
    explicit ClientSocket(UniqueFd fd) : fd_(std::move(fd)) {}

    int fd() const { return fd_.get(); }

    /// One recv() (EINTR retried), appended to `into`: the byte count, 0
    /// when the peer has closed, or the error (EAGAIN when nothing is there).
    /// Bytes go through a stack buffer, so `into` grows by what arrived only.
    Result<size_t> receive(std::string& into, int flags = 0);
    /// receive(), waiting up to `timeout` seconds (0: for ever) for bytes to
    /// come; ETIMEDOUT once it passes.
    Result<size_t> receive_waiting(std::string& into, double timeout);
    /// Waits up to `timeout` seconds (0: for ever) for poll() events.
    Result<void> wait(short events, double timeout);
    /// Sends every byte of `out`, waiting up to `timeout` per stall. `more`:
    /// more follows at once (MSG_MORE), as before a sendfile().
    Result<void> send_all(const Output& out, bool more, double timeout);
    /// sendfile(2) of `count` bytes of `file` from `offset` (count < 0: to
    /// its end), waiting up to `timeout` per stall: the bytes sent, fewer
    /// than count only when the file ended first.
    Result<int64_t> send_file(int file, off_t offset, int64_t count, double timeout);
    /// Our side of the stream ends; what the peer still sends can be read.
    void shutdown_write();
    /// Reads and drops what has arrived: false once the peer has closed (or
    /// the socket failed), true while it may send more.
    bool discard_input();

private:
    UniqueFd fd_;
};

} // namespace drover

// Passing one connection fd between processes over a unix datagram socket
// (SCM_RIGHTS), with a one-byte tag that says which protocol it speaks.
#pragma once

#include <cstdint>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace drover {

/// Tag bit of a passed connection that has not sent its first request yet
/// (the low bits name its listener).
inline constexpr uint8_t kPassedFresh = 0x80;

struct PassedFd {
    UniqueFd fd;
    uint8_t tag = 0;
};

/// Sends fd (the caller keeps its own copy and closes it). Non-blocking when
/// the socket is; EAGAIN is returned as an error.
Result<void> send_fd(int socket, int fd, uint8_t tag);
/// Receives one fd without blocking; EAGAIN when none is queued.
Result<PassedFd> receive_fd(int socket);

} // namespace drover

// The access log line of one request, as a pure function of what was asked
// and answered (no clock, no process lookups), so it is tested on its own.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "worker/request.hpp"

namespace drover {

struct AccessRecord {
    const Request* request = nullptr;
    std::string_view client;   ///< the client's address, "" when unknown
    int status = 0;
    uint64_t response_bytes = 0;
    uint64_t duration_us = 0;
    int64_t time_ns = 0;       ///< CLOCK_REALTIME when the request ended
    pid_t worker_pid = 0;
};

/// `CLIENT - - [TIME] "METHOD URI PROTOCOL" STATUS BYTES "REFERER"
/// "USER-AGENT" DURATION_MS WORKER_PID PROTOCOL\n`, combined-like. Quotes,
/// backslashes and control or non-ASCII bytes in client-supplied fields are
/// written as \xHH, so a client cannot forge a line.
std::string format_access_line(const AccessRecord& record);

} // namespace drover

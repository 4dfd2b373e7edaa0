#include "supervisor/sd_notify.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstring>
#include <string>

#include "base/log.hpp"

namespace drover::notify {

namespace {

/// sd_notify() with the first failure of each kind of message logged: a
/// full or vanished notify socket must not flood the log from every tick.
bool send(const std::string& message, const char* what, bool& warned)
{
    int rc = sd_notify(0, message.c_str());
    if (rc < 0) {
        if (!warned)
            log_warning("sd_notify(", what, ") failed: ", std::strerror(-rc));
        warned = true;
        return false;
    }
    return rc > 0;
}

} // namespace

bool ready()
{
    static bool warned = false;
    return send("READY=1", "READY=1", warned);
}

bool reloading(uint64_t monotonic_usec)
{
    static bool warned = false;
    return send(cat("RELOADING=1\nMONOTONIC_USEC=", monotonic_usec), "RELOADING=1", warned);
}

bool reloading()
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
    return reloading(usec);
}

bool stopping()
{
    static bool warned = false;
    return send("STOPPING=1", "STOPPING=1", warned);
}

bool status(std::string_view text)
{
    std::string line(text);
    for (char& c : line)
        if (c == '\n' || c == '\r')
            c = ' ';
    static bool warned = false;
    return send("STATUS=" + line, "STATUS=", warned);
}

bool watchdog()
{
    static bool warned = false;
    return send("WATCHDOG=1", "WATCHDOG=1", warned);
}

std::optional<std::chrono::microseconds> watchdog_interval()
{
    uint64_t usec = 0;
    int rc = sd_watchdog_enabled(0, &usec);
    if (rc < 0) {
        log_warning("sd_watchdog_enabled() failed: ", std::strerror(-rc), "; no watchdog pings");
        return std::nullopt;
    }
    if (rc == 0 || usec == 0)
        return std::nullopt;
    return std::chrono::microseconds(usec / 2);
}

bool store_listener(Listener& listener)
{
    int fd = listener.fd.get();
    int rc = sd_pid_notify_with_fds(0, 0, cat("FDSTORE=1\nFDNAME=", listener.fd_name).c_str(), &fd, 1);
    if (rc < 0) {
        log_warning("sd_notify(FDSTORE=1) of ", listener.spec.text, " failed: ", std::strerror(-rc));
        return false;
    }
    if (rc > 0)
        listener.in_fd_store = true;
    return rc > 0;
}

} // namespace drover::notify

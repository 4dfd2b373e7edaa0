// The error log and the access log, shared by the master and its workers.
//
// The error log is always fd 2: a configured file is opened and dup2()'d onto
// it, so output the application writes to stderr lands in the same place, and
// every process reopens it for itself on SIGUSR1 (logrotate). Lines are
// formatted whole and written with one write() on an O_APPEND file, so lines
// from several processes never interleave.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace drover {

enum class LogLevel { debug, info, warning, error };

/// Parses "debug", "info", "warning", "error"; false when unknown.
bool parse_log_level(std::string_view text, LogLevel& out);

namespace detail {
inline void append(std::string& out, std::string_view s) { out.append(s); }
inline void append(std::string& out, const char* s) { out.append(s); }
inline void append(std::string& out, const std::string& s) { out.append(s); }
inline void append(std::string& out, char c) { out.push_back(c); }
void append(std::string& out, double v);
template <typename T>
    requires std::is_integral_v<T>
void append(std::string& out, T v)
{
    out.append(std::to_string(v));
}
} // namespace detail

/// Concatenates strings and numbers: cat("worker ", pid, " exited").
template <typename... Args>
std::string cat(const Args&... args)
{
    std::string out;
    (detail::append(out, args), ...);
    return out;
}

class ErrorLog {
public:
    /// Sets the error log target ("-" is stderr as inherited), the minimum
    /// level and this process's role ("master", "worker").
    /// Throws std::runtime_error when the file cannot be opened.
    static void configure(const std::string& path, LogLevel level);
    static void set_role(std::string_view role);
    /// Reopens the file after rotation; keeps the old one on failure.
    static void reopen();
    static bool enabled(LogLevel level);
    static void write(LogLevel level, std::string_view message);
};

template <typename... Args>
void log_debug(const Args&... args)
{
    if (ErrorLog::enabled(LogLevel::debug))
        ErrorLog::write(LogLevel::debug, cat(args...));
}
template <typename... Args>
void log_info(const Args&... args)
{
    if (ErrorLog::enabled(LogLevel::info))
        ErrorLog::write(LogLevel::info, cat(args...));
}
template <typename... Args>
void log_warning(const Args&... args)
{
    ErrorLog::write(LogLevel::warning, cat(args...));
}
template <typename... Args>
void log_error(const Args&... args)
{
    ErrorLog::write(LogLevel::error, cat(args...));
}

/// The access log: off (""), "-" for stdout, or a file. One line per request
/// written by the worker that served it.
class AccessLog {
public:
    static void configure(const std::string& path);
    static void reopen();
    static bool enabled();
    static void write_line(std::string_view line);
};

/// One log line at most every `interval` seconds for a failure that repeats
/// as fast as the loop turns (accept() out of descriptors, a peer sending
/// garbage): a disk must not fill because anyone can open connections.
class LogThrottle {
public:
    explicit LogThrottle(double interval_seconds = 60.0) : interval_(interval_seconds) {}
    /// True when a line may be written now (monotonic seconds); the failures
    /// not logged since the last line are then in suppressed().
    bool allow(double now)
    {
        if (logged_once_ && now - last_ < interval_) {
            ++pending_;
            return false;
        }
        suppressed_ = pending_;
        pending_ = 0;
        last_ = now;
        logged_once_ = true;
        return true;
    }
    uint64_t suppressed() const { return suppressed_; }

private:
    double interval_;
    double last_ = 0;
    bool logged_once_ = false;
    uint64_t pending_ = 0;
    uint64_t suppressed_ = 0;
};

/// "2026-11-26T10:02:22.123Z" for the given wall-clock time in nanoseconds.
std::string format_timestamp(int64_t unix_ns);

} // namespace drover

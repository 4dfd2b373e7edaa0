#include "base/log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "base/clock.hpp"
#include "base/unique_fd.hpp"

namespace drover {

namespace {

struct ErrorLogState {
    std::string path = "-";
    LogLevel level = LogLevel::info;
    std::string role = "master";
    /// stderr is systemd's journal: lines carry a syslog priority prefix
    /// ("<3>") and no timestamp of their own (the journal adds it).
    bool journal = false;
};

/// JOURNAL_STREAM is "DEV:INODE" of the stream systemd connected to stdout
/// and stderr; it counts only while fd 2 is still that stream.
bool stderr_is_journal()
{
    const char* stream = std::getenv("JOURNAL_STREAM");
    struct stat st;
    if (!stream || ::fstat(STDERR_FILENO, &st) != 0)
        return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2)
        return false;
    return static_cast<unsigned long long>(st.st_dev) == dev && static_cast<unsigned long long>(st.st_ino) == ino;
}

int syslog_priority(LogLevel level)
{
    switch (level) {
    case LogLevel::debug: return 7;
    case LogLevel::info: return 6;
    case LogLevel::warning: return 4;
    case LogLevel::error: return 3;
    }
    return 6;
}

ErrorLogState& error_state()
{
    static ErrorLogState state;
    return state;
}

struct AccessLogState {
    std::string path;  // "" is off
    int fd = -1;       // stdout, or owned_fd
    UniqueFd owned_fd;
};

AccessLogState& access_state()
{
    static AccessLogState state;
    return state;
}

int open_log_file(const std::string& path)
{
    return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

void write_all(int fd, std::string_view data)
{
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;  // nowhere left to report a failing log
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
}

const char* level_name(LogLevel level)
{
    switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
    }
    return "?";
}

} // namespace

void detail::append(std::string& out, double v)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    out.append(buf);
}

bool parse_log_level(std::string_view text, LogLevel& out)
{
    for (LogLevel l : {LogLevel::debug, LogLevel::info, LogLevel::warning, LogLevel::error}) {
        if (text == level_name(l)) {
            out = l;
            return true;
        }
    }
    return false;
}

std::string format_timestamp(int64_t unix_ns)
{
    time_t secs = static_cast<time_t>(unix_ns / 1000000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>((unix_ns / 1000000) % 1000));
    return buf;
}

void ErrorLog::configure(const std::string& path, LogLevel level)
{
    ErrorLogState& s = error_state();
    s.level = level;
    if (path != "-" && !path.empty()) {
        UniqueFd fd(open_log_file(path));
        if (!fd)
            throw std::runtime_error("cannot open error log " + path + ": " + std::strerror(errno));
        if (::dup2(fd.get(), STDERR_FILENO) < 0)
            throw std::runtime_error("dup2(error log) failed: " + std::string(std::strerror(errno)));
    }
    s.path = path;
    s.journal = stderr_is_journal();
}

void ErrorLog::set_role(std::string_view role) { error_state().role = std::string(role); }

void ErrorLog::reopen()
{
    ErrorLogState& s = error_state();
    if (s.path == "-" || s.path.empty())
        return;
    UniqueFd fd(open_log_file(s.path));
    if (!fd) {
        log_error("reopening error log ", s.path, ": ", std::strerror(errno));
        return;
    }
    ::dup2(fd.get(), STDERR_FILENO);
}

bool ErrorLog::enabled(LogLevel level) { return level >= error_state().level; }

void ErrorLog::write(LogLevel level, std::string_view message)
{
    ErrorLogState& s = error_state();
    if (level < s.level)
        return;
    std::string line = s.journal ? cat("<", syslog_priority(level), ">") : format_timestamp(realtime_ns()) + " ";
    line += cat("[", static_cast<long>(::getpid()), "] ", level_name(level), ": ", s.role, ": ");
    line.append(message);
    if (line.back() != '\n')
        line.push_back('\n');
    write_all(STDERR_FILENO, line);
}

void AccessLog::configure(const std::string& path)
{
    AccessLogState& s = access_state();
    s.owned_fd.reset();
    s.fd = -1;
    s.path = path;
    if (path.empty())
        return;
    if (path == "-") {
        s.fd = STDOUT_FILENO;
        return;
    }
    s.owned_fd.reset(open_log_file(path));
    if (!s.owned_fd)
        throw std::runtime_error("cannot open access log " + path + ": " + std::strerror(errno));
    s.fd = s.owned_fd.get();
}

void AccessLog::reopen()
{
    AccessLogState& s = access_state();
    if (s.path.empty() || s.path == "-")
        return;
    UniqueFd fd(open_log_file(s.path));
    if (!fd) {
        log_error("reopening access log ", s.path, ": ", std::strerror(errno));
        return;
    }
    s.owned_fd = std::move(fd);
    s.fd = s.owned_fd.get();
}

bool AccessLog::enabled() { return access_state().fd >= 0; }

void AccessLog::write_line(std::string_view line)
{
    AccessLogState& s = access_state();
    if (s.fd >= 0)
        write_all(s.fd, line);
}

} // namespace drover

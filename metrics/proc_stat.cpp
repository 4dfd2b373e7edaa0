#include "metrics/proc_stat.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>

#include "base/unique_fd.hpp"

namespace drover {

namespace {

struct DirClose {
    void operator()(DIR* dir) const noexcept { ::closedir(dir); }
};
struct FileClose {
    void operator()(FILE* file) const noexcept { std::fclose(file); }
};

/// Reads a small /proc file whole into buf; returns the length or 0.
size_t read_small_file(const char* path, char* buf, size_t size) noexcept
{
    UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
    if (!fd)
        return 0;
    size_t used = 0;
    while (used < size) {
        ssize_t n = ::read(fd.get(), buf + used, size - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += static_cast<size_t>(n);
    }
    return used;
}

bool read_proc_stat_path(const char* path, ProcStat& out) noexcept
{
    // The line is about 300 bytes; the command name is at most 64.
    char buf[1024];
    size_t n = read_small_file(path, buf, sizeof buf);
    return n > 0 && parse_proc_stat(std::string_view(buf, n), out);
}

} // namespace

double ProcStat::cpu_seconds() const
{
    return static_cast<double>(utime_ticks + stime_ticks) / static_cast<double>(clock_ticks_per_second());
}

uint64_t ProcStat::rss_bytes() const { return rss_pages * static_cast<uint64_t>(page_size_bytes()); }

double ProcStat::start_time_unix() const
{
    return boot_time_unix() + static_cast<double>(starttime_ticks) / static_cast<double>(clock_ticks_per_second());
}

bool parse_proc_stat(std::string_view text, ProcStat& out) noexcept
{
    size_t close = text.rfind(')');
    if (close == std::string_view::npos)
        return false;
    const char* p = text.data() + close + 1;
    const char* end = text.data() + text.size();
    // Field numbers as in proc(5); the token after ')' is field 3 (state).
    constexpr int kUtime = 14, kStime = 15, kStarttime = 22, kVsize = 23, kRss = 24;
    int found = 0;
    for (int field = 3; field <= kRss; ++field) {
        while (p < end && *p == ' ')
            ++p;
        const char* token = p;
        while (p < end && *p != ' ' && *p != '\n')
            ++p;
        if (token == p)
            return false;
        uint64_t* target = nullptr;
        switch (field) {
        case kUtime: target = &out.utime_ticks; break;
        case kStime: target = &out.stime_ticks; break;
        case kStarttime: target = &out.starttime_ticks; break;
        case kVsize: target = &out.vsize_bytes; break;
        case kRss: target = &out.rss_pages; break;
        default: continue;
        }
        // rss is a signed long in the kernel; a negative value never occurs
        // in practice and fails the parse rather than wrapping.
        auto r = std::from_chars(token, p, *target);
        if (r.ec != std::errc() || r.ptr != p)
            return false;
        ++found;
    }
    return found == 5;
}

bool read_proc_stat(pid_t pid, ProcStat& out) noexcept
{
    char path[32];
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    return read_proc_stat_path(path, out);
}

bool read_self_proc_stat(ProcStat& out) noexcept { return read_proc_stat_path("/proc/self/stat", out); }

int64_t count_open_fds() noexcept
{
    std::unique_ptr<DIR, DirClose> dir(::opendir("/proc/self/fd"));
    if (!dir)
        return -1;
    int64_t count = 0;
    while (const dirent* entry = ::readdir(dir.get())) {
        if (entry->d_name[0] != '.')
            ++count;
    }
    return count > 0 ? count - 1 : 0;  // the directory's own fd
}

int64_t max_open_fds() noexcept
{
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return -1;
    return limit.rlim_cur == RLIM_INFINITY ? -1 : static_cast<int64_t>(limit.rlim_cur);
}

long clock_ticks_per_second() noexcept
{
    static const long ticks = [] {
        long t = ::sysconf(_SC_CLK_TCK);
        return t > 0 ? t : 100;
    }();
    return ticks;
}

long page_size_bytes() noexcept
{
    static const long size = [] {
        long s = ::sysconf(_SC_PAGESIZE);
        return s > 0 ? s : 4096;
    }();
    return size;
}

double boot_time_unix() noexcept
{
    static const double btime = [] {
        // /proc/stat grows with the CPU count; btime follows the per-CPU and
        // interrupt lines, so scan it line by line rather than into a buffer.
        std::unique_ptr<FILE, FileClose> f(std::fopen("/proc/stat", "re"));
        if (!f)
            return 0.0;
        char line[4096];
        double value = 0;
        while (std::fgets(line, sizeof line, f.get()) != nullptr) {
            unsigned long long v = 0;
            if (std::strncmp(line, "btime ", 6) == 0 && std::sscanf(line + 6, "%llu", &v) == 1) {
                value = static_cast<double>(v);
                break;
            }
        }
        return value;
    }();
    return btime;
}

} // namespace drover

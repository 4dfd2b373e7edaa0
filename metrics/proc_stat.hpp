// What /proc says about one process: CPU time, memory, start time, open fds.
// Read on every scrape for the master and each live worker, so a read is one
// open/read/close into a stack buffer and no allocation.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string_view>

namespace drover {

/// The fields of /proc/PID/stat that metrics use, in the kernel's units.
struct ProcStat {
    uint64_t utime_ticks = 0;
    uint64_t stime_ticks = 0;
    uint64_t starttime_ticks = 0;  ///< since boot
    uint64_t vsize_bytes = 0;
    uint64_t rss_pages = 0;

    double cpu_seconds() const;
    uint64_t rss_bytes() const;
    /// Wall-clock start time: boot time + starttime.
    double start_time_unix() const;
};

/// Parses the text of /proc/PID/stat. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted from its last ')'.
bool parse_proc_stat(std::string_view text, ProcStat& out) noexcept;

/// Reads /proc/PID/stat; false when the process is gone or unreadable.
bool read_proc_stat(pid_t pid, ProcStat& out) noexcept;
/// Reads /proc/self/stat.
bool read_self_proc_stat(ProcStat& out) noexcept;

/// Entries in /proc/self/fd, not counting the one opendir() itself uses;
/// -1 when unreadable.
int64_t count_open_fds() noexcept;
/// The soft RLIMIT_NOFILE, or -1.
int64_t max_open_fds() noexcept;

long clock_ticks_per_second() noexcept;
long page_size_bytes() noexcept;
/// "btime" of /proc/stat (wall-clock seconds at boot); read once and cached.
double boot_time_unix() noexcept;

} // namespace drover

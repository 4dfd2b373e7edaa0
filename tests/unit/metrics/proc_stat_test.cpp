#include "metrics/proc_stat.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <string>

#include "base/unique_fd.hpp"

namespace drover {
namespace {

/// A /proc/PID/stat line with field N (from 3) holding 1000 + N, except the
/// ones a test sets.
std::string stat_line(std::string_view comm)
{
    std::string line = "4242 (" + std::string(comm) + ")";
    for (int field = 3; field <= 52; ++field) {
        line += ' ';
        line += field == 3 ? std::string("S") : std::to_string(1000 + field);
    }
    line += '\n';
    return line;
}

TEST(ProcStat, ParsesTheFieldsAfterTheCommandName)
{
    ProcStat s;
    ASSERT_TRUE(parse_proc_stat(stat_line("python3"), s));
    EXPECT_EQ(s.utime_ticks, 1014u);
    EXPECT_EQ(s.stime_ticks, 1015u);
    EXPECT_EQ(s.starttime_ticks, 1022u);
    EXPECT_EQ(s.vsize_bytes, 1023u);
    EXPECT_EQ(s.rss_pages, 1024u);
}

TEST(ProcStat, CommandNameWithSpacesAndParenthesesDoesNotShiftFields)
{
    ProcStat s;
    ASSERT_TRUE(parse_proc_stat(stat_line("a) (b c) 1 2"), s));
    EXPECT_EQ(s.utime_ticks, 1014u);
    EXPECT_EQ(s.rss_pages, 1024u);
}

TEST(ProcStat, RejectsTruncatedOrMalformedText)
{
    ProcStat s;
    EXPECT_FALSE(parse_proc_stat("", s));
    EXPECT_FALSE(parse_proc_stat("4242 (x S 1 2 3", s));
    std::string line = stat_line("x");
    EXPECT_FALSE(parse_proc_stat(line.substr(0, line.size() / 3), s));
    std::string bad = stat_line("x");
    bad.replace(bad.find("1014"), 4, "10x4");
    EXPECT_FALSE(parse_proc_stat(bad, s));
}

TEST(ProcStat, ConvertsTicksAndPages)
{
    ProcStat s;
    s.utime_ticks = static_cast<uint64_t>(clock_ticks_per_second()) * 3;
    s.stime_ticks = static_cast<uint64_t>(clock_ticks_per_second()) / 2;
    s.rss_pages = 10;
    EXPECT_DOUBLE_EQ(s.cpu_seconds(), 3.5);
    EXPECT_EQ(s.rss_bytes(), 10u * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)));
}

TEST(ProcStat, ReadsThisProcess)
{
    ProcStat self;
    ASSERT_TRUE(read_self_proc_stat(self));
    EXPECT_GT(self.rss_bytes(), 0u);
    EXPECT_GT(self.vsize_bytes, self.rss_bytes());
    double now = static_cast<double>(::time(nullptr));
    EXPECT_GT(boot_time_unix(), 1e9);
    EXPECT_LE(self.start_time_unix(), now + 1);
    EXPECT_GE(self.start_time_unix(), boot_time_unix());

    ProcStat by_pid;
    ASSERT_TRUE(read_proc_stat(::getpid(), by_pid));
    EXPECT_EQ(by_pid.starttime_ticks, self.starttime_ticks);
}

TEST(ProcStat, AGoneProcessReadsAsFalse)
{
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0)
        ::_exit(0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ProcStat s;
    EXPECT_FALSE(read_proc_stat(child, s));
}

TEST(ProcStat, CountsOpenFds)
{
    int64_t before = count_open_fds();
    ASSERT_GT(before, 0);
    UniqueFd extra(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(extra);
    EXPECT_EQ(count_open_fds(), before + 1);
    EXPECT_GE(max_open_fds(), before + 1);
}

} // namespace
} // namespace drover

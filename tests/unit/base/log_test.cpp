// The error and access logs. Each case that points fd 2 somewhere runs in a
// child process, so the test program's own stderr is left alone.
#include "base/log.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>

namespace drover {
namespace {

std::string read_file(const std::string& path)
{
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

/// Runs body in a child; true when it exited 0 (body returns false to fail).
bool in_child(const std::function<bool()>& body)
{
    pid_t pid = ::fork();
    if (pid == 0)
        _exit(body() ? 0 : 1);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

class LogTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        char tmpl[] = "/tmp/drover-log-test-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string path(const char* name) const { return dir_ + "/" + name; }
    std::string dir_;
};

TEST(LogFormat, TimestampsAreUtcWithMilliseconds)
{
    EXPECT_EQ(format_timestamp(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(format_timestamp(1795602531452999999LL), "2026-11-25T10:28:51.452Z");
}

TEST(LogFormat, LevelsParse)
{
    LogLevel l = LogLevel::info;
    EXPECT_TRUE(parse_log_level("warning", l));
    EXPECT_EQ(l, LogLevel::warning);
    EXPECT_FALSE(parse_log_level("verbose", l));
    EXPECT_EQ(l, LogLevel::warning);
}

TEST(LogFormat, CatJoinsTextAndNumbers)
{
    EXPECT_EQ(cat("worker ", 42, " after ", 1.5, " s", ','), "worker 42 after 1.500 s,");
}

TEST(LogThrottle, OneLineAnIntervalWithTheCountOfTheRest)
{
    LogThrottle t(60.0);
    EXPECT_TRUE(t.allow(100.0));
    EXPECT_EQ(t.suppressed(), 0u);
    for (int i = 0; i < 1000; ++i)
        EXPECT_FALSE(t.allow(100.0 + i * 0.05));
    EXPECT_TRUE(t.allow(160.0));
    EXPECT_EQ(t.suppressed(), 1000u);
    EXPECT_FALSE(t.allow(161.0));
    EXPECT_TRUE(t.allow(500.0));
    EXPECT_EQ(t.suppressed(), 1u);
}

TEST_F(LogTest, LinesCarryTimePidLevelAndRoleAndHonourTheLevel)
{
    std::string file = path("error.log");
    ASSERT_TRUE(in_child([&] {
        ErrorLog::configure(file, LogLevel::info);
        ErrorLog::set_role("worker");
        log_debug("not shown");
        log_info("shown ", 1);
        log_error("an error");
        return true;
    }));
    std::string text = read_file(file);
    std::regex line(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[\d+\] (info|error): worker: (shown 1|an error)\n)");
    std::sregex_iterator it(text.begin(), text.end(), line), end;
    EXPECT_EQ(std::distance(it, end), 2) << text;
    EXPECT_EQ(text.find("not shown"), std::string::npos);
}

TEST_F(LogTest, ReopenFollowsARotatedFile)
{
    std::string file = path("error.log");
    ASSERT_TRUE(in_child([&] {
        ErrorLog::configure(file, LogLevel::info);
        log_info("before rotation");
        std::filesystem::rename(file, file + ".1");
        log_info("still to the old file");
        ErrorLog::reopen();
        log_info("after reopen");
        return true;
    }));
    EXPECT_NE(read_file(file + ".1").find("still to the old file"), std::string::npos);
    std::string now = read_file(file);
    EXPECT_NE(now.find("after reopen"), std::string::npos);
    EXPECT_EQ(now.find("before rotation"), std::string::npos);
}

TEST_F(LogTest, UnderTheJournalLinesCarryASyslogPriorityAndNoTimestamp)
{
    std::string file = path("journal");
    ASSERT_TRUE(in_child([&] {
        int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ::dup2(fd, STDERR_FILENO);
        struct stat st;
        ::fstat(STDERR_FILENO, &st);
        std::string stream = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
        ::setenv("JOURNAL_STREAM", stream.c_str(), 1);
        ErrorLog::configure("-", LogLevel::debug);
        log_error("bad");
        log_warning("odd");
        log_info("fine");
        log_debug("detail");
        return true;
    }));
    std::string text = read_file(file);
    EXPECT_TRUE(std::regex_search(text, std::regex(R"(^<3>\[\d+\] error: master: bad\n<4>\[\d+\] warning: master: odd\n)"
                                                   R"(<6>\[\d+\] info: master: fine\n<7>\[\d+\] debug: master: detail\n$)")))
        << text;
}

TEST_F(LogTest, AJournalStreamThatIsNotStderrIsIgnored)
{
    std::string file = path("plain");
    ASSERT_TRUE(in_child([&] {
        int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ::dup2(fd, STDERR_FILENO);
        ::setenv("JOURNAL_STREAM", "1:2", 1);  // inherited from a parent whose stderr it was
        ErrorLog::configure("-", LogLevel::info);
        log_info("plain");
        return true;
    }));
    EXPECT_EQ(read_file(file).find('<'), std::string::npos);
}

TEST_F(LogTest, TheAccessLogWritesWholeLinesAndReopens)
{
    std::string file = path("access.log");
    ASSERT_TRUE(in_child([&] {
        AccessLog::configure(file);
        if (!AccessLog::enabled())
            return false;
        AccessLog::write_line("one\n");
        std::filesystem::rename(file, file + ".1");
        AccessLog::reopen();
        AccessLog::write_line("two\n");
        AccessLog::configure("");
        return !AccessLog::enabled();
    }));
    EXPECT_EQ(read_file(file + ".1"), "one\n");
    EXPECT_EQ(read_file(file), "two\n");
}

TEST_F(LogTest, AnUnopenableLogIsAClearError)
{
    try {
        AccessLog::configure(path("no/such/dir/access.log"));
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot open access log"), std::string::npos) << e.what();
    }
}

} // namespace
} // namespace drover

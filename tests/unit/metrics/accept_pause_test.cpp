#include "metrics/accept_pause.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "base/unique_fd.hpp"

namespace drover {
namespace {

struct Outcome {
    uint64_t pauses = 0;
    int accepted = 0;
    std::string log;
};

void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* accepted)
{
    ::close(fd);
    ++*static_cast<int*>(accepted);
}

/// In a forked child with a lowered fd limit: a listener with two clients
/// waiting while every fd is taken, its loop run for `starve_ms`; then fds
/// are freed and the loop runs until both are accepted (at most 2 s).
Outcome starve(AcceptPause::Options options, int starve_ms)
{
    Outcome out;
    char log_path[] = "/tmp/drover-accept-pause-XXXXXX";
    UniqueFd log(::mkstemp(log_path));
    ::unlink(log_path);
    ::dup2(log.get(), 2);  // the error log

    std::unique_ptr<event_base, void (*)(event_base*)> base(event_base_new(), event_base_free);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::unique_ptr<evconnlistener, void (*)(evconnlistener*)> listener(
        evconnlistener_new_bind(base.get(), &on_accept, &out.accepted, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                16, reinterpret_cast<sockaddr*>(&addr), sizeof addr),
        evconnlistener_free);
    socklen_t len = sizeof addr;
    ::getsockname(evconnlistener_get_fd(listener.get()), reinterpret_cast<sockaddr*>(&addr), &len);
    AcceptPause pause(listener.get(), "test listener", options);

    std::vector<UniqueFd> fds;
    for (int i = 0; i < 2; ++i) {
        UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        ::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        fds.push_back(std::move(c));
    }
    rlimit limit{64, 64};
    ::setrlimit(RLIMIT_NOFILE, &limit);
    std::vector<UniqueFd> filler;
    for (UniqueFd fd; (fd = UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC)));)
        filler.push_back(std::move(fd));

    timeval t{starve_ms / 1000, (starve_ms % 1000) * 1000};
    event_base_loopexit(base.get(), &t);
    event_base_dispatch(base.get());
    out.pauses = pause.pauses();

    filler.clear();
    for (int i = 0; i < 200 && out.accepted < 2; ++i) {
        timeval step{0, 10'000};
        event_base_loopexit(base.get(), &step);
        event_base_dispatch(base.get());
    }
    out.log.resize(1 << 16);
    ssize_t n = ::pread(log.get(), out.log.data(), out.log.size(), 0);
    out.log.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return out;
}

/// Runs starve() in a child and reads its outcome back.
Outcome starve_in_child(AcceptPause::Options options, int starve_ms)
{
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0)
        return {};
    UniqueFd read_end(pipefd[0]), write_end(pipefd[1]);
    pid_t pid = ::fork();
    if (pid == 0) {
        read_end.reset();
        Outcome o = starve(options, starve_ms);
        std::string text = std::to_string(o.pauses) + " " + std::to_string(o.accepted) + "\n" + o.log;
        ssize_t ignored = ::write(write_end.get(), text.data(), text.size());
        (void)ignored;
        ::_exit(0);
    }
    write_end.reset();
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(read_end.get(), buf, sizeof buf)) > 0)
        text.append(buf, static_cast<size_t>(n));
    ::waitpid(pid, nullptr, 0);
    Outcome o;
    unsigned long long pauses = 0;
    if (std::sscanf(text.c_str(), "%llu %d", &pauses, &o.accepted) != 2)
        return o;
    o.pauses = pauses;
    o.log = text.substr(text.find('\n') + 1);
    return o;
}

size_t lines_of(const std::string& text)
{
    size_t n = 0;
    for (char c : text)
        n += c == '\n' ? 1 : 0;
    return n;
}

TEST(AcceptPause, PausesForTheGivenTimeAndLogsOnce)
{
    Outcome o = starve_in_child({0.05, 60}, 500);
    // One accept attempt per 50 ms pause: about ten in half a second, not millions.
    EXPECT_GE(o.pauses, 4u) << o.log;
    EXPECT_LE(o.pauses, 11u) << o.log;
    EXPECT_EQ(lines_of(o.log), 1u) << o.log;
    EXPECT_NE(o.log.find("test listener: accept() failed: Too many open files; not accepting for 0.050 s"),
              std::string::npos)
        << o.log;
    EXPECT_EQ(o.accepted, 2) << "the waiting connections are accepted once fds are free";
}

TEST(AcceptPause, LaterMessagesCountThePausesInBetween)
{
    Outcome o = starve_in_child({0.02, 0.15}, 500);
    // A message at the first pause, then one per 0.15 s interval.
    EXPECT_GE(lines_of(o.log), 2u) << o.log;
    EXPECT_LE(lines_of(o.log), 5u) << o.log;
    EXPECT_NE(o.log.find(" more pauses since the last message)"), std::string::npos) << o.log;
    EXPECT_EQ(o.accepted, 2);
}

} // namespace
} // namespace drover

#include "metrics/server.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ipc/scoreboard.hpp"
#include "base/unique_fd.hpp"

namespace drover {
namespace {

class FakeSource : public PoolStateSource {
public:
    PoolState pool_state() const override { return state; }
    PoolState state;
};

/// Records what /drain asks and, as the master's tick would, applies it to
/// the source's state.
class FakeControl : public PoolControl {
public:
    explicit FakeControl(FakeSource& source) : source_(source) {}
    bool request_drain(bool drain, const char* source) override
    {
        asked.push_back(std::string(drain ? "drain" : "undrain") + " from " + source);
        if (!accept)
            return false;
        source_.state.draining = drain;
        return true;
    }
    std::vector<std::string> asked;
    bool accept = true;

private:
    FakeSource& source_;
};

struct HttpResponse {
    int status = 0;
    std::map<std::string, std::string> headers;  // names lowercased
    std::string body;
    std::string raw;
};

/// A blocking HTTP/1.0 exchange: the server closes the connection after
/// the answer, so the response is everything up to EOF.
HttpResponse fetch(int family, uint16_t port, const std::string& request)
{
    HttpResponse r;
    UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd)
        return r;
    timeval timeout{5, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_storage addr{};
    socklen_t len;
    if (family == AF_INET6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons(port);
        len = sizeof *a;
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&addr);
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->sin_port = htons(port);
        len = sizeof *a;
    }
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0)
        return r;
    if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size()))
        return r;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd.get(), buf, sizeof buf, 0)) > 0)
        r.raw.append(buf, static_cast<size_t>(n));

    size_t head_end = r.raw.find("\r\n\r\n");
    if (head_end == std::string::npos || !r.raw.starts_with("HTTP/1."))
        return r;
    r.status = std::stoi(r.raw.substr(9, 3));
    size_t pos = r.raw.find("\r\n") + 2;
    while (pos < head_end) {
        size_t eol = r.raw.find("\r\n", pos);
        std::string line = r.raw.substr(pos, eol - pos);
        size_t colon = line.find(':');
        std::string name = line.substr(0, colon);
        for (char& c : name)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t value = line.find_first_not_of(' ', colon + 1);
        r.headers[name] = value == std::string::npos ? "" : line.substr(value);
        pos = eol + 2;
    }
    r.body = r.raw.substr(head_end + 4);
    return r;
}

class ServerTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        base.reset(event_base_new());
        ASSERT_TRUE(base);
        sb.slot(0).set_state(WorkerState::idle);
        sb.slot(0).counters.record(Protocol::http, 200, 1000, 1, 1);
        source.state.scoreboard = &sb;
        source.state.retired = &retired;
        source.state.pm = "static";
        source.state.workers = {{::getpid(), 0, 1, 0}};
    }

    /// Runs the server's loop (as the master would) while a client thread
    /// makes one request.
    HttpResponse exchange(MetricsServer& server, const std::string& request, int family = AF_INET)
    {
        std::atomic<bool> done{false};
        HttpResponse response;
        uint16_t port = server.port();
        std::thread client([&] {
            response = fetch(family, port, request);
            done = true;
        });
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!done && std::chrono::steady_clock::now() < deadline) {
            event_base_loop(base.get(), EVLOOP_NONBLOCK);
            timespec ts{0, 1'000'000};
            ::nanosleep(&ts, nullptr);
        }
        client.join();
        return response;
    }

    HttpResponse get(MetricsServer& server, const std::string& path)
    {
        return exchange(server, "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n");
    }

    struct BaseFree {
        void operator()(event_base* b) const { event_base_free(b); }
    };
    std::unique_ptr<event_base, BaseFree> base;
    Scoreboard sb{2};
    CounterTotals retired;
    FakeSource source;
    FakeControl control{source};
};

TEST_F(ServerTest, MetricsAnswersTheTextFormat)
{
    MetricsServer server(base.get(), "127.0.0.1:0", source);
    HttpResponse r = get(server, "/metrics");
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_EQ(r.headers["content-length"], std::to_string(r.body.size()));
    EXPECT_NE(r.body.find("drover_requests_total{protocol=\"http\",status_class=\"2xx\"} 1\n"), std::string::npos);
    EXPECT_NE(r.body.find("# TYPE drover_request_duration_seconds histogram\n"), std::string::npos);

    HttpResponse q = get(server, "/metrics?name[]=drover_workers");
    EXPECT_EQ(q.status, 200);
}

TEST_F(ServerTest, HealthzIs200WhileAWorkerCanServeAnd503Otherwise)
{
    MetricsServer server(base.get(), "127.0.0.1:0", source);
    HttpResponse ok = get(server, "/healthz");
    EXPECT_EQ(ok.status, 200) << ok.raw;
    EXPECT_EQ(ok.body, "ok: 1 workers ready\n");
    EXPECT_EQ(ok.headers["content-type"], "text/plain; charset=utf-8");

    source.state.crash_loop = true;
    source.state.crash_backoff_seconds = 2;
    HttpResponse crash = get(server, "/healthz");
    EXPECT_EQ(crash.status, 503) << crash.raw;
    EXPECT_EQ(crash.body, "crash loop: workers fail to boot; next spawn in 2.000s\n");

    source.state.crash_loop = false;
    sb.slot(0).set_state(WorkerState::starting);
    HttpResponse starting = get(server, "/healthz");
    EXPECT_EQ(starting.status, 503);
    EXPECT_EQ(starting.body, "no worker ready: 1 starting, 0 stopping\n");
}

TEST_F(ServerTest, StatusAnswersJson)
{
    MetricsServer server(base.get(), "127.0.0.1:0", source);
    HttpResponse r = get(server, "/status");
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.headers["content-type"], "application/json");
    EXPECT_TRUE(r.body.starts_with("{\"pool\": {")) << r.body;
    EXPECT_NE(r.body.find("\"pm\": \"static\""), std::string::npos);
    EXPECT_NE(r.body.find("\"state\": \"idle\""), std::string::npos);
}

TEST_F(ServerTest, UnknownPathIs404)
{
    MetricsServer server(base.get(), "127.0.0.1:0", source);
    for (const char* path : {"/", "/metrics/", "/nope", "/healthz/x"}) {
        HttpResponse r = get(server, path);
        EXPECT_EQ(r.status, 404) << path << "\n" << r.raw;
    }
}

TEST_F(ServerTest, OtherMethodsAre405WithAllow)
{
    MetricsServer server(base.get(), "127.0.0.1:0", source);
    for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
        HttpResponse r = exchange(server, std::string(method) + " /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
        EXPECT_EQ(r.status, 405) << method << "\n" << r.raw;
        EXPECT_EQ(r.headers["allow"], "GET, HEAD") << method;
    }
}

TEST_F(ServerTest, HeadHasTheHeadersButNoBody)
{
    MetricsServer server(base.get(), "127.0.0.1:0", source);
    HttpResponse r = exchange(server, "HEAD /metrics HTTP/1.0\r\n\r\n");
    EXPECT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_EQ(r.body, "");
    EXPECT_GT(std::stoul(r.headers["content-length"]), 1000u) << "the length a GET would have";
}

TEST_F(ServerTest, ExposesTheBoundSocket)
{
    MetricsServer server(base.get(), "127.0.0.1:0", source);
    EXPECT_GE(server.fd(), 0);
    EXPECT_NE(::fcntl(server.fd(), F_GETFD), -1);
    EXPECT_NE(server.port(), 0);
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    ASSERT_EQ(::getsockname(server.fd(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
    EXPECT_EQ(ntohs(addr.sin_port), server.port());
}

TEST_F(ServerTest, AcceptedConnectionsHaveNagleOff)
{
    // A body over libevent's 16 KiB write size goes out in two writes; with
    // Nagle the second waited for the client's delayed ACK (40 ms a scrape).
    MetricsServer server(base.get(), "127.0.0.1:0", source);
    int nodelay = 0;
    socklen_t len = sizeof nodelay;
    ASSERT_EQ(::getsockopt(server.fd(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
    EXPECT_NE(nodelay, 0) << "accepted sockets inherit TCP_NODELAY from the listener";

    // A body past 16 KiB (many workers) still arrives whole.
    Scoreboard big(100);
    source.state.scoreboard = &big;
    source.state.workers.clear();
    for (uint32_t i = 0; i < big.slot_count(); ++i) {
        big.slot(i).set_state(WorkerState::idle);
        source.state.workers.push_back({::getpid(), i, 1, 0});
    }
    HttpResponse r = get(server, "/metrics");
    ASSERT_EQ(r.status, 200) << r.raw.substr(0, 200);
    EXPECT_GT(r.body.size(), 16384u);
    EXPECT_EQ(r.headers["content-length"], std::to_string(r.body.size()));
    EXPECT_TRUE(r.body.ends_with("\n"));
}

TEST_F(ServerTest, ServesIPv6)
{
    UniqueFd probe(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in6 any{};
    any.sin6_family = AF_INET6;
    any.sin6_addr = in6addr_loopback;
    if (!probe || ::bind(probe.get(), reinterpret_cast<sockaddr*>(&any), sizeof any) != 0)
        GTEST_SKIP() << "no IPv6 loopback here";
    MetricsServer server(base.get(), "[::1]:0", source);
    HttpResponse r = exchange(server, "GET /healthz HTTP/1.0\r\n\r\n", AF_INET6);
    EXPECT_EQ(r.status, 200) << r.raw;
}

TEST_F(ServerTest, BindFailureNamesTheAddressAndTheError)
{
    MetricsServer first(base.get(), "127.0.0.1:0", source);
    std::string address = "127.0.0.1:" + std::to_string(first.port());
    try {
        MetricsServer second(base.get(), address, source);
        FAIL() << "binding a port in use did not throw";
    } catch (const std::runtime_error& e) {
        std::string what = e.what();
        EXPECT_NE(what.find(address), std::string::npos) << what;
        EXPECT_NE(what.find("Address already in use"), std::string::npos) << what;
    }
}

TEST_F(ServerTest, MalformedAddressThrows)
{
    for (const char* bad : {"9100", "127.0.0.1:", ":9100", "127.0.0.1:99999", "[::1]9100", "127.0.0.1:9x"}) {
        try {
            MetricsServer server(base.get(), bad, source);
            ADD_FAILURE() << bad << " was accepted";
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
        }
    }
}

// ---- the drain control (issue 14)

std::string request(const char* method, const char* path)
{
    return std::string(method) + " " + path + " HTTP/1.0\r\nContent-Length: 0\r\n\r\n";
}

TEST_F(ServerTest, PostDrainMakesHealthz503AndDeleteEndsIt)
{
    MetricsServer server(base.get(), "127.0.0.1:0", source, &control);
    EXPECT_EQ(get(server, "/drain").body, "not draining\n");

    HttpResponse post = exchange(server, request("POST", "/drain"));
    EXPECT_EQ(post.status, 200) << post.raw;
    EXPECT_EQ(post.body, "draining: /healthz answers 503 from now on; requests are still served; DELETE /drain ends it\n");
    EXPECT_EQ(control.asked, (std::vector<std::string>{"drain from POST /drain"}));
    HttpResponse health = get(server, "/healthz");
    EXPECT_EQ(health.status, 503);
    EXPECT_EQ(health.body, "draining: requests are still served; DELETE /drain ends it\n");
    EXPECT_EQ(get(server, "/drain").body, "draining\n");
    EXPECT_NE(get(server, "/status").body.find("\"draining\": true"), std::string::npos);
    EXPECT_NE(get(server, "/metrics").body.find("\ndrover_draining 1\n"), std::string::npos);

    // Idempotent: asked again, the same answer (the master logs it again).
    EXPECT_EQ(exchange(server, request("POST", "/drain")).status, 200);

    HttpResponse del = exchange(server, request("DELETE", "/drain"));
    EXPECT_EQ(del.status, 200) << del.raw;
    EXPECT_EQ(del.body, "not draining: /healthz answers for the pool again\n");
    EXPECT_EQ(control.asked.back(), "undrain from DELETE /drain");
    EXPECT_EQ(get(server, "/healthz").status, 200);

    // A POST with no Content-Length (curl -X POST) is a POST all the same.
    EXPECT_EQ(exchange(server, "POST /drain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status, 200);
    EXPECT_TRUE(source.state.draining);
}

TEST_F(ServerTest, DrainAnswers405ToOtherMethodsAnd503WhenTheMasterCannotTakeIt)
{
    MetricsServer server(base.get(), "127.0.0.1:0", source, &control);
    for (const char* method : {"PUT", "PATCH", "OPTIONS"}) {
        HttpResponse r = exchange(server, request(method, "/drain"));
        EXPECT_EQ(r.status, 405) << method << "\n" << r.raw;
        EXPECT_EQ(r.headers["allow"], "GET, HEAD, POST, DELETE") << method;
    }
    EXPECT_TRUE(control.asked.empty());
    // The other pages are still read-only.
    EXPECT_EQ(exchange(server, request("POST", "/healthz")).status, 405);

    control.accept = false;
    HttpResponse r = exchange(server, request("POST", "/drain"));
    EXPECT_EQ(r.status, 503) << r.raw;
    EXPECT_FALSE(source.state.draining);
}

TEST_F(ServerTest, WithoutAControlThereIsNoDrain)
{
    MetricsServer server(base.get(), "127.0.0.1:0", source);
    EXPECT_EQ(exchange(server, request("POST", "/drain")).status, 404);
    EXPECT_EQ(get(server, "/nope").body, "not found: try /metrics, /healthz or /status\n");
}

TEST(LoopbackPeer, OnlyTheHostItself)
{
    auto v4 = [](const char* text) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        EXPECT_EQ(::inet_pton(AF_INET, text, &a.sin_addr), 1) << text;
        return loopback_peer(reinterpret_cast<const sockaddr*>(&a));
    };
    auto v6 = [](const char* text) {
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        EXPECT_EQ(::inet_pton(AF_INET6, text, &a.sin6_addr), 1) << text;
        return loopback_peer(reinterpret_cast<const sockaddr*>(&a));
    };
    EXPECT_TRUE(v4("127.0.0.1"));
    EXPECT_TRUE(v4("127.0.1.3"));
    EXPECT_TRUE(v4("127.255.255.254"));
    EXPECT_FALSE(v4("128.0.0.1"));
    EXPECT_FALSE(v4("10.0.0.1"));
    EXPECT_FALSE(v4("0.0.0.0"));
    EXPECT_TRUE(v6("::1"));
    EXPECT_TRUE(v6("::ffff:127.0.0.1"));
    EXPECT_FALSE(v6("::ffff:10.1.2.3"));
    EXPECT_FALSE(v6("::2"));
    EXPECT_FALSE(v6("fe80::1"));
    EXPECT_FALSE(v6("::127.0.0.1"));  // IPv4-compatible, not mapped
    EXPECT_FALSE(loopback_peer(nullptr));
    sockaddr_un u{};
    u.sun_family = AF_UNIX;
    EXPECT_FALSE(loopback_peer(reinterpret_cast<const sockaddr*>(&u)));
}

TEST_F(ServerTest, DrainRefusesAPeerThatIsNotLoopback)
{
    // A non-loopback address of this host: a client bound to it is a peer
    // from outside as far as the server can tell.
    ifaddrs* list = nullptr;
    ASSERT_EQ(::getifaddrs(&list), 0);
    in_addr outside{};
    bool found = false;
    for (ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
        if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET)
            continue;
        in_addr a = reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr;
        if ((ntohl(a.s_addr) >> 24) != 127) {
            outside = a;
            found = true;
        }
    }
    ::freeifaddrs(list);
    if (!found)
        GTEST_SKIP() << "no IPv4 address but loopback here";

    MetricsServer server(base.get(), "0.0.0.0:0", source, &control);
    std::atomic<bool> done{false};
    std::string raw;
    uint16_t port = server.port();
    std::thread client([&] {
        UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        timeval timeout{5, 0};
        ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr = outside;
        addr.sin_port = htons(port);
        const std::string req = request("POST", "/drain");
        if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            ::send(fd.get(), req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
            char buf[1024];
            ssize_t n;
            while ((n = ::recv(fd.get(), buf, sizeof buf, 0)) > 0)
                raw.append(buf, static_cast<size_t>(n));
        }
        done = true;
    });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done && std::chrono::steady_clock::now() < deadline) {
        event_base_loop(base.get(), EVLOOP_NONBLOCK);
        timespec ts{0, 1'000'000};
        ::nanosleep(&ts, nullptr);
    }
    client.join();
    EXPECT_TRUE(raw.starts_with("HTTP/1.0 403") || raw.starts_with("HTTP/1.1 403")) << raw;
    EXPECT_NE(raw.find("loopback peers only"), std::string::npos) << raw;
    EXPECT_TRUE(control.asked.empty());
    EXPECT_FALSE(source.state.draining);
}

// ---- out of file descriptors (issue 9, defect 6)

double process_cpu_ms()
{
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

/// Runs in a forked child, whose fd limit it lowers: three clients wait in
/// the accept queue while every fd is taken, for 0.7 s; then fds are freed.
/// Returns "CPU_MS LOG_LINES ANSWERED\nLOG".
std::string starve_and_recover(const PoolStateSource& source)
{
    // The log (fd 2) goes to a file the child reads back.
    char log_path[] = "/tmp/drover-emfile-log-XXXXXX";
    UniqueFd log(::mkstemp(log_path));
    ::unlink(log_path);
    ::dup2(log.get(), 2);

    std::unique_ptr<event_base, void (*)(event_base*)> base(event_base_new(), event_base_free);
    MetricsServer server(base.get(), "127.0.0.1:0", source);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(server.port());
    std::vector<UniqueFd> clients;
    for (int i = 0; i < 3; ++i) {
        UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            return "connect failed";
        const char request[] = "GET /healthz HTTP/1.0\r\n\r\n";
        if (::send(c.get(), request, sizeof request - 1, MSG_NOSIGNAL) != sizeof request - 1)
            return "send failed";
        clients.push_back(std::move(c));
    }

    rlimit limit{128, 128};
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0)
        return "setrlimit failed";
    std::vector<UniqueFd> filler;
    for (;;) {
        UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        if (!fd)
            break;
        filler.push_back(std::move(fd));
    }
    if (errno != EMFILE)
        return "filling the fd table failed";

    double cpu_before = process_cpu_ms();
    timeval starve{0, 700'000};
    event_base_loopexit(base.get(), &starve);
    event_base_dispatch(base.get());
    double cpu_ms = process_cpu_ms() - cpu_before;

    filler.clear();
    int answered = 0;
    std::vector<bool> done(clients.size(), false);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (answered < static_cast<int>(clients.size()) && std::chrono::steady_clock::now() < deadline) {
        event_base_loop(base.get(), EVLOOP_NONBLOCK);
        for (size_t i = 0; i < clients.size(); ++i) {
            char buf[4096];
            ssize_t n;
            while (!done[i] && (n = ::recv(clients[i].get(), buf, sizeof buf, MSG_DONTWAIT)) >= 0) {
                if (n == 0) {  // HTTP/1.0: the answer ends with the connection
                    done[i] = true;
                    ++answered;
                }
            }
        }
        timespec ts{0, 1'000'000};
        ::nanosleep(&ts, nullptr);
    }

    std::string text(1 << 20, '\0');
    ssize_t n = ::pread(log.get(), text.data(), text.size(), 0);
    text.resize(n > 0 ? static_cast<size_t>(n) : 0);
    size_t lines = 0;
    for (char c : text)
        lines += c == '\n' ? 1 : 0;
    return std::to_string(static_cast<int>(cpu_ms)) + " " + std::to_string(lines) + " " + std::to_string(answered) +
           "\n" + text.substr(0, 2000);
}

TEST_F(ServerTest, OutOfFileDescriptorsPausesAcceptingInsteadOfSpinning)
{
    int pipefd[2];
    ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
    UniqueFd read_end(pipefd[0]), write_end(pipefd[1]);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        read_end.reset();
        std::string result = starve_and_recover(source);
        ssize_t ignored = ::write(write_end.get(), result.data(), result.size());
        (void)ignored;
        ::_exit(0);
    }
    write_end.reset();
    std::string result;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(read_end.get(), buf, sizeof buf)) > 0)
        result.append(buf, static_cast<size_t>(n));
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

    int cpu_ms = -1, lines = -1, answered = -1;
    ASSERT_EQ(std::sscanf(result.c_str(), "%d %d %d", &cpu_ms, &lines, &answered), 3) << result;
    std::string log = result.substr(result.find('\n') + 1);
    // 0.7 s with a full fd table and connections waiting: a spinning loop
    // burns all of it; a paused listener wakes twice.
    EXPECT_LT(cpu_ms, 100) << log;
    EXPECT_GE(lines, 1) << "the failure is logged";
    EXPECT_LE(lines, 2) << log;
    EXPECT_NE(log.find("Too many open files"), std::string::npos) << log;
    EXPECT_EQ(answered, 3) << "every waiting client is served once fds are free\n" << log;
}

} // namespace
} // namespace drover

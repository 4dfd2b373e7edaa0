// The connection park without processes: the test plays the workers on the
// far ends of the park's socket pairs, and the clients on the far ends of
// the passed connections. Every message type (kept, fresh) in every master
// state (running, stopping) and every way out (passed, expired, closed by
// its client, queue full).
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <cerrno>
#include <unistd.h>

#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/event.hpp"
#include "ipc/fd_passing.hpp"
#include "supervisor/connection_park.hpp"

namespace drover {
namespace {

class FakeClock final : public Clock {
public:
    double now() const override { return t; }
    double t = 1000.0;
};

/// One client connection: the test keeps the client end; the server end is
/// what a worker hands to the park.
struct Client {
    UniqueFd client, server;

    Client()
    {
        int fds[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
        client.reset(fds[0]);
        server.reset(fds[1]);
    }
    void send(const std::string& bytes) { ASSERT_EQ(::write(client.get(), bytes.data(), bytes.size()), ssize_t(bytes.size())); }
    /// The park (and everyone else) closed the server end.
    bool closed_by_server() const
    {
        char c;
        ssize_t n = ::recv(client.get(), &c, 1, MSG_DONTWAIT);
        // A close with the client's bytes unread is a reset.
        return n == 0 || (n < 0 && errno == ECONNRESET);
    }
};

class ParkTest : public ::testing::Test {
protected:
    ParkTest() : base_(event_base_new()), park_(base_.get(), ConnectionPark::Timeouts{5.0, 10.0}, clock_) {}

    /// A worker hands the server end over and drops its own copy.
    void hand(Client& c, uint8_t tag)
    {
        ASSERT_TRUE(send_fd(park_.worker_park_fd(), c.server.get(), tag));
        c.server.reset();
        turn();
    }
    void turn()
    {
        for (int i = 0; i < 4; ++i)
            event_base_loop(base_.get(), EVLOOP_NONBLOCK);
    }
    /// What an idle worker receives from the dispatch queue now.
    std::vector<PassedFd> dispatched()
    {
        std::vector<PassedFd> out;
        for (;;) {
            Result<PassedFd> got = receive_fd(park_.worker_dispatch_fd());
            if (!got)
                return out;
            out.push_back(std::move(*got));
        }
    }

    FakeClock clock_;
    EventBasePtr base_;
    ConnectionPark park_;
};

TEST_F(ParkTest, AKeptConnectionWaitsUntilItsClientSpeaks)
{
    Client c;
    hand(c, 2);
    EXPECT_EQ(park_.parked(), 1u);
    EXPECT_TRUE(dispatched().empty());

    c.send("GET / HTTP/1.1\r\n");
    turn();
    std::vector<PassedFd> got = dispatched();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].tag, 2);
    EXPECT_EQ(park_.parked(), 0u);
    // It is the same connection: the request bytes are there to read.
    char buf[32];
    EXPECT_EQ(::recv(got[0].fd.get(), buf, sizeof buf, 0), 16);
}

TEST_F(ParkTest, AFreshConnectionWaitsUntilItsClientSpeaks)
{
    Client c;
    hand(c, 1 | kPassedFresh);
    EXPECT_EQ(park_.parked(), 1u);
    EXPECT_TRUE(dispatched().empty());
    c.send("x");
    turn();
    std::vector<PassedFd> got = dispatched();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].tag, 1 | kPassedFresh);
}

TEST_F(ParkTest, AConnectionItsClientClosedIsDropped)
{
    Client c;
    hand(c, 0);
    c.client.reset();
    turn();
    EXPECT_EQ(park_.parked(), 0u);
    EXPECT_TRUE(dispatched().empty());
}

TEST_F(ParkTest, KeptConnectionsExpireAfterKeepaliveFreshOnesAfterTheHeaderTimeout)
{
    Client kept, fresh;
    hand(kept, 0);
    hand(fresh, kPassedFresh);
    clock_.t += 4.9;
    park_.tick(clock_.now());
    EXPECT_EQ(park_.parked(), 2u);
    clock_.t += 0.2;
    park_.tick(clock_.now());
    EXPECT_TRUE(kept.closed_by_server());
    EXPECT_FALSE(fresh.closed_by_server());
    EXPECT_EQ(park_.parked(), 1u);
    // A client that connected and never sent a byte is closed without an
    // answer, as nginx does at client_header_timeout.
    clock_.t += 5.0;
    park_.tick(clock_.now());
    EXPECT_TRUE(fresh.closed_by_server());
    EXPECT_EQ(park_.parked(), 0u);
    EXPECT_TRUE(dispatched().empty());
}

TEST_F(ParkTest, StoppingClosesKeptConnectionsAndPassesFreshOnesAtOnce)
{
    Client kept, fresh;
    hand(kept, 0);
    hand(fresh, kPassedFresh);
    park_.close_all();
    turn();
    EXPECT_TRUE(kept.closed_by_server());
    std::vector<PassedFd> got = dispatched();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].tag, kPassedFresh);
    EXPECT_EQ(park_.parked(), 0u);
}

// Defect 1 of issue 9: a fresh connection handed over after the stop began
// was stored without an event, and passing it called event_del(nullptr).
TEST_F(ParkTest, AfterTheStopBeganNewFreshConnectionsArePassedAndKeptOnesClosed)
{
    park_.close_all();
    Client quiet_fresh, talking_fresh, kept;
    hand(quiet_fresh, 3 | kPassedFresh);
    talking_fresh.send("GET / HTTP/1.1\r\n\r\n");
    hand(talking_fresh, 3 | kPassedFresh);
    kept.send("GET / HTTP/1.1\r\n\r\n");
    hand(kept, 3);

    std::vector<PassedFd> got = dispatched();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].tag, 3 | kPassedFresh);
    EXPECT_EQ(got[1].tag, 3 | kPassedFresh);
    EXPECT_TRUE(kept.closed_by_server());
    EXPECT_EQ(park_.parked(), 0u);
}

TEST_F(ParkTest, AFullDispatchQueueIsRetriedAtTheNextTick)
{
    // Fill the dispatch queue the way busy workers would leave it.
    std::vector<Client> fillers;
    fillers.reserve(4096);
    size_t queued = 0;
    for (;;) {
        fillers.emplace_back();
        if (!send_fd(park_.dispatch_send_fd(), fillers.back().server.get(), 0))
            break;
        ++queued;
    }
    ASSERT_GT(queued, 0u);
    Client c;
    hand(c, 1);
    c.send("x");
    turn();
    EXPECT_EQ(park_.parked(), 1u);  // readable, but no room yet

    // A worker takes one; the park's pass goes through at the next tick
    // (or once the queue is writable again, a quarter full).
    ASSERT_TRUE(receive_fd(park_.worker_dispatch_fd()));
    park_.tick(clock_.now());
    EXPECT_EQ(park_.parked(), 0u);
    std::vector<PassedFd> got = dispatched();
    ASSERT_EQ(got.size(), queued);
    EXPECT_EQ(got.back().tag, 1);
}

TEST_F(ParkTest, AFullDispatchQueueAtStopKeepsFreshConnectionsUntilThereIsRoom)
{
    std::vector<Client> fillers;
    fillers.reserve(4096);
    for (;;) {
        fillers.emplace_back();
        if (!send_fd(park_.dispatch_send_fd(), fillers.back().server.get(), 0))
            break;
    }
    park_.close_all();
    Client fresh;
    hand(fresh, kPassedFresh);
    EXPECT_EQ(park_.parked(), 1u);
    ASSERT_TRUE(receive_fd(park_.worker_dispatch_fd()));
    park_.tick(clock_.now());
    EXPECT_EQ(park_.parked(), 0u);
}

TEST_F(ParkTest, GarbageOnTheParkSocketIsIgnored)
{
    // A message without an fd (a bug or a stray write) must not stop the park.
    ASSERT_EQ(::send(park_.worker_park_fd(), "zz", 2, 0), 2);
    turn();
    Client c;
    hand(c, 0);
    EXPECT_EQ(park_.parked(), 1u);
}

} // namespace
} // namespace drover

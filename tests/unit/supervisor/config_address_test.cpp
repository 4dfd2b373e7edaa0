// supervisor/config_address.cpp: the listen address grammar's newest form, a
// bare absolute path as a unix socket (uWSGI's and PHP-FPM's way), from
// every place an address is written. The older forms and every reason are
// pinned in config_test.cpp.
#include "supervisor/config.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "supervisor/config_address.hpp"

namespace drover {
namespace {

std::string address_error(const std::string& text)
{
    try {
        parse_listen_address(text);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "<no error>";
}

std::string parse_error(const std::string& text)
{
    try {
        validate_config(parse_config_text(text, "drover.toml"));
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "<no ConfigError>";
}

TEST(BarePathAddress, IsAUnixSocketWithOrWithoutAProtocol)
{
    ListenSpec plain = parse_listen_address("/run/app.sock");
    EXPECT_EQ(plain.protocol, Protocol::http);
    EXPECT_TRUE(plain.is_unix());
    EXPECT_EQ(plain.path, "/run/app.sock");
    EXPECT_EQ(plain.text, "/run/app.sock");

    ListenSpec fcgi = parse_listen_address("fastcgi:///run/app.sock");
    EXPECT_EQ(fcgi.protocol, Protocol::fastcgi);
    EXPECT_TRUE(fcgi.is_unix());
    EXPECT_EQ(fcgi.path, "/run/app.sock");
    EXPECT_EQ(fcgi.text, "fastcgi:///run/app.sock");

    ListenSpec scgi = parse_listen_address("SCGI:///tmp/x.sock");
    EXPECT_EQ(scgi.protocol, Protocol::scgi);
    EXPECT_EQ(scgi.path, "/tmp/x.sock");

    // The same socket as unix:PATH: a colon in the path is the path's.
    EXPECT_EQ(address_identity(parse_listen_address("/run/a:8000")), "unix:/run/a:8000");
}

TEST(BarePathAddress, OnlyAnAbsolutePath)
{
    // "app.sock:80" could be a host; a relative path keeps needing "unix:".
    EXPECT_EQ(address_error("run/app.sock"), "missing port");
    EXPECT_EQ(address_error("fastcgi://run/app.sock"), "missing port");
    EXPECT_EQ(address_error("unix:///run/x.sock"), "unknown protocol 'unix' (a unix socket is written unix:PATH)");
    EXPECT_EQ(address_error("/" + std::string(120, 'x')),
              "socket path too long (at most 107 bytes): /" + std::string(120, 'x'));
    // Metrics are served over TCP only.
    EXPECT_THROW(parse_metrics_address("/run/m.sock"), std::invalid_argument);
}

TEST(BarePathAddress, InTheFileWithListenerOptions)
{
    Config c = parse_config_text(R"(bind = ["scgi:///tmp/x.sock", { address = "/run/a.sock", mode = "0600", backlog = 16 }]
unix_socket_mode = "0666"
)", "/etc/drover/drover.toml");
    ASSERT_EQ(c.listeners.size(), 2u);
    EXPECT_EQ(c.listeners[0].protocol, Protocol::scgi);
    EXPECT_EQ(c.listeners[0].path, "/tmp/x.sock");
    EXPECT_EQ(c.listeners[0].mode, 0666u);
    EXPECT_EQ(c.listeners[1].path, "/run/a.sock");
    EXPECT_EQ(c.listeners[1].mode, 0600u);
    EXPECT_EQ(c.listeners[1].backlog, 16);

    EXPECT_EQ(parse_error("bind = [{ address = \"/run/a.sock\", allowed_clients = [\"::1\"] }]\n"),
              "drover.toml:1:54: bind[0].allowed_clients: only applies to TCP listeners");
    EXPECT_EQ(parse_error("app = \"a:b\"\nbind = [\"unix:/run/a.sock\", \"fastcgi:///run/a.sock\"]\n"),
              "drover.toml:2:29: bind[1]: duplicate address (same as \"unix:/run/a.sock\")");
}

TEST(BarePathAddress, OnTheCommandLine)
{
    const char* argv[] = {"drover", "-b", "fastcgi:///run/app.sock", "--bind=/run/http.sock", "a:b"};
    CommandLine cmd = parse_command_line(5, argv);
    EXPECT_EQ(cmd.binds, (std::vector<std::string>{"fastcgi:///run/app.sock", "/run/http.sock"}));
    Config c = load_config(cmd);
    ASSERT_EQ(c.listeners.size(), 2u);
    EXPECT_EQ(c.listeners[0].protocol, Protocol::fastcgi);
    EXPECT_EQ(c.listeners[0].path, "/run/app.sock");
    EXPECT_EQ(c.listeners[0].mode, 0660u);
    EXPECT_EQ(c.listeners[1].protocol, Protocol::http);
    EXPECT_EQ(c.listeners[1].path, "/run/http.sock");
}

} // namespace
} // namespace drover

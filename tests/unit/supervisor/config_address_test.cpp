// supervisor/config_address.cpp: the listen and metrics address grammar,
// every reason it gives, and its newest form, a bare absolute path as a unix
// socket (uWSGI's and PHP-FPM's way), from every place an address is written.
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

TEST(ConfigErrors, EveryAddressReason)
{
    EXPECT_EQ(address_error(""), "empty address");
    EXPECT_EQ(address_error("ftp://h:21"), "unknown protocol 'ftp' (use http, fastcgi or scgi)");
    EXPECT_EQ(address_error("unix:///run/x.sock"), "unknown protocol 'unix' (a unix socket is written unix:PATH)");
    EXPECT_EQ(address_error("127.0.0.1"), "missing port");
    EXPECT_EQ(address_error("127.0.0.1:"), "missing port");
    EXPECT_EQ(address_error(":8000"), "missing host");
    EXPECT_EQ(address_error("localhost:http"), "port 'http' is not a number");
    EXPECT_EQ(address_error("localhost:65536"), "port out of range (1 to 65535): 65536");
    EXPECT_EQ(address_error("localhost:99999999999999999999"), "port out of range (1 to 65535): 99999999999999999999");
    EXPECT_EQ(address_error("[::1:80"), "missing ']' after the IPv6 address");
    EXPECT_EQ(address_error("[::1]80"), "expected ':PORT' after ']'");
    EXPECT_EQ(address_error("[::1]"), "missing port");
    EXPECT_EQ(address_error("[]:80"), "missing host");
    EXPECT_EQ(address_error("[127.0.0.1]:80"), "invalid IPv6 address '127.0.0.1'");
    EXPECT_EQ(address_error("::1:80"), "an IPv6 address must be in brackets, like [::1]:8000");
    EXPECT_EQ(address_error("300.1.1.1:80"), "invalid IPv4 address '300.1.1.1'");
    EXPECT_EQ(address_error("my host:80"), "invalid host name 'my host'");
    EXPECT_EQ(address_error("unix:"), "missing socket path after 'unix:'");
    EXPECT_EQ(address_error("unix:/" + std::string(200, 'x')),
              "socket path too long (at most 107 bytes): /" + std::string(200, 'x'));
}

TEST(ListenAddress, GoodForms)
{
    ListenSpec a = parse_listen_address("0.0.0.0:80");
    EXPECT_EQ(a.protocol, Protocol::http);
    EXPECT_EQ(a.family, ListenSpec::Family::inet);
    EXPECT_EQ(a.host, "0.0.0.0");
    EXPECT_EQ(a.port, 80);
    EXPECT_EQ(a.text, "0.0.0.0:80");

    ListenSpec b = parse_listen_address("SCGI://[::]:4000");
    EXPECT_EQ(b.protocol, Protocol::scgi);
    EXPECT_EQ(b.family, ListenSpec::Family::inet6);
    EXPECT_EQ(b.host, "::");
    EXPECT_EQ(b.port, 4000);

    ListenSpec c = parse_listen_address("fastcgi://unix:/run/drover/app.sock");
    EXPECT_EQ(c.protocol, Protocol::fastcgi);
    EXPECT_TRUE(c.is_unix());
    EXPECT_EQ(c.path, "/run/drover/app.sock");

    ListenSpec d = parse_listen_address("http://app-1.internal:8080");
    EXPECT_EQ(d.host, "app-1.internal");
    EXPECT_EQ(d.port, 8080);
}

TEST(ValueParsers, MetricsAddress)
{
    EXPECT_EQ(parse_metrics_address("[::]:9100").family, ListenSpec::Family::inet6);
    EXPECT_EQ(parse_metrics_address("0.0.0.0:9100").port, 9100);
    EXPECT_THROW(parse_metrics_address("http://127.0.0.1:9100"), std::invalid_argument);
    EXPECT_THROW(parse_metrics_address("127.0.0.1:0"), std::invalid_argument);
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

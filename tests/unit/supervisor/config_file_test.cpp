// supervisor/config_file.cpp: the TOML file read into a Config, and the
// exact error messages (file:line:column: key: ...) users rely on.
#include "supervisor/config_file.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "supervisor/config.hpp"
#include "tests/unit/supervisor/config_test_util.hpp"

namespace drover {
namespace {

namespace fs = std::filesystem;

std::string parse_error(const std::string& text)
{
    return error_of([&] { parse_config_text(text, "drover.toml"); });
}

// ---------------------------------------------------------------- good files

TEST(ConfigFile, EveryKeyIsRead)
{
    const std::string text = R"(app = "myapp.wsgi:app"
bind = [
  "fastcgi://unix:run/drover.sock",
  { address = "[::1]:8080", backlog = 128, allowed_clients = ["::1", "0:0::2", "127.0.0.1", "2001:DB8::/32"] },
  { address = "scgi://unix:/run/s.sock", mode = "0600" },
  "localhost:8001",
]
backlog = 512
unix_socket_mode = 0o640
allowed_clients = ["10.0.0.1"]
forwarded_allow_ips = ["10.0.0.0/8", "::1/128"]
pythonpath = ["lib", "/opt/extra", "../shared"]
script_name = "/app"
preload = true
max_body_size = "10M"
max_header_size = "16K"
max_header_count = 50
keepalive = "2s"
header_timeout = "3s"
max_connections = 64
pm = "dynamic"
workers = 4
min_spare = 2
max_spare = 6
max_workers = 16
idle_timeout = "1m"
max_requests = 1000
max_requests_jitter = 50
max_rss = 512
max_lifetime = "1h"
timeout = 45
slow_request_timeout = 10.5
graceful_timeout = "500ms"
startup_timeout = "2m"
max_unavailable = 2
user = "www-data"
group = "nogroup"
pidfile = "run/drover.pid"

[log]
error = "log/error.log"
access = "-"
level = "debug"

[metrics]
address = "127.0.0.1:9100"
)";
    Config c = parse_config_text(text, "/srv/site/drover.toml");
    EXPECT_EQ(c.file, "/srv/site/drover.toml");
    EXPECT_EQ(c.app.callable, "myapp.wsgi:app");

    ASSERT_EQ(c.listeners.size(), 4u);
    const ListenSpec& fcgi = c.listeners[0];
    EXPECT_EQ(fcgi.protocol, Protocol::fastcgi);
    EXPECT_TRUE(fcgi.is_unix());
    EXPECT_EQ(fcgi.path, "/srv/site/run/drover.sock");
    EXPECT_EQ(fcgi.text, "fastcgi://unix:run/drover.sock");
    EXPECT_EQ(fcgi.mode, 0640u);
    EXPECT_EQ(fcgi.backlog, 512);
    EXPECT_TRUE(fcgi.allowed_clients.empty());

    const ListenSpec& v6 = c.listeners[1];
    EXPECT_EQ(v6.protocol, Protocol::http);
    EXPECT_EQ(v6.family, ListenSpec::Family::inet6);
    EXPECT_EQ(v6.host, "::1");
    EXPECT_EQ(v6.port, 8080);
    EXPECT_EQ(v6.backlog, 128);
    EXPECT_EQ(v6.allowed_clients, (std::vector<std::string>{"::1", "::2", "127.0.0.1", "2001:db8::/32"}));

    const ListenSpec& scgi = c.listeners[2];
    EXPECT_EQ(scgi.protocol, Protocol::scgi);
    EXPECT_EQ(scgi.path, "/run/s.sock");
    EXPECT_EQ(scgi.mode, 0600u);
    EXPECT_EQ(scgi.backlog, 512);

    const ListenSpec& named = c.listeners[3];
    EXPECT_EQ(named.family, ListenSpec::Family::inet);
    EXPECT_EQ(named.host, "localhost");
    EXPECT_EQ(named.port, 8001);
    EXPECT_EQ(named.allowed_clients, (std::vector<std::string>{"10.0.0.1"}));

    EXPECT_EQ(c.app.pythonpath, (std::vector<std::string>{"/srv/site/lib", "/opt/extra", "/srv/shared"}));
    EXPECT_EQ(c.app.script_name, "/app");
    EXPECT_EQ(c.app.forwarded_allow_ips, (std::vector<std::string>{"10.0.0.0/8", "::1/128"}));
    EXPECT_TRUE(c.preload);
    EXPECT_EQ(c.app.limits.max_body_size, 10u << 20);
    EXPECT_EQ(c.app.limits.max_header_size, 16u << 10);
    EXPECT_EQ(c.app.limits.max_header_count, 50u);
    EXPECT_DOUBLE_EQ(c.app.keepalive, 2.0);
    EXPECT_DOUBLE_EQ(c.app.header_timeout, 3.0);
    EXPECT_EQ(c.app.max_connections, 64u);
    EXPECT_EQ(c.pm, ProcessManager::dynamic_pool);
    EXPECT_EQ(c.workers, 4u);
    EXPECT_EQ(c.min_spare, 2u);
    EXPECT_EQ(c.max_spare, 6u);
    EXPECT_EQ(c.max_workers, 16u);
    EXPECT_DOUBLE_EQ(c.idle_timeout, 60.0);
    EXPECT_EQ(c.max_requests, 1000u);
    EXPECT_EQ(c.max_requests_jitter, 50u);
    EXPECT_EQ(c.max_rss_mib, 512u);
    EXPECT_DOUBLE_EQ(c.max_lifetime, 3600.0);
    EXPECT_DOUBLE_EQ(c.timeout, 45.0);
    EXPECT_DOUBLE_EQ(c.slow_request_timeout, 10.5);
    EXPECT_DOUBLE_EQ(c.graceful_timeout, 0.5);
    EXPECT_DOUBLE_EQ(c.startup_timeout, 120.0);
    EXPECT_EQ(c.max_unavailable, 2u);
    EXPECT_EQ(c.user, "www-data");
    EXPECT_EQ(c.group, "nogroup");
    EXPECT_EQ(c.pidfile, "/srv/site/run/drover.pid");
    EXPECT_EQ(c.error_log, "/srv/site/log/error.log");
    EXPECT_EQ(c.access_log, "-");
    EXPECT_EQ(c.log_level, LogLevel::debug);
    EXPECT_EQ(c.metrics_address, "127.0.0.1:9100");

    // Not keys of their own.
    EXPECT_DOUBLE_EQ(c.app.io_timeout, 45.0);
    EXPECT_EQ(c.app.max_conns, 16u);

    EXPECT_NO_THROW(validate_config(c));
}

TEST(ConfigFile, DefaultsWhenKeysAreAbsent)
{
    Config c = parse_config_text("app = \"hello\"\n", "drover.toml");
    EXPECT_EQ(c.app.callable, "hello:application");
    ASSERT_EQ(c.listeners.size(), 1u);
    EXPECT_EQ(c.listeners[0].protocol, Protocol::http);
    EXPECT_EQ(c.listeners[0].host, "127.0.0.1");
    EXPECT_EQ(c.listeners[0].port, 8000);
    EXPECT_EQ(c.listeners[0].backlog, 1024);
    EXPECT_TRUE(c.app.pythonpath.empty());
    EXPECT_EQ(c.app.chdir, "");
    EXPECT_EQ(c.app.virtualenv, "");
    EXPECT_EQ(c.app.script_name, "");
    EXPECT_FALSE(c.preload);
    EXPECT_EQ(c.app.limits.max_body_size, 100u << 20);
    EXPECT_EQ(c.app.limits.max_header_size, 64u << 10);
    EXPECT_EQ(c.app.limits.max_header_count, 100u);
    EXPECT_DOUBLE_EQ(c.app.keepalive, 5.0);
    EXPECT_DOUBLE_EQ(c.app.header_timeout, 10.0);
    EXPECT_EQ(c.app.max_connections, 1000u);
    EXPECT_EQ(c.pm, ProcessManager::static_pool);
    EXPECT_EQ(c.workers, 2u);
    EXPECT_EQ(c.max_requests, 0u);
    EXPECT_EQ(c.max_rss_mib, 0u);
    EXPECT_DOUBLE_EQ(c.timeout, 30.0);
    EXPECT_DOUBLE_EQ(c.app.io_timeout, 30.0);
    EXPECT_EQ(c.app.max_conns, 2u);
    EXPECT_DOUBLE_EQ(c.slow_request_timeout, 0.0);
    EXPECT_DOUBLE_EQ(c.graceful_timeout, 30.0);
    EXPECT_DOUBLE_EQ(c.startup_timeout, 60.0);
    EXPECT_EQ(c.max_unavailable, 1u);
    EXPECT_EQ(c.error_log, "-");
    EXPECT_EQ(c.access_log, "");
    EXPECT_EQ(c.log_level, LogLevel::info);
    EXPECT_EQ(c.metrics_address, "127.0.0.1:9191");
    EXPECT_EQ(c.user, "");
    EXPECT_EQ(c.pidfile, "");
    EXPECT_NO_THROW(validate_config(c));
}

TEST(ConfigFile, TopLevelListenerDefaultsApplyWhateverTheOrder)
{
    // backlog and unix_socket_mode written after bind still apply to it.
    Config c = parse_config_text(R"(bind = ["unix:/run/a.sock", { address = "unix:/run/b.sock", mode = 0o600, backlog = 7 }]
backlog = 99
unix_socket_mode = "0666"
allowed_clients = ["127.0.0.1"]
)", "drover.toml");
    ASSERT_EQ(c.listeners.size(), 2u);
    EXPECT_EQ(c.listeners[0].backlog, 99);
    EXPECT_EQ(c.listeners[0].mode, 0666u);
    EXPECT_TRUE(c.listeners[0].allowed_clients.empty());  // TCP only
    EXPECT_EQ(c.listeners[1].backlog, 7);
    EXPECT_EQ(c.listeners[1].mode, 0600u);
}

TEST(ConfigFile, DurationsInEveryForm)
{
    const std::pair<const char*, double> cases[] = {
        {"5", 5.0}, {"0.25", 0.25}, {"\"500ms\"", 0.5}, {"\"30s\"", 30.0},
        {"\"5m\"", 300.0}, {"\"1h\"", 3600.0}, {"\"2.5\"", 2.5}, {"\"1.5m\"", 90.0},
    };
    for (const auto& [value, seconds] : cases) {
        Config c = parse_config_text(std::string("timeout = ") + value + "\n", "drover.toml");
        EXPECT_DOUBLE_EQ(c.timeout, seconds) << value;
    }
    EXPECT_DOUBLE_EQ(parse_config_text("keepalive = 0\n", "drover.toml").app.keepalive, 0.0);
}

TEST(ConfigFile, SizesInEveryForm)
{
    const std::pair<const char*, uint64_t> cases[] = {
        {"0", 0}, {"1048576", 1u << 20}, {"\"100M\"", 100u << 20}, {"\"64k\"", 64u << 10}, {"\"2G\"", 2ull << 30}, {"\"123\"", 123},
    };
    for (const auto& [value, bytes] : cases) {
        Config c = parse_config_text(std::string("max_body_size = ") + value + "\n", "drover.toml");
        EXPECT_EQ(c.app.limits.max_body_size, bytes) << value;
    }
}

TEST(ConfigFile, RelativePathsAreResolvedAgainstTheFileDirectory)
{
    Config c = parse_config_text(R"(pythonpath = ["src", "./lib/../vendor/"]
bind = ["unix:sockets/app.sock"]
pidfile = "drover.pid"
[log]
error = "logs/error.log"
access = "logs/access.log"
)", "/etc/drover/site.toml");
    EXPECT_EQ(c.app.pythonpath, (std::vector<std::string>{"/etc/drover/src", "/etc/drover/vendor"}));
    EXPECT_EQ(c.listeners.at(0).path, "/etc/drover/sockets/app.sock");
    EXPECT_EQ(c.listeners.at(0).text, "unix:sockets/app.sock");
    EXPECT_EQ(c.pidfile, "/etc/drover/drover.pid");
    EXPECT_EQ(c.error_log, "/etc/drover/logs/error.log");
    EXPECT_EQ(c.access_log, "/etc/drover/logs/access.log");

    // A relative file name is relative to the current directory.
    Config rel = parse_config_text("pidfile = \"d.pid\"\n", "conf/drover.toml");
    EXPECT_EQ(rel.pidfile, (fs::current_path() / "conf/d.pid").string());
}

TEST(ConfigFile, RecordsWhereEachKeyWasWritten)
{
    Config c = parse_config_text("app = \"a:b\"\n\nworkers = 3\n[log]\nlevel = \"error\"\n", "drover.toml");
    ASSERT_EQ(c.origins.count("workers"), 1u);
    EXPECT_EQ(c.origins["workers"].where, "drover.toml:3:11: workers");
    EXPECT_EQ(c.origins["workers"].line, 3u);
    EXPECT_EQ(c.origins["log.level"].where, "drover.toml:5:9: log.level");
    EXPECT_EQ(c.origins.count("timeout"), 0u);
}

// ---------------------------------------------------------------- bad files

TEST(ConfigErrors, SyntaxError)
{
    EXPECT_EQ(parse_error("app = \"a:b\"\nworkers = = 3\n"),
              "drover.toml:2:11: syntax error: Error while parsing value: could not determine value type");
}

TEST(ConfigErrors, UnknownKeys)
{
    EXPECT_EQ(parse_error("app = \"a:b\"\nfrob = 1\n"), "drover.toml:2:8: frob: unknown key");
    EXPECT_EQ(parse_error("[log]\nlevel = \"info\"\ncolour = true\n"), "drover.toml:3:10: log.colour: unknown key");
    EXPECT_EQ(parse_error("[metrics]\nport = 9100\n"), "drover.toml:2:8: metrics.port: unknown key");
    EXPECT_EQ(parse_error("bind = [{ address = \"127.0.0.1:80\", mod = \"0660\" }]\n"),
              "drover.toml:1:43: bind[0].mod: unknown key");
    EXPECT_EQ(parse_error("[server]\nworkers = 2\n"), "drover.toml:1:1: server: unknown key");
}

TEST(ConfigErrors, FirstErrorInFileOrderIsReported)
{
    // toml++ keeps keys sorted; the report still follows the file.
    EXPECT_EQ(parse_error("zzz = 1\naaa = 2\n"), "drover.toml:1:7: zzz: unknown key");
}

TEST(ConfigErrors, WrongTypes)
{
    EXPECT_EQ(parse_error("workers = \"4\"\n"), "drover.toml:1:11: workers: expected an integer, got a string");
    EXPECT_EQ(parse_error("workers = 4.0\n"), "drover.toml:1:11: workers: expected an integer, got a float");
    EXPECT_EQ(parse_error("[log]\nlevel = 3\n"), "drover.toml:2:9: log.level: expected a string, got an integer");
    EXPECT_EQ(parse_error("log = \"x\"\n"), "drover.toml:1:7: log: expected a table, got a string");
    EXPECT_EQ(parse_error("preload = \"yes\"\n"), "drover.toml:1:11: preload: expected a boolean, got a string");
    EXPECT_EQ(parse_error("pythonpath = \"lib\"\n"), "drover.toml:1:14: pythonpath: expected an array, got a string");
    EXPECT_EQ(parse_error("pythonpath = [\"a\", 3]\n"), "drover.toml:1:20: pythonpath[1]: expected a string, got an integer");
    EXPECT_EQ(parse_error("timeout = true\n"),
              "drover.toml:1:11: timeout: expected a duration (seconds, or a string like \"30s\"), got a boolean");
    EXPECT_EQ(parse_error("max_body_size = 1.5\n"),
              "drover.toml:1:17: max_body_size: expected a size (bytes, or a string like \"100M\"), got a float");
    EXPECT_EQ(parse_error("bind = \"127.0.0.1:80\"\n"), "drover.toml:1:8: bind: expected an array, got a string");
    EXPECT_EQ(parse_error("bind = [80]\n"), "drover.toml:1:9: bind[0]: expected an address string or a table, got an integer");
    EXPECT_EQ(parse_error("user = 1000\n"), "drover.toml:1:8: user: expected a string, got an integer");
}

TEST(ConfigErrors, OutOfRange)
{
    EXPECT_EQ(parse_error("app = \"a:b\"\n\nworkers = 0\n"), "drover.toml:3:11: workers: must be an integer from 1 to 1024");
    EXPECT_EQ(parse_error("workers = 1025\n"), "drover.toml:1:11: workers: must be an integer from 1 to 1024");
    EXPECT_EQ(parse_error("backlog = 70000\n"), "drover.toml:1:11: backlog: must be an integer from 1 to 65535");
    EXPECT_EQ(parse_error("max_unavailable = 0\n"), "drover.toml:1:19: max_unavailable: must be an integer from 1 to 1024");
    EXPECT_EQ(parse_error("max_requests = -1\n"), "drover.toml:1:16: max_requests: must be a non-negative integer");
    EXPECT_EQ(parse_error("max_header_size = \"2M\"\n"), "drover.toml:1:19: max_header_size: must be a size from 1K to 1M");
    EXPECT_EQ(parse_error("max_header_size = 512\n"), "drover.toml:1:19: max_header_size: must be a size from 1K to 1M");
    EXPECT_EQ(parse_error("max_header_count = 0\n"), "drover.toml:1:20: max_header_count: must be an integer from 1 to 10000");
    EXPECT_EQ(parse_error("max_connections = 0\n"), "drover.toml:1:19: max_connections: must be an integer from 1 to 1000000");
    EXPECT_EQ(parse_error("header_timeout = 0\n"), "drover.toml:1:18: header_timeout: must be greater than 0");
    EXPECT_EQ(parse_error("max_body_size = \"100 MB\"\n"),
              "drover.toml:1:17: max_body_size: must be a size in bytes: an integer, or a string like \"100M\" (K, M or G)");
    EXPECT_EQ(parse_error("max_body_size = -5\n"), "drover.toml:1:17: max_body_size: must not be negative");
}

TEST(ConfigErrors, BadDurations)
{
    EXPECT_EQ(parse_error("timeout = -1\n"), "drover.toml:1:11: timeout: must not be negative");
    EXPECT_EQ(parse_error("graceful_timeout = \"-5s\"\n"), "drover.toml:1:20: graceful_timeout: must not be negative");
    EXPECT_EQ(parse_error("timeout = 0\n"), "drover.toml:1:11: timeout: must be greater than 0");
    EXPECT_EQ(parse_error("timeout = \"5 minutes\"\n"),
              "drover.toml:1:11: timeout: must be a duration: seconds, or a number with a unit like \"500ms\", \"30s\", \"5m\", \"1h\"");
    EXPECT_EQ(parse_error("keepalive = inf\n"), "drover.toml:1:13: keepalive: must be at most 31536000 seconds (365 days)");
    EXPECT_EQ(parse_error("keepalive = nan\n"), "drover.toml:1:13: keepalive: must be a number of seconds");
}

TEST(ConfigErrors, BadEnumsAndStrings)
{
    EXPECT_EQ(parse_error("pm = \"adaptive\"\n"),
              "drover.toml:1:6: pm: must be \"static\", \"dynamic\" or \"ondemand\", got \"adaptive\"");
    EXPECT_EQ(parse_error("[log]\nlevel = \"loud\"\n"),
              "drover.toml:2:9: log.level: must be \"debug\", \"info\", \"warning\" or \"error\", got \"loud\"");
    EXPECT_EQ(parse_error("[log]\nerror = \"\"\n"), "drover.toml:2:9: log.error: must be a path or \"-\" (stderr)");
    EXPECT_EQ(parse_error("script_name = \"app\"\n"),
              "drover.toml:1:15: script_name: must start with '/' and not end with '/', like \"/app\" (or be empty)");
    EXPECT_EQ(parse_error("script_name = \"/app/\"\n"),
              "drover.toml:1:15: script_name: must start with '/' and not end with '/', like \"/app\" (or be empty)");
    EXPECT_EQ(parse_error("chdir = \"\"\n"), "drover.toml:1:9: chdir: must not be empty");
    EXPECT_EQ(parse_error("app = \"my-app:x\"\n"),
              "drover.toml:1:7: app: must be MODULE:CALLABLE with dotted Python names, like \"myapp.wsgi:application\", got \"my-app:x\"");
}

TEST(ConfigErrors, BadBindAddresses)
{
    // Each reason reaches the user with the entry's position and key.
    EXPECT_EQ(parse_error("bind = [\"ftp://h:21\"]\n"),
              "drover.toml:1:9: bind[0]: unknown protocol 'ftp' (use http, fastcgi or scgi)");
    EXPECT_EQ(parse_error("bind = [\"127.0.0.1:80\", \"127.0.0.1\"]\n"), "drover.toml:1:25: bind[1]: missing port");
    EXPECT_EQ(parse_error("bind = [{ address = \"127.0.0.1:0\" }]\n"),
              "drover.toml:1:21: bind[0].address: port out of range (1 to 65535): 0");
    EXPECT_EQ(parse_error("bind = [{ backlog = 5 }]\n"),
              "drover.toml:1:9: bind[0].address: required (or fd_name, for a socket passed by systemd)");
    EXPECT_EQ(parse_error("bind = []\n"), "drover.toml:1:8: bind: must list at least one address");
}

TEST(ConfigErrors, BadModes)
{
    EXPECT_EQ(parse_error("unix_socket_mode = \"0999\"\n"),
              "drover.toml:1:20: unix_socket_mode: must be an octal file mode from 0 to 0777, like \"0660\"");
    EXPECT_EQ(parse_error("unix_socket_mode = 0o1000\n"),
              "drover.toml:1:20: unix_socket_mode: must be an octal file mode from 0 to 0777, like \"0660\"");
    EXPECT_EQ(parse_error("unix_socket_mode = true\n"),
              "drover.toml:1:20: unix_socket_mode: expected an octal mode string like \"0660\" or an integer, got a boolean");
    EXPECT_EQ(parse_error("bind = [{ address = \"127.0.0.1:80\", mode = \"0660\" }]\n"),
              "drover.toml:1:44: bind[0].mode: only applies to unix sockets");
}

TEST(ConfigErrors, BadAllowedClients)
{
    EXPECT_EQ(parse_error("allowed_clients = [\"127.0.0.1\", \"localhost\"]\n"),
              "drover.toml:1:33: allowed_clients[1]: not an IP address or a CIDR range like \"10.0.0.0/8\": \"localhost\"");
    EXPECT_EQ(parse_error("allowed_clients = [\"10.0.0.0/8\", \"::/129\"]\n"),
              "drover.toml:1:34: allowed_clients[1]: the prefix length must be from 0 to 128 for IPv6: \"::/129\"");
    EXPECT_EQ(parse_error("allowed_clients = [\"192.168.1.1/16\"]\n"),
              "drover.toml:1:20: allowed_clients[0]: bits set after the prefix length in \"192.168.1.1/16\" (the range "
              "is \"192.168.0.0/16\")");
    EXPECT_EQ(parse_error("allowed_clients = [\"*\"]\n"),
              "drover.toml:1:20: allowed_clients[0]: \"*\" is not a client address: [] allows every client");
    EXPECT_EQ(parse_error("bind = [{ address = \"127.0.0.1:80\", allowed_clients = [\"::1\", \"10.0.0.0/40\"] }]\n"),
              "drover.toml:1:63: bind[0].allowed_clients[1]: the prefix length must be from 0 to 32 for IPv4: "
              "\"10.0.0.0/40\"");
    EXPECT_EQ(parse_error("allowed_clients = \"::1\"\n"),
              "drover.toml:1:19: allowed_clients: expected an array, got a string");
    EXPECT_EQ(parse_error("bind = [{ address = \"unix:/run/d.sock\", allowed_clients = [\"::1\"] }]\n"),
              "drover.toml:1:59: bind[0].allowed_clients: only applies to TCP listeners");
}

TEST(ConfigErrors, BadForwardedAllowIps)
{
    EXPECT_EQ(parse_error("forwarded_allow_ips = [\"127.0.0.1\", \"proxy.internal\"]\n"),
              "drover.toml:1:37: forwarded_allow_ips[1]: not an IP address or a CIDR range like \"10.0.0.0/8\": "
              "\"proxy.internal\"");
    EXPECT_EQ(parse_error("forwarded_allow_ips = \"*\"\n"),
              "drover.toml:1:23: forwarded_allow_ips: expected an array, got a string");
    EXPECT_EQ(parse_error("forwarded_allow_ips = [\"10.0.0.0/8/8\"]\n"),
              "drover.toml:1:24: forwarded_allow_ips[0]: the prefix length must be from 0 to 32 for IPv4: "
              "\"10.0.0.0/8/8\"");
}

TEST(ConfigFile, ForwardedAllowIpsTakesRangesAndStar)
{
    EXPECT_EQ(parse_config_text("", "drover.toml").app.forwarded_allow_ips,
              (std::vector<std::string>{"127.0.0.1", "::1"}));
    EXPECT_EQ(parse_config_text("forwarded_allow_ips = [\"*\"]\n", "drover.toml").app.forwarded_allow_ips,
              (std::vector<std::string>{"*"}));
    EXPECT_EQ(parse_config_text("forwarded_allow_ips = []\n", "drover.toml").app.forwarded_allow_ips,
              (std::vector<std::string>{}));
    EXPECT_EQ(parse_config_text("forwarded_allow_ips = [\"0:0::1/128\", \"10.0.0.0/8\"]\n", "drover.toml")
                  .app.forwarded_allow_ips,
              (std::vector<std::string>{"::1/128", "10.0.0.0/8"}));
}

TEST(ConfigErrors, BadMetricsAddress)
{
    EXPECT_EQ(parse_error("[metrics]\naddress = \"unix:/run/m.sock\"\n"),
              "drover.toml:2:11: metrics.address: must be HOST:PORT or [V6]:PORT");
    EXPECT_EQ(parse_error("[metrics]\naddress = \"127.0.0.1\"\n"), "drover.toml:2:11: metrics.address: missing port");
}

// ---------------------------------------------------------------- the disk

TEST(ConfigLoad, UnreadableFile)
{
    TempDir dir;
    CommandLine cmd;
    cmd.config_file = dir.str() + "/missing.toml";
    EXPECT_EQ(error_of([&] { load_config(cmd); }), dir.str() + "/missing.toml: cannot read: No such file or directory");
    cmd.config_file = dir.str();
    EXPECT_EQ(error_of([&] { load_config(cmd); }), dir.str() + ": cannot read: Is a directory");
}

TEST(ConfigLoad, SyntaxErrorNamesTheFileAsGiven)
{
    TempDir dir;
    std::string file = dir.write("bad.toml", "app = \"a:b\n");
    CommandLine cmd;
    cmd.config_file = file;
    std::string err = error_of([&] { load_config(cmd); });
    EXPECT_EQ(err.rfind(file + ":1:", 0), 0u) << err;
    EXPECT_NE(err.find(": syntax error: "), std::string::npos) << err;
}

// ---------------------------------------------------------------- systemd sockets, socket owners

TEST(ConfigFile, ABindEntryMayNameItsSystemdSocketAndProtocol)
{
    Config c = parse_config_text(R"(app = "a"
bind = [
  { fd_name = "web", protocol = "fastcgi" },
  { address = "127.0.0.1:8000", fd_name = "api" },
  { address = "unix:/run/d/app.sock", owner = "drover", group = "www-data", mode = "0600" },
  "unix:/run/d/other.sock",
]
unix_socket_owner = "app"
unix_socket_group = "nginx"
)",
                                 "drover.toml");
    ASSERT_EQ(c.listeners.size(), 4u);
    EXPECT_FALSE(c.listeners[0].has_address);
    EXPECT_EQ(c.listeners[0].fd_name, "web");
    EXPECT_EQ(c.listeners[0].protocol, Protocol::fastcgi);
    EXPECT_EQ(c.listeners[0].text, "fastcgi://fd:web");
    EXPECT_TRUE(c.listeners[1].has_address);
    EXPECT_EQ(c.listeners[1].fd_name, "api");
    EXPECT_EQ(c.listeners[1].protocol, Protocol::http);
    EXPECT_EQ(c.listeners[2].owner, "drover");
    EXPECT_EQ(c.listeners[2].group, "www-data");
    EXPECT_EQ(c.listeners[2].mode, 0600u);
    // The top-level keys fill in what an entry does not set.
    EXPECT_EQ(c.listeners[3].owner, "app");
    EXPECT_EQ(c.listeners[3].group, "nginx");
    EXPECT_EQ(c.listeners[3].fd_name, "");
}

TEST(ConfigErrors, BadSystemdSocketEntries)
{
    EXPECT_EQ(parse_error("bind = [{ fd_name = \"a:b\" }]\n"),
              "drover.toml:1:21: bind[0].fd_name: must be 1 to 255 printable ASCII characters without ':', got \"a:b\"");
    EXPECT_EQ(parse_error("bind = [{ fd_name = \"\" }]\n"),
              "drover.toml:1:21: bind[0].fd_name: must be 1 to 255 printable ASCII characters without ':', got \"\"");
    EXPECT_EQ(parse_error("bind = [{ fd_name = \"web\", protocol = \"ftp\" }]\n"),
              "drover.toml:1:39: bind[0].protocol: unknown protocol 'ftp' (use http, fastcgi or scgi)");
    EXPECT_EQ(parse_error("bind = [{ address = \"scgi://127.0.0.1:9\", protocol = \"http\" }]\n"),
              "drover.toml:1:54: bind[0].protocol: differs from the address's \"scgi://127.0.0.1:9\"");
    EXPECT_EQ(parse_error("bind = [{ address = \"127.0.0.1:9\", owner = \"www-data\" }]\n"),
              "drover.toml:1:44: bind[0].owner: only applies to unix sockets");
    EXPECT_EQ(parse_error("bind = [{ address = \"127.0.0.1:9\", group = \"www-data\" }]\n"),
              "drover.toml:1:44: bind[0].group: only applies to unix sockets");
    EXPECT_EQ(error_of([] {
                  validate_config(parse_config_text(
                      "app = \"a\"\nbind = [{ fd_name = \"web\" }, { address = \"127.0.0.1:9\", fd_name = \"web\" }]\n",
                      "drover.toml"));
              }),
              "drover.toml:2:67: bind[1].fd_name: duplicate fd_name \"web\" (bind[0] takes it)");
}

} // namespace
} // namespace drover

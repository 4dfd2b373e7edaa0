// supervisor/config.cpp: the TOML file, its merge with the flags, and the
// exact error messages (file:line:column: key: ...) users rely on.
#include "supervisor/config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

namespace drover {
namespace {

namespace fs = std::filesystem;

/// A fresh directory under /tmp, removed with everything in it.
class TempDir {
public:
    TempDir()
    {
        char tmpl[] = "/tmp/drover-config-test-XXXXXX";
        const char* made = ::mkdtemp(tmpl);
        if (!made)
            throw std::runtime_error("mkdtemp failed");
        path_ = made;
    }
    ~TempDir()
    {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const fs::path& path() const { return path_; }
    std::string str() const { return path_.string(); }

    std::string write(const std::string& name, const std::string& text) const
    {
        fs::path p = path_ / name;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p.string();
    }
    std::string mkdir(const std::string& name) const
    {
        fs::create_directories(path_ / name);
        return (path_ / name).string();
    }

private:
    fs::path path_;
};

/// The ConfigError message fn throws, or a marker that it threw none.
std::string error_of(const std::function<void()>& fn)
{
    try {
        fn();
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "<no ConfigError>";
}

std::string parse_error(const std::string& text)
{
    return error_of([&] { parse_config_text(text, "drover.toml"); });
}

/// Parses and validates: the path `drover --check` takes, minus the disk.
std::string check_error(const std::string& text)
{
    return error_of([&] { validate_config(parse_config_text(text, "drover.toml")); });
}

std::string address_error(const std::string& text)
{
    try {
        parse_listen_address(text);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "<no error>";
}

const std::string kAppRequired =
    "app: required (set app = \"module:callable\" in the file or pass MODULE:CALLABLE)";

// ---------------------------------------------------------------- good files

TEST(ConfigFile, EveryKeyIsRead)
{
    const std::string text = R"(app = "myapp.wsgi:app"
bind = [
  "fastcgi://unix:run/drover.sock",
  { address = "[::1]:8080", backlog = 128, allowed_clients = ["::1", "0:0::2", "127.0.0.1"] },
  { address = "scgi://unix:/run/s.sock", mode = "0600" },
  "localhost:8001",
]
backlog = 512
unix_socket_mode = 0o640
allowed_clients = ["10.0.0.1"]
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
    EXPECT_EQ(v6.allowed_clients, (std::vector<std::string>{"::1", "::2", "127.0.0.1"}));

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

TEST(ConfigLoad, FullFileFromDiskWithDirectories)
{
    TempDir dir;
    dir.mkdir("app");
    dir.write("venv/pyvenv.cfg", "home = /usr/bin\n");
    std::string file = dir.write("drover.toml", R"(app = "site.wsgi"
chdir = "app"
virtualenv = "venv"
bind = ["unix:drover.sock", "scgi://127.0.0.1:9000"]
)");
    CommandLine cmd;
    cmd.config_file = file;
    Config c = load_config(cmd);
    EXPECT_EQ(c.file, file);
    EXPECT_EQ(c.app.callable, "site.wsgi:application");
    EXPECT_EQ(c.app.chdir, dir.str() + "/app");
    EXPECT_EQ(c.app.virtualenv, dir.str() + "/venv");
    ASSERT_EQ(c.listeners.size(), 2u);
    EXPECT_EQ(c.listeners[0].path, dir.str() + "/drover.sock");
    EXPECT_EQ(c.listeners[1].protocol, Protocol::scgi);
}

TEST(ConfigLoad, FlagsOverrideTheFile)
{
    TempDir dir;
    std::string file = dir.write("drover.toml", R"(app = "from.file:app"
bind = ["127.0.0.1:8000", "127.0.0.1:8001"]
unix_socket_mode = "0600"
backlog = 64
workers = 3
timeout = 10
max_requests = 5
pythonpath = ["lib"]
[metrics]
address = "127.0.0.1:9100"
)");
    CommandLine cmd;
    cmd.config_file = file;
    cmd.binds = {"fastcgi://unix:run/app.sock", "[::1]:9000"};
    cmd.workers = 7;
    cmd.timeout = 2.5;
    cmd.max_requests = 100;
    cmd.pythonpath = {"src", "/abs"};
    cmd.metrics_address = "";
    cmd.preload = true;
    cmd.callable = "from.flag";
    Config c = load_config(cmd);

    ASSERT_EQ(c.listeners.size(), 2u);
    EXPECT_EQ(c.listeners[0].protocol, Protocol::fastcgi);
    EXPECT_EQ(c.listeners[0].path, (fs::current_path() / "run/app.sock").string());
    EXPECT_EQ(c.listeners[0].mode, 0600u);  // the file's default still applies
    EXPECT_EQ(c.listeners[0].backlog, 64);
    EXPECT_EQ(c.listeners[1].host, "::1");
    EXPECT_EQ(c.workers, 7u);
    EXPECT_EQ(c.app.max_conns, 7u);
    EXPECT_DOUBLE_EQ(c.timeout, 2.5);
    EXPECT_DOUBLE_EQ(c.app.io_timeout, 2.5);
    EXPECT_EQ(c.max_requests, 100u);
    EXPECT_EQ(c.app.pythonpath, (std::vector<std::string>{(fs::current_path() / "src").string(), "/abs"}));
    EXPECT_EQ(c.metrics_address, "");
    EXPECT_TRUE(c.preload);
    EXPECT_EQ(c.app.callable, "from.flag:application");
    EXPECT_EQ(c.origins["workers"].where, "command line: -w");
    EXPECT_EQ(c.origins.count("bind[1]"), 1u);
    EXPECT_EQ(c.origins["bind[1]"].where, "command line: -b");
}

TEST(ConfigLoad, WithoutAFileFlagsAndDefaults)
{
    CommandLine cmd;
    cmd.callable = "app:make";
    Config c = load_config(cmd);
    EXPECT_EQ(c.file, "");
    EXPECT_EQ(c.app.callable, "app:make");
    ASSERT_EQ(c.listeners.size(), 1u);
    EXPECT_EQ(c.listeners[0].text, "http://127.0.0.1:8000");
    EXPECT_EQ(c.workers, 2u);
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
    EXPECT_EQ(parse_error("bind = [{ backlog = 5 }]\n"), "drover.toml:1:9: bind[0].address: required");
    EXPECT_EQ(parse_error("bind = []\n"), "drover.toml:1:8: bind: must list at least one address");
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
              "drover.toml:1:33: allowed_clients[1]: not an IPv4 or IPv6 address: \"localhost\"");
    EXPECT_EQ(parse_error("allowed_clients = \"::1\"\n"),
              "drover.toml:1:19: allowed_clients: expected an array, got a string");
    EXPECT_EQ(parse_error("bind = [{ address = \"unix:/run/d.sock\", allowed_clients = [\"::1\"] }]\n"),
              "drover.toml:1:59: bind[0].allowed_clients: only applies to TCP listeners");
}

TEST(ConfigErrors, BadMetricsAddress)
{
    EXPECT_EQ(parse_error("[metrics]\naddress = \"unix:/run/m.sock\"\n"),
              "drover.toml:2:11: metrics.address: must be HOST:PORT or [V6]:PORT");
    EXPECT_EQ(parse_error("[metrics]\naddress = \"127.0.0.1\"\n"), "drover.toml:2:11: metrics.address: missing port");
}

// ---------------------------------------------------------------- cross-field

TEST(ConfigCrossField, DynamicSpareOrder)
{
    EXPECT_EQ(check_error("app = \"a:b\"\npm = \"dynamic\"\nmax_spare = 2\nmin_spare = 3\n"),
              "drover.toml:4:13: min_spare: must be at most max_spare (2)");
    // The same conflict written the other way round blames the other key.
    EXPECT_EQ(check_error("app = \"a:b\"\npm = \"dynamic\"\nmin_spare = 3\nmax_spare = 2\n"),
              "drover.toml:4:13: max_spare: must be at least min_spare (3)");
    EXPECT_EQ(check_error("app = \"a:b\"\npm = \"dynamic\"\nmin_spare = 0\n"),
              "drover.toml:3:13: min_spare: must be at least 1 with pm = \"dynamic\"");
    EXPECT_EQ(check_error("app = \"a:b\"\npm = \"dynamic\"\nmax_workers = 4\nmax_spare = 5\n"),
              "drover.toml:4:13: max_spare: must be at most max_workers (4)");
}

TEST(ConfigCrossField, DynamicWorkersBetweenSpareAndMax)
{
    EXPECT_EQ(check_error("app = \"a:b\"\npm = \"dynamic\"\nworkers = 10\nmax_workers = 5\nmax_spare = 4\n"),
              "drover.toml:4:15: max_workers: must be at least workers (10)");
    // max_workers keeps its default: the key in the file is blamed.
    EXPECT_EQ(check_error("app = \"a:b\"\npm = \"dynamic\"\nworkers = 20\n"),
              "drover.toml:3:11: workers: must be at most max_workers (8)");
    EXPECT_EQ(check_error("app = \"a:b\"\npm = \"dynamic\"\nmin_spare = 3\nworkers = 2\n"),
              "drover.toml:4:11: workers: must be at least min_spare (3)");
    // Static pools do not look at the spare settings.
    EXPECT_EQ(check_error("app = \"a:b\"\nworkers = 20\nmin_spare = 9\n"), "<no ConfigError>");
}

TEST(ConfigCrossField, NoPositionFallsBackToFileAndKey)
{
    Config c = parse_config_text("app = \"a:b\"\n", "drover.toml");
    c.pm = ProcessManager::dynamic_pool;
    c.min_spare = 5;
    EXPECT_EQ(error_of([&] { validate_config(c); }), "drover.toml: min_spare: must be at most max_spare (3)");
    c.file.clear();
    EXPECT_EQ(error_of([&] { validate_config(c); }), "command line: min_spare: must be at most max_spare (3)");
}

TEST(ConfigCrossField, OndemandNeedsMaxWorkers)
{
    Config c = parse_config_text("app = \"a:b\"\npm = \"ondemand\"\nmax_workers = 3\n", "drover.toml");
    EXPECT_NO_THROW(validate_config(c));
    EXPECT_EQ(c.app.max_conns, 3u);
    c.max_workers = 0;
    EXPECT_EQ(error_of([&] { validate_config(c); }),
              "drover.toml:3:15: max_workers: must be at least 1 with pm = \"ondemand\"");
}

TEST(ConfigCrossField, JitterAndTimeouts)
{
    EXPECT_EQ(check_error("app = \"a:b\"\nmax_requests = 10\nmax_requests_jitter = 20\n"),
              "drover.toml:3:23: max_requests_jitter: must be at most max_requests (10)");
    EXPECT_EQ(check_error("app = \"a:b\"\nmax_requests_jitter = 20\n"), "<no ConfigError>");
    EXPECT_EQ(check_error("app = \"a:b\"\ntimeout = 10\nslow_request_timeout = \"10s\"\n"),
              "drover.toml:3:24: slow_request_timeout: must be less than timeout (10s)");
    EXPECT_EQ(check_error("app = \"a:b\"\nslow_request_timeout = \"10s\"\ntimeout = 5\n"),
              "drover.toml:3:11: timeout: must be greater than slow_request_timeout (10s)");
    EXPECT_EQ(check_error("app = \"a:b\"\nslow_request_timeout = 45\n"),
              "drover.toml:2:24: slow_request_timeout: must be less than timeout (30s)");
}

TEST(ConfigCrossField, DuplicateListeners)
{
    EXPECT_EQ(check_error("app = \"a:b\"\nbind = [\"127.0.0.1:8000\", \"fastcgi://127.0.0.1:8000\"]\n"),
              "drover.toml:2:27: bind[1]: duplicate address (same as \"127.0.0.1:8000\")");
    EXPECT_EQ(check_error("app = \"a:b\"\nbind = [\"[::1]:80\", { address = \"[0:0::1]:80\" }]\n"),
              "drover.toml:2:21: bind[1]: duplicate address (same as \"[::1]:80\")");
    EXPECT_EQ(check_error("app = \"a:b\"\nbind = [\"unix:/run/a.sock\", \"scgi://unix:/run/../run/a.sock\"]\n"),
              "drover.toml:2:29: bind[1]: duplicate address (same as \"unix:/run/a.sock\")");
    EXPECT_EQ(check_error("app = \"a:b\"\nbind = [\"127.0.0.1:80\", \"127.0.0.1:81\", \"[::1]:80\"]\n"), "<no ConfigError>");
}

TEST(ConfigCrossField, AtMost64Listeners)
{
    std::string binds;
    for (int i = 0; i < 65; ++i)
        binds += (i ? ", " : "") + std::string("\"127.0.0.1:") + std::to_string(10000 + i) + "\"";
    EXPECT_EQ(check_error("app = \"a:b\"\nbind = [" + binds + "]\n"), "drover.toml:2:8: bind: at most 64 listeners, got 65");
}

TEST(ConfigCrossField, MissingApp)
{
    EXPECT_EQ(check_error("workers = 2\n"), "drover.toml: " + kAppRequired);
    EXPECT_EQ(error_of([] { load_config(CommandLine{}); }), "command line: " + kAppRequired);
}

TEST(ConfigCrossField, FlagConflictsNameTheFlag)
{
    TempDir dir;
    std::string file = dir.write("drover.toml", "app = \"a:b\"\npm = \"dynamic\"\nmax_workers = 8\n");
    CommandLine cmd;
    cmd.config_file = file;
    cmd.workers = 20;
    EXPECT_EQ(error_of([&] { load_config(cmd); }), "command line: -w: must be at most max_workers (8)");

    CommandLine dup;
    dup.callable = "a:b";
    dup.binds = {"127.0.0.1:9000", "scgi://127.0.0.1:9000"};
    EXPECT_EQ(error_of([&] { load_config(dup); }), "command line: -b: duplicate address (same as \"127.0.0.1:9000\")");
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

TEST(ConfigLoad, VirtualenvWithoutPyvenvCfg)
{
    TempDir dir;
    dir.mkdir("venv");
    std::string file = dir.write("drover.toml", "app = \"a:b\"\nvirtualenv = \"venv\"\n");
    CommandLine cmd;
    cmd.config_file = file;
    EXPECT_EQ(error_of([&] { load_config(cmd); }),
              file + ":2:14: virtualenv: not a virtualenv (no pyvenv.cfg in " + dir.str() + "/venv)");

    dir.write("venv/pyvenv.cfg", "");
    EXPECT_EQ(error_of([&] { load_config(cmd); }), "<no ConfigError>");

    // From the command line, relative to the current directory.
    cmd.virtualenv = dir.str() + "/nowhere";
    EXPECT_EQ(error_of([&] { load_config(cmd); }),
              "command line: --virtualenv: directory does not exist: " + dir.str() + "/nowhere");
}

TEST(ConfigLoad, ChdirMustBeADirectory)
{
    TempDir dir;
    dir.write("plain", "");
    std::string file = dir.write("drover.toml", "app = \"a:b\"\nchdir = \"nope\"\n");
    CommandLine cmd;
    cmd.config_file = file;
    EXPECT_EQ(error_of([&] { load_config(cmd); }), file + ":2:9: chdir: directory does not exist: " + dir.str() + "/nope");
    cmd.chdir = dir.str() + "/plain";
    EXPECT_EQ(error_of([&] { load_config(cmd); }), "command line: --chdir: not a directory: " + dir.str() + "/plain");
    // The flag replaces the file's setting, so its directory is the one checked.
    cmd.chdir = dir.str();
    EXPECT_EQ(error_of([&] { load_config(cmd); }), "<no ConfigError>");
}

TEST(ConfigLoad, BadFlagValuesFoundWhenMerging)
{
    CommandLine cmd;
    cmd.callable = "a:b";
    cmd.binds = {"ftp://x:1"};
    EXPECT_EQ(error_of([&] { load_config(cmd); }), "command line: -b: unknown protocol 'ftp' (use http, fastcgi or scgi)");
    cmd.binds.clear();
    cmd.callable = "not valid";
    EXPECT_EQ(error_of([&] { load_config(cmd); }),
              "command line: MODULE:CALLABLE: must be MODULE:CALLABLE with dotted Python names, like \"myapp.wsgi:application\", got \"not valid\"");
}

// ---------------------------------------------------------------- value parsers

TEST(ValueParsers, Durations)
{
    EXPECT_DOUBLE_EQ(parse_duration("250ms"), 0.25);
    EXPECT_DOUBLE_EQ(parse_duration("7"), 7.0);
    EXPECT_DOUBLE_EQ(parse_duration("2h"), 7200.0);
    EXPECT_THROW(parse_duration(""), std::invalid_argument);
    EXPECT_THROW(parse_duration("s"), std::invalid_argument);
    EXPECT_THROW(parse_duration("5d"), std::invalid_argument);
    EXPECT_THROW(parse_duration("1e3"), std::invalid_argument);
    EXPECT_THROW(parse_duration("inf"), std::invalid_argument);
    EXPECT_THROW(parse_duration("1.2.3s"), std::invalid_argument);
    EXPECT_THROW(parse_duration("-1s"), std::invalid_argument);
    EXPECT_THROW(parse_duration("9999999h"), std::invalid_argument);
}

TEST(ValueParsers, AppCallable)
{
    EXPECT_EQ(parse_app_callable("pkg.mod:obj.app"), "pkg.mod:obj.app");
    EXPECT_EQ(parse_app_callable("_private"), "_private:application");
    for (const char* bad : {"", ":app", "mod:", "1mod:app", "mod:app()", "a..b:c", "mod.:app", "a:b:c", "my mod"})
        EXPECT_THROW(parse_app_callable(bad), std::invalid_argument) << bad;
}

TEST(ValueParsers, MetricsAddress)
{
    EXPECT_EQ(parse_metrics_address("[::]:9100").family, ListenSpec::Family::inet6);
    EXPECT_EQ(parse_metrics_address("0.0.0.0:9100").port, 9100);
    EXPECT_THROW(parse_metrics_address("http://127.0.0.1:9100"), std::invalid_argument);
    EXPECT_THROW(parse_metrics_address("127.0.0.1:0"), std::invalid_argument);
}

} // namespace
} // namespace drover

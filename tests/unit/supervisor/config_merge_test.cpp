// supervisor/config_merge.cpp: the flags over the file, and the cross-field
// checks of validate_config(), each blamed on the setting written last.
#include "supervisor/config_merge.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "supervisor/config.hpp"
#include "tests/unit/supervisor/config_test_util.hpp"

namespace drover {
namespace {

namespace fs = std::filesystem;

/// Parses and validates: the path `drover --check` takes, minus the disk.
std::string check_error(const std::string& text)
{
    return error_of([&] { validate_config(parse_config_text(text, "drover.toml")); });
}

const std::string kAppRequired =
    "app: required (set app = \"module:callable\" in the file or pass MODULE:CALLABLE)";

// ---------------------------------------------------------------- flags over the file

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

} // namespace
} // namespace drover

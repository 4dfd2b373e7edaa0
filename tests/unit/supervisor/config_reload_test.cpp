// supervisor/config_reload.cpp: which changed keys a SIGHUP applies and which
// wait for a restart, named one by one, and the running values a reload keeps.
#include "supervisor/config_reload.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "supervisor/config_schema.hpp"
#include "tests/unit/supervisor/config_examples.hpp"

namespace drover {
namespace {

using Keys = std::vector<std::string>;

Config parse(const std::string& text)
{
    return parse_config_text(text, "drover.toml");
}

TEST(ReloadDiff, NothingChanged)
{
    const Config c = parse("app = \"a:b\"\nbind = [\"127.0.0.1:80\", { address = \"unix:/run/a.sock\", mode = 0o600 }]\n");
    ReloadDiff diff = diff_for_reload(c, c);
    EXPECT_TRUE(diff.applied.empty());
    EXPECT_TRUE(diff.restart.empty());
    // Where a key was written is not its value.
    diff = diff_for_reload(parse("workers = 3\n"), parse("\n\nworkers = 3\n"));
    EXPECT_TRUE(diff.applied.empty());
}

TEST(ReloadDiff, EachKeyIsNamedInItsOwnColumn)
{
    const Config defaults = parse("");
    for (const FileExample& e : kFileExamples) {
        const Setting* row = find_setting(e.key);
        ASSERT_NE(row, nullptr) << e.key;
        const ReloadDiff diff = diff_for_reload(defaults, parse(toml_setting(e.key, e.good)));
        const Keys just_this{std::string(e.key)};
        if (row->on_reload == OnReload::restart) {
            EXPECT_EQ(diff.restart, just_this) << e.key;
            EXPECT_TRUE(diff.applied.empty()) << e.key;
        } else {
            EXPECT_EQ(diff.applied, just_this) << e.key;
            EXPECT_TRUE(diff.restart.empty()) << e.key;
        }
    }
}

TEST(ReloadDiff, RestartOnlyKeysAreWhatTheMasterOpensOnce)
{
    // Listening sockets (kept open across reloads), privileges, the pidfile,
    // the metrics server and the connection park are made before the first
    // worker; everything else reaches the master's tick or the new workers.
    std::set<std::string> restart;
    for (const Setting& s : settings())
        if (s.is_key() && s.on_reload == OnReload::restart)
            restart.emplace(s.key);
    EXPECT_EQ(restart, (std::set<std::string>{"allowed_clients", "backlog", "bind", "group", "keepalive",
                                              "metrics.address", "pidfile", "unix_socket_group", "unix_socket_mode",
                                              "unix_socket_owner", "user"}));
}

TEST(ReloadDiff, SeveralKeysInTableOrder)
{
    const ReloadDiff diff = diff_for_reload(parse("workers = 2\nuser = \"a\"\n"),
                                            parse("timeout = 5\nuser = \"b\"\nworkers = 4\nbind = [\"127.0.0.1:81\"]\n"
                                                  "[log]\nlevel = \"debug\"\n"));
    EXPECT_EQ(diff.applied, (Keys{"workers", "timeout", "log.level"}));
    EXPECT_EQ(diff.restart, (Keys{"bind", "user"}));
}

TEST(ReloadDiff, ABindEntrysOwnOptionIsBindAndATopLevelDefaultIsItsOwnKey)
{
    const Config old = parse("bind = [\"127.0.0.1:80\", { address = \"unix:/run/a.sock\", mode = \"0600\" }]\n");
    // The entry's own mode changes: bind.
    EXPECT_EQ(diff_for_reload(old, parse("bind = [\"127.0.0.1:80\", { address = \"unix:/run/a.sock\", mode = \"0644\" }]\n"))
                  .restart,
              Keys{"bind"});
    // The default every other listener takes changes: backlog, not bind,
    // though the first listener's backlog is different now.
    EXPECT_EQ(diff_for_reload(old, parse("bind = [\"127.0.0.1:80\", { address = \"unix:/run/a.sock\", mode = \"0600\" }]\n"
                                         "backlog = 16\n"))
                  .restart,
              Keys{"backlog"});
    // The same entry written as a table is the same listener.
    EXPECT_TRUE(diff_for_reload(parse("bind = [\"127.0.0.1:80\"]\n"), parse("bind = [{ address = \"127.0.0.1:80\" }]\n"))
                    .restart.empty());
    // The order of listeners is their identity in metrics and logs.
    EXPECT_EQ(diff_for_reload(parse("bind = [\"127.0.0.1:80\", \"127.0.0.1:81\"]\n"),
                              parse("bind = [\"127.0.0.1:81\", \"127.0.0.1:80\"]\n"))
                  .restart,
              Keys{"bind"});
}

TEST(ReloadDiff, KeepRestartOnlyPutsTheRunningValuesBack)
{
    const Config old = parse("app = \"a:b\"\nworkers = 2\nuser = \"www-data\"\nkeepalive = 5\nbacklog = 64\n"
                             "[metrics]\naddress = \"127.0.0.1:9100\"\n");
    Config fresh = parse("app = \"c:d\"\nworkers = 4\nuser = \"nobody\"\nkeepalive = 0\nbind = [\"127.0.0.1:81\"]\n"
                         "[metrics]\naddress = \"\"\n");
    keep_restart_only(fresh, old);
    EXPECT_EQ(fresh.user, "www-data");
    EXPECT_DOUBLE_EQ(fresh.app.keepalive, 5.0);
    EXPECT_EQ(fresh.metrics_address, "127.0.0.1:9100");
    ASSERT_EQ(fresh.listeners.size(), 1u);
    EXPECT_EQ(fresh.listeners[0].text, "http://127.0.0.1:8000");
    EXPECT_EQ(fresh.listeners[0].backlog, 64);
    EXPECT_EQ(fresh.listener_defaults.backlog, 64);
    // What the reload applies stays new.
    EXPECT_EQ(fresh.app.callable, "c:d");
    EXPECT_EQ(fresh.workers, 4u);
    const ReloadDiff left = diff_for_reload(old, fresh);
    EXPECT_EQ(left.applied, (Keys{"app", "workers"}));
    EXPECT_TRUE(left.restart.empty());
}

TEST(ReloadDiff, LogsEachRestartOnlyKeyByName)
{
    ReloadDiff diff;
    diff.applied = {"workers", "timeout"};
    diff.restart = {"bind", "metrics.address"};
    ::testing::internal::CaptureStderr();
    log_reload_diff(diff);
    const std::string log = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(log.find("warning: master: SIGHUP: bind changed; it takes effect at the next restart\n"), std::string::npos) << log;
    EXPECT_NE(log.find("warning: master: SIGHUP: metrics.address changed; it takes effect at the next restart\n"),
              std::string::npos) << log;
    EXPECT_NE(log.find("info: master: SIGHUP: changed and applied: workers, timeout\n"), std::string::npos) << log;
}

} // namespace
} // namespace drover

// One good and one bad value for every key of the settings table, as the
// file writes them, shared by the tests of the table and of the reload diff.
// A new key fails config_schema_test until it has its line here.
#pragma once

#include <string>
#include <string_view>

#include "base/log.hpp"

namespace drover {

/// A value as written in the file, and one it refuses with the message
/// after "drover.toml:".
struct FileExample {
    std::string_view key;
    std::string_view good;
    std::string_view bad;
    std::string_view error;
};

// clang-format off
inline constexpr FileExample kFileExamples[] = {
    {"app", R"("pkg.wsgi:app")", R"("my-app")",
     R"(1:7: app: must be MODULE:CALLABLE with dotted Python names, like "myapp.wsgi:application", got "my-app")"},
    {"bind", R"(["fastcgi:///run/app.sock"])", R"(["127.0.0.1"])", "1:9: bind[0]: missing port"},
    {"workers", "4", "0", "1:11: workers: must be an integer from 1 to 1024"},
    {"metrics.address", R"("[::1]:9100")", R"("unix:/run/m.sock")", "2:11: metrics.address: must be HOST:PORT or [V6]:PORT"},
    {"timeout", R"("45s")", "0", "1:11: timeout: must be greater than 0"},
    {"max_requests", "1000", "-1", "1:16: max_requests: must be a non-negative integer"},
    {"pythonpath", R"(["/srv/lib"])", R"(["/a", ""])", "1:21: pythonpath[1]: must not be empty"},
    {"chdir", R"("/srv/app")", R"("")", "1:9: chdir: must not be empty"},
    {"virtualenv", R"("/srv/venv")", "3", "1:14: virtualenv: expected a string, got an integer"},
    {"preload", "true", R"("yes")", "1:11: preload: expected a boolean, got a string"},
    {"script_name", R"("/app")", R"("/app/")",
     R"(1:15: script_name: must start with '/' and not end with '/', like "/app" (or be empty))"},
    {"max_body_size", R"("10M")", R"("100 MB")",
     R"(1:17: max_body_size: must be a size in bytes: an integer, or a string like "100M" (K, M or G))"},
    {"max_header_size", R"("16K")", R"("2M")", "1:19: max_header_size: must be a size from 1K to 1M"},
    {"max_header_count", "50", "10001", "1:20: max_header_count: must be an integer from 1 to 10000"},
    {"header_timeout", R"("3s")", "0", "1:18: header_timeout: must be greater than 0"},
    {"max_connections", "64", "0", "1:19: max_connections: must be an integer from 1 to 1000000"},
    {"keepalive", "0", R"("-1s")", "1:13: keepalive: must not be negative"},
    {"backlog", "512", "70000", "1:11: backlog: must be an integer from 1 to 65535"},
    {"unix_socket_mode", "0o600", R"("0999")",
     R"(1:20: unix_socket_mode: must be an octal file mode from 0 to 0777, like "0660")"},
    {"unix_socket_owner", R"("drover")", "0", "1:21: unix_socket_owner: expected a string, got an integer"},
    {"unix_socket_group", R"("www-data")", "[]", "1:21: unix_socket_group: expected a string, got an array"},
    {"allowed_clients", R"(["127.0.0.1", "10.0.0.0/8"])", R"(["localhost"])",
     R"(1:20: allowed_clients[0]: not an IP address or a CIDR range like "10.0.0.0/8": "localhost")"},
    {"forwarded_allow_ips", R"(["10.0.0.0/8", "*"])", R"(["10.0.0.1/8"])",
     R"(1:24: forwarded_allow_ips[0]: bits set after the prefix length in "10.0.0.1/8" (the range is "10.0.0.0/8"))"},
    {"pm", R"("ondemand")", R"("adaptive")", R"(1:6: pm: must be "static", "dynamic" or "ondemand", got "adaptive")"},
    {"min_spare", "2", "1025", "1:13: min_spare: must be an integer from 0 to 1024"},
    {"max_spare", "6", "-1", "1:13: max_spare: must be an integer from 0 to 1024"},
    {"max_workers", "16", "0", "1:15: max_workers: must be an integer from 1 to 1024"},
    {"idle_timeout", R"("1m")", "0", "1:16: idle_timeout: must be greater than 0"},
    {"max_requests_jitter", "50", "-5", "1:23: max_requests_jitter: must be a non-negative integer"},
    {"max_rss", "512", R"("512M")", "1:11: max_rss: expected an integer, got a string"},
    {"max_lifetime", R"("1h")", R"("1d")",
     R"(1:16: max_lifetime: must be a duration: seconds, or a number with a unit like "500ms", "30s", "5m", "1h")"},
    {"user", R"("www-data")", "1000", "1:8: user: expected a string, got an integer"},
    {"group", R"("nogroup")", "false", "1:9: group: expected a string, got a boolean"},
    {"pidfile", R"("/run/drover.pid")", "[]", "1:11: pidfile: expected a string, got an array"},
    {"slow_request_timeout", "10.5", "nan", "1:24: slow_request_timeout: must be a number of seconds"},
    {"graceful_timeout", R"("500ms")", R"("-5s")", "1:20: graceful_timeout: must not be negative"},
    {"startup_timeout", R"("2m")", "inf", "1:19: startup_timeout: must be at most 31536000 seconds (365 days)"},
    {"max_unavailable", "2", "0", "1:19: max_unavailable: must be an integer from 1 to 1024"},
    {"log.error", R"("/var/log/drover/error.log")", R"("")", R"(2:9: log.error: must be a path or "-" (stderr))"},
    {"log.access", R"("-")", "1", "2:10: log.access: expected a string, got an integer"},
    {"log.level", R"("debug")", R"("loud")", R"(2:9: log.level: must be "debug", "info", "warning" or "error", got "loud")"},
    {"metrics.healthz_max_queue", "16", "-1", "2:21: metrics.healthz_max_queue: must be a non-negative integer"},
};
// clang-format on

/// The file text that sets key to value: dotted keys in their table.
inline std::string toml_setting(std::string_view key, std::string_view value)
{
    auto dot = key.find('.');
    if (dot == std::string_view::npos)
        return cat(key, " = ", value, "\n");
    return cat("[", key.substr(0, dot), "]\n", key.substr(dot + 1), " = ", value, "\n");
}

inline const FileExample* file_example(std::string_view key)
{
    for (const FileExample& e : kFileExamples)
        if (e.key == key)
            return &e;
    return nullptr;
}

} // namespace drover

// drover's configuration: the command line and the TOML file, parsed into one
// validated, immutable Config. parse -> validate -> const Config: --check and
// a reload run the same code, and a reload swaps in a new Config only once it
// validated.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.hpp"
#include "ipc/slot.hpp"
#include "worker/worker_spec.hpp"

namespace drover {

/// A configuration error. what() is "file:line:column: key: what is wrong"
/// for the TOML file, "command line: OPTION: what is wrong" for flags.
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// One listening address: "[PROTO://]HOST:PORT", "[PROTO://][V6]:PORT",
/// "[PROTO://]unix:PATH" or "[PROTO://]/ABSOLUTE/PATH".
struct ListenSpec {
    enum class Family { inet, inet6, unix_path };

    Protocol protocol = Protocol::http;
    Family family = Family::inet;
    std::string host;        ///< numeric address or name, inet/inet6
    uint16_t port = 0;
    std::string path;        ///< unix_path
    mode_t mode = 0660;      ///< unix socket file mode
    std::string owner;       ///< unix: user the socket file is created for; "" the master's
    std::string group;       ///< unix: group the socket file is created for; "" the owner's (or the master's)
    /// The name systemd passes the socket under (LISTEN_FDNAMES: a socket
    /// unit's FileDescriptorName=, or the file descriptor store); "" when the
    /// entry names none and is matched by its address.
    std::string fd_name;
    /// false for an entry with only an fd_name: it serves the socket systemd
    /// passes under that name, and there is nothing to bind without it.
    bool has_address = true;
    int backlog = 1024;
    std::vector<std::string> allowed_clients;  ///< TCP only; empty allows everyone
    std::string text;        ///< as written, for logs
    /// Which of mode, backlog and allowed_clients this `bind` entry set
    /// itself; the top-level keys fill in the others (and a reload can tell
    /// a changed entry from a changed default).
    bool own_mode = false;
    bool own_owner = false;
    bool own_group = false;
    bool own_backlog = false;
    bool own_allowed_clients = false;

    bool is_unix() const { return family == Family::unix_path; }
};

/// The top-level `backlog`, `unix_socket_mode`, `unix_socket_owner`,
/// `unix_socket_group` and `allowed_clients`: every listener that does not
/// set its own gets them.
struct ListenerDefaults {
    int backlog = 1024;
    mode_t mode = 0660;
    std::string owner;
    std::string group;
    std::vector<std::string> allowed_clients;
};

/// Parses one address as written on the command line or in `bind`. Throws
/// std::invalid_argument with the reason.
ListenSpec parse_listen_address(const std::string& text);

/// Parses a metrics address: "HOST:PORT" or "[V6]:PORT", no protocol, no
/// unix socket. Throws std::invalid_argument with the reason.
ListenSpec parse_metrics_address(const std::string& text);

/// Parses a duration: a number of seconds ("2.5") or a number with a unit
/// ("500ms", "30s", "5m", "1h"). Throws std::invalid_argument ("must ...").
double parse_duration(std::string_view text);

/// Checks "pkg.module:callable" (dotted Python identifiers on both sides)
/// and returns it with the default callable filled in: "pkg.module" ->
/// "pkg.module:application". Throws std::invalid_argument ("must ...").
std::string parse_app_callable(std::string_view text);

inline constexpr uint32_t kMaxWorkerCount = 1024;

/// Where a setting was written, so that validate_config() can point at the
/// file position (or the flag) of a setting that only conflicts with another.
struct SettingOrigin {
    std::string where;   ///< "drover.toml:3:11: workers" or "command line: -w"
    uint32_t line = 0;   ///< 0: from the command line
    uint32_t column = 0;
};

enum class ProcessManager { static_pool, dynamic_pool, ondemand };

struct Config {
    std::string file;                      ///< the TOML file, "" when none
    AppSettings app;
    bool preload = false;
    std::vector<ListenSpec> listeners;     ///< default: http://127.0.0.1:8000
    ListenerDefaults listener_defaults;    ///< already folded into listeners

    ProcessManager pm = ProcessManager::static_pool;
    uint32_t workers = 2;                  ///< static: the count; dynamic: the start count
    uint32_t min_spare = 1;
    uint32_t max_spare = 3;
    uint32_t max_workers = 8;
    double idle_timeout = 10.0;            ///< ondemand: reap a worker idle this long

    uint64_t max_requests = 0;             ///< 0: no limit
    uint64_t max_requests_jitter = 0;
    uint64_t max_rss_mib = 0;              ///< 0: no limit
    double max_lifetime = 0;               ///< seconds; 0: no limit

    double timeout = 30.0;                 ///< one request's wall time
    double slow_request_timeout = 0;       ///< 0: off
    double graceful_timeout = 30.0;
    double startup_timeout = 60.0;
    uint32_t max_unavailable = 1;

    std::string metrics_address = "127.0.0.1:9191";  ///< "" is off
    uint64_t healthz_max_queue = 0;        ///< /healthz is 503 above this many queued connections; 0: off
    std::string error_log = "-";
    std::string access_log;                ///< "" is off, "-" stdout
    LogLevel log_level = LogLevel::info;
    std::string user;                      ///< drop privileges to this user after binding
    std::string group;
    std::string pidfile;

    /// By dotted key ("workers", "log.level", "bind[1]"); a key absent here
    /// has its default value.
    std::map<std::string, SettingOrigin> origins;
};

/// The command line, before it is merged with the file. Unset options are
/// empty optionals.
struct CommandLine {
    std::optional<std::string> config_file;
    std::vector<std::string> binds;
    std::optional<uint32_t> workers;
    std::optional<std::string> metrics_address;
    std::optional<double> timeout;
    std::optional<uint64_t> max_requests;
    std::vector<std::string> pythonpath;
    std::optional<std::string> chdir;
    std::optional<std::string> virtualenv;
    bool preload = false;
    bool check = false;
    bool version = false;
    bool help = false;
    std::optional<std::string> callable;
};

/// Parses argv. Throws ConfigError ("command line: -w: ...").
CommandLine parse_command_line(int argc, const char* const* argv);

/// Reads the file named by the command line (if any), applies the flags over
/// it and validates the result. Throws ConfigError.
Config load_config(const CommandLine& cmd);

/// Parses TOML text as if read from file_name (for tests and load_config).
/// Throws ConfigError.
Config parse_config_text(const std::string& text, const std::string& file_name);

/// Checks what no single key can: cross-field rules and required settings.
/// Throws ConfigError.
void validate_config(const Config& config);

/// The usage text printed by --help.
const char* usage_text();

} // namespace drover

// The rows. Adding a key is adding a row here, a line in README.md's
// Configuration reference (config_readme_test holds the two together) and a
// good and a bad example in config_schema_test.
//
// Each row says what SIGHUP does when the key changes. `restart` is for what
// the master opens or does once, before the first worker: the listening
// sockets (bind and the listener options: sockets stay open across reloads so
// that no connection is refused), the privilege drop (user, group), the
// pidfile, the metrics server and the connection park (keepalive: the park's
// idle timeout, and whether there is a park at all, are fixed at start).
// Everything else is either read by the master on every tick (timeouts,
// limits, scaling) or handed to each new worker (the app and its limits), so
// the generation a reload starts runs with it.
#include "supervisor/config_schema.hpp"

#include <algorithm>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace drover {

namespace {

// ---------------------------------------------------------------- fields

template <auto Member, auto... Rest, typename Object>
constexpr decltype(auto) member_of(Object& object)
{
    if constexpr (sizeof...(Rest) == 0)
        return (object.*Member);
    else
        return member_of<Rest...>(object.*Member);
}

template <typename T>
void assign(T& to, SettingValue&& value)
{
    if constexpr (std::is_same_v<T, bool>)
        to = std::get<bool>(value);
    else if constexpr (std::is_enum_v<T> || std::is_integral_v<T>)
        to = static_cast<T>(std::get<uint64_t>(value));  // the row's bounds keep it in range
    else if constexpr (std::is_floating_point_v<T>)
        to = std::get<double>(value);
    else
        to = std::get<T>(std::move(value));
}

/// A Config member, through nested members: field<&Config::app, &AppSettings::keepalive>().
template <auto... Path>
constexpr ConfigField field()
{
    return ConfigField{
        [](Config& c, SettingValue&& v) { assign(member_of<Path...>(c), std::move(v)); },
        [](const Config& a, const Config& b) { return member_of<Path...>(a) == member_of<Path...>(b); },
        [](Config& to, const Config& from) { member_of<Path...>(to) = member_of<Path...>(from); },
    };
}

/// `bind`: the listeners as written. The top-level listener options are
/// folded into them later, so an entry is the same when its address and the
/// options it set itself are; a changed default is its own key's change.
bool same_binds(const Config& a, const Config& b)
{
    if (a.listeners.size() != b.listeners.size())
        return false;
    for (size_t i = 0; i < a.listeners.size(); ++i) {
        const ListenSpec& x = a.listeners[i];
        const ListenSpec& y = b.listeners[i];
        if (x.text != y.text || x.path != y.path || x.protocol != y.protocol || x.fd_name != y.fd_name ||
            x.own_mode != y.own_mode || x.own_owner != y.own_owner || x.own_group != y.own_group ||
            x.own_backlog != y.own_backlog || x.own_allowed_clients != y.own_allowed_clients)
            return false;
        if ((x.own_mode && x.mode != y.mode) || (x.own_owner && x.owner != y.owner) ||
            (x.own_group && x.group != y.group) || (x.own_backlog && x.backlog != y.backlog) ||
            (x.own_allowed_clients && x.allowed_clients != y.allowed_clients))
            return false;
    }
    return true;
}

constexpr ConfigField kBindField{
    [](Config& c, SettingValue&& v) { c.listeners = std::get<std::vector<ListenSpec>>(std::move(v)); },
    same_binds,
    [](Config& to, const Config& from) { to.listeners = from.listeners; },
};

template <typename T>
struct FlagStorage;

/// A value-taking flag given at most once: the last one counts.
template <typename T>
struct FlagStorage<std::optional<T>> {
    static void store(std::optional<T>& to, std::string_view text, const SettingValue& parsed)
    {
        if constexpr (std::is_same_v<T, std::string>)
            to = std::string(text);
        else if constexpr (std::is_floating_point_v<T>)
            to = std::get<double>(parsed);
        else
            to = static_cast<T>(std::get<uint64_t>(parsed));
    }
    static std::optional<SettingValue> given(const std::optional<T>& from)
    {
        if (!from)
            return std::nullopt;
        if constexpr (std::is_integral_v<T>)
            return SettingValue(static_cast<uint64_t>(*from));
        else
            return SettingValue(*from);
    }
};

/// A repeatable flag: each one adds to the list.
template <>
struct FlagStorage<std::vector<std::string>> {
    static void store(std::vector<std::string>& to, std::string_view text, const SettingValue&)
    {
        to.emplace_back(text);
    }
    static std::optional<SettingValue> given(const std::vector<std::string>& from)
    {
        return from.empty() ? std::nullopt : std::optional<SettingValue>(from);
    }
};

/// A flag without a value: given or not.
template <>
struct FlagStorage<bool> {
    static void store(bool& to, std::string_view, const SettingValue&) { to = true; }
    static std::optional<SettingValue> given(const bool& from)
    {
        return from ? std::optional<SettingValue>(true) : std::nullopt;
    }
};

template <auto Member>
constexpr FlagField flag_field()
{
    using Storage = FlagStorage<std::remove_cvref_t<decltype(std::declval<CommandLine&>().*Member)>>;
    return FlagField{
        [](CommandLine& cmd, std::string_view text, const SettingValue& parsed) { Storage::store(cmd.*Member, text, parsed); },
        [](const CommandLine& cmd) { return Storage::given(cmd.*Member); },
    };
}

// ---------------------------------------------------------------- choices

// Stored as the index into these lists.
static_assert(static_cast<int>(ProcessManager::static_pool) == 0 && static_cast<int>(ProcessManager::dynamic_pool) == 1 &&
              static_cast<int>(ProcessManager::ondemand) == 2);
constexpr std::string_view kPmChoices[] = {"static", "dynamic", "ondemand"};
static_assert(static_cast<int>(LogLevel::debug) == 0 && static_cast<int>(LogLevel::info) == 1 &&
              static_cast<int>(LogLevel::warning) == 2 && static_cast<int>(LogLevel::error) == 3);
constexpr std::string_view kLogLevels[] = {"debug", "info", "warning", "error"};

using K = SettingKind;
constexpr OnReload kRestart = OnReload::restart;

// ---------------------------------------------------------------- the table

constexpr Setting kSettings[] = {
    // The command line, in the order of its synopsis.
    {.key = "app", .flag = "MODULE:CALLABLE", .kind = K::app_callable,
     .help = "the WSGI application, like myapp.wsgi:application; the callable defaults to \"application\"",
     .field = field<&Config::app, &AppSettings::callable>(), .flag_field = flag_field<&CommandLine::callable>()},
    {.flag = "--config", .short_flag = "-c", .metavar = "FILE", .kind = K::path,
     .help = "read settings from this TOML file", .flag_field = flag_field<&CommandLine::config_file>()},
    {.key = "bind", .flag = "--bind", .short_flag = "-b", .metavar = "ADDR", .kind = K::address_list,
     .default_text = "[\"http://127.0.0.1:8000\"]",
     .help = "listen on [PROTO://]HOST:PORT, [PROTO://][V6]:PORT, [PROTO://]unix:PATH or [PROTO://]/PATH; PROTO is "
             "http, fastcgi or scgi; repeat to listen on several, in place of the file's list",
     .on_reload = kRestart, .field = kBindField, .flag_field = flag_field<&CommandLine::binds>()},
    {.key = "workers", .flag = "--workers", .short_flag = "-w", .metavar = "N", .kind = K::integer, .lo = 1,
     .hi = kMaxWorkerCount, .default_text = "2", .help = "worker processes; dynamic: how many to start with",
     .field = field<&Config::workers>(), .flag_field = flag_field<&CommandLine::workers>()},
    {.key = "metrics.address", .flag = "--metrics", .metavar = "ADDR", .kind = K::metrics_address,
     .default_text = "\"127.0.0.1:9191\"", .help = "serve /metrics, /healthz and /status on HOST:PORT; \"\" is off",
     .on_reload = kRestart, .field = field<&Config::metrics_address>(),
     .flag_field = flag_field<&CommandLine::metrics_address>()},
    {.key = "timeout", .flag = "--timeout", .metavar = "S", .kind = K::duration, .positive = true,
     .default_text = "30", .help = "one request's wall time: seconds, or 500ms, 30s, 5m, 1h",
     .field = field<&Config::timeout>(), .flag_field = flag_field<&CommandLine::timeout>()},
    {.key = "max_requests", .flag = "--max-requests", .metavar = "N", .kind = K::count, .default_text = "0",
     .help = "replace a worker after N requests; 0 never", .field = field<&Config::max_requests>(),
     .flag_field = flag_field<&CommandLine::max_requests>()},
    {.key = "pythonpath", .flag = "--pythonpath", .metavar = "DIR", .kind = K::path_list, .default_text = "[]",
     .help = "put DIR first on sys.path; repeat for several, in place of the file's list",
     .field = field<&Config::app, &AppSettings::pythonpath>(), .flag_field = flag_field<&CommandLine::pythonpath>()},
    {.key = "chdir", .flag = "--chdir", .metavar = "DIR", .kind = K::path,
     .help = "change to DIR before importing the application; it goes on sys.path too",
     .field = field<&Config::app, &AppSettings::chdir>(), .flag_field = flag_field<&CommandLine::chdir>()},
    {.key = "virtualenv", .flag = "--virtualenv", .metavar = "DIR", .kind = K::path,
     .help = "use the packages of the virtualenv in DIR", .field = field<&Config::app, &AppSettings::virtualenv>(),
     .flag_field = flag_field<&CommandLine::virtualenv>()},
    {.key = "preload", .flag = "--preload", .kind = K::boolean, .default_text = "false",
     .help = "import the application once per generation, in a zygote that forks the workers",
     .field = field<&Config::preload>(), .flag_field = flag_field<&CommandLine::preload>()},
    {.flag = "--check", .kind = K::boolean, .help = "validate the configuration and exit: 0, or 2 with the error",
     .flag_field = flag_field<&CommandLine::check>()},
    {.flag = "--version", .kind = K::boolean, .help = "print the version and exit",
     .flag_field = flag_field<&CommandLine::version>()},
    {.flag = "--help", .short_flag = "-h", .kind = K::boolean, .help = "print this help and exit",
     .flag_field = flag_field<&CommandLine::help>()},

    // Application (README order from here on).
    {.key = "script_name", .kind = K::mount_point, .default_text = "\"\"",
     .help = "mount point: a PATH_INFO under it moves the prefix to SCRIPT_NAME",
     .field = field<&Config::app, &AppSettings::script_name>()},
    {.key = "max_body_size", .kind = K::size, .default_text = "\"100M\"",
     .help = "larger request bodies get 413 before the app runs",
     .field = field<&Config::app, &AppSettings::limits, &CodecLimits::max_body_size>()},
    {.key = "max_header_size", .kind = K::size, .lo = 1024, .hi = 1024 * 1024, .default_text = "\"64K\"",
     .help = "request line and headers (HTTP) or params (FastCGI, SCGI); 431 above",
     .field = field<&Config::app, &AppSettings::limits, &CodecLimits::max_header_size>()},
    {.key = "max_header_count", .kind = K::integer, .lo = 1, .hi = 10000, .default_text = "100",
     .help = "header fields or params in one request; 431 above",
     .field = field<&Config::app, &AppSettings::limits, &CodecLimits::max_header_count>()},
    {.key = "header_timeout", .kind = K::duration, .positive = true, .default_text = "10",
     .help = "the whole request head must arrive within this; 408 after",
     .field = field<&Config::app, &AppSettings::header_timeout>()},
    {.key = "max_connections", .kind = K::integer, .lo = 1, .hi = 1000000, .default_text = "1000",
     .help = "connections one worker holds at once",
     .field = field<&Config::app, &AppSettings::max_connections>()},
    {.key = "keepalive", .kind = K::duration, .default_text = "5",
     .help = "idle kept-alive connection timeout; 0 turns keep-alive off", .on_reload = kRestart,
     .field = field<&Config::app, &AppSettings::keepalive>()},

    // Listeners.
    {.key = "backlog", .kind = K::integer, .lo = 1, .hi = 65535, .default_text = "1024",
     .help = "listen() backlog of every listener without its own", .on_reload = kRestart,
     .field = field<&Config::listener_defaults, &ListenerDefaults::backlog>()},
    {.key = "unix_socket_mode", .kind = K::file_mode, .default_text = "\"0660\"",
     .help = "mode of unix socket files", .on_reload = kRestart,
     .field = field<&Config::listener_defaults, &ListenerDefaults::mode>()},
    {.key = "unix_socket_owner", .kind = K::string,
     .help = "user unix socket files are created for (needs write access to their directory)", .on_reload = kRestart,
     .field = field<&Config::listener_defaults, &ListenerDefaults::owner>()},
    {.key = "unix_socket_group", .kind = K::string, .help = "group unix socket files are created for",
     .on_reload = kRestart, .field = field<&Config::listener_defaults, &ListenerDefaults::group>()},
    {.key = "allowed_clients", .kind = K::cidr_list, .default_text = "[]",
     .help = "TCP peers allowed to connect: addresses or CIDR ranges; [] allows all", .on_reload = kRestart,
     .field = field<&Config::listener_defaults, &ListenerDefaults::allowed_clients>()},
    {.key = "forwarded_allow_ips", .kind = K::proxy_list, .default_text = "[\"127.0.0.1\", \"::1\"]",
     .help = "proxies whose Forwarded and X-Forwarded-* headers are believed: addresses or CIDR ranges; "
             "[\"*\"] trusts every peer",
     .field = field<&Config::app, &AppSettings::forwarded_allow_ips>()},

    // Workers.
    {.key = "pm", .kind = K::choice, .choices = kPmChoices, .default_text = "\"static\"",
     .help = "process manager: static, dynamic or ondemand", .field = field<&Config::pm>()},
    {.key = "min_spare", .kind = K::integer, .lo = 0, .hi = kMaxWorkerCount, .default_text = "1",
     .help = "dynamic: idle workers kept at least", .field = field<&Config::min_spare>()},
    {.key = "max_spare", .kind = K::integer, .lo = 0, .hi = kMaxWorkerCount, .default_text = "3",
     .help = "dynamic: idle workers kept at most", .field = field<&Config::max_spare>()},
    {.key = "max_workers", .kind = K::integer, .lo = 1, .hi = kMaxWorkerCount, .default_text = "8",
     .help = "dynamic and ondemand: the ceiling", .field = field<&Config::max_workers>()},
    {.key = "idle_timeout", .kind = K::duration, .positive = true, .default_text = "10",
     .help = "ondemand: stop a worker idle this long", .field = field<&Config::idle_timeout>()},
    {.key = "max_requests_jitter", .kind = K::count, .default_text = "0",
     .help = "plus a random 0..jitter requests per worker", .field = field<&Config::max_requests_jitter>()},
    {.key = "max_rss", .kind = K::count, .default_text = "0",
     .help = "recycle a worker above this many MiB resident; 0 never", .field = field<&Config::max_rss_mib>()},
    {.key = "max_lifetime", .kind = K::duration, .default_text = "0",
     .help = "recycle a worker older than this; 0 never", .field = field<&Config::max_lifetime>()},
    {.key = "user", .kind = K::string, .help = "switch to this user after binding", .on_reload = kRestart,
     .field = field<&Config::user>()},
    {.key = "group", .kind = K::string, .help = "switch to this group after binding", .on_reload = kRestart,
     .field = field<&Config::group>()},
    {.key = "pidfile", .kind = K::optional_path, .help = "write the master's pid here", .on_reload = kRestart,
     .field = field<&Config::pidfile>()},

    // Timeouts.
    {.key = "slow_request_timeout", .kind = K::duration, .default_text = "0",
     .help = "log a request running this long and its traceback, once; 0 never",
     .field = field<&Config::slow_request_timeout>()},
    {.key = "graceful_timeout", .kind = K::duration, .default_text = "30",
     .help = "how long a stop or a retiring worker may take before SIGKILL", .field = field<&Config::graceful_timeout>()},
    {.key = "startup_timeout", .kind = K::duration, .positive = true, .default_text = "60",
     .help = "a reload's new generation must be ready within this, or it is rolled back",
     .field = field<&Config::startup_timeout>()},
    {.key = "max_unavailable", .kind = K::integer, .lo = 1, .hi = kMaxWorkerCount, .default_text = "1",
     .help = "old workers stopped at a time once a reload's new generation is ready",
     .field = field<&Config::max_unavailable>()},

    // Logs and metrics.
    {.key = "log.error", .kind = K::error_log, .default_text = "\"-\"", .help = "error log file; \"-\" is stderr",
     .field = field<&Config::error_log>()},
    {.key = "log.access", .kind = K::log_file, .default_text = "\"\"",
     .help = "access log file; \"-\" is stdout, \"\" is off", .field = field<&Config::access_log>()},
    {.key = "log.level", .kind = K::choice, .choices = kLogLevels, .default_text = "\"info\"",
     .help = "debug, info, warning or error", .field = field<&Config::log_level>()},
    {.key = "metrics.healthz_max_queue", .kind = K::count, .default_text = "0",
     .help = "/healthz answers 503 while more connections than this wait in the listen queues; 0 never",
     .field = field<&Config::healthz_max_queue>()},
};

} // namespace

std::span<const Setting> settings()
{
    return kSettings;
}

const Setting* find_setting(std::string_view key)
{
    if (key.empty())
        return nullptr;
    auto it = std::find_if(std::begin(kSettings), std::end(kSettings), [&](const Setting& s) { return s.key == key; });
    return it == std::end(kSettings) ? nullptr : &*it;
}

const Setting& setting(std::string_view key)
{
    const Setting* s = find_setting(key);
    if (!s)
        throw std::logic_error(cat("the settings table has no row ", key));
    return *s;
}

const Setting* find_flag(std::string_view name)
{
    if (name.size() < 2 || name.front() != '-')
        return nullptr;
    auto it = std::find_if(std::begin(kSettings), std::end(kSettings), [&](const Setting& s) {
        return !s.is_positional() && ((s.has_flag() && s.flag == name) || (!s.short_flag.empty() && s.short_flag == name));
    });
    return it == std::end(kSettings) ? nullptr : &*it;
}

} // namespace drover

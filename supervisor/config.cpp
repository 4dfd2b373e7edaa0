// The TOML file, its merge with the command line and the cross-field checks.
//
// Every error names where the value was written: "FILE:LINE:COLUMN: KEY: ...",
// with the position of the value node toml++ recorded. Settings that only
// conflict with one another are checked after the merge, so each setting's
// position is kept in Config::origins for validate_config().
#include "supervisor/config.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <utility>

#include "base/unique_fd.hpp"

namespace drover {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxListeners = 64;
constexpr double kMaxDuration = 365.0 * 24 * 3600;
constexpr const char* kAppRequired =
    "app: required (set app = \"module:callable\" in the file or pass MODULE:CALLABLE)";

// ---------------------------------------------------------------- text

std::string in_quotes(std::string_view s)
{
    return cat('"', s, '"');
}

std::string lowercase(std::string_view s)
{
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return out;
}

/// "30", "0.5": durations in messages, without log.hpp's fixed 3 decimals.
std::string seconds_text(double seconds)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", seconds);
    return cat(buf, 's');
}

bool is_ident_start(char c)
{
    // Bytes >= 0x80: Python allows non-ASCII identifiers; leave them to import.
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           static_cast<unsigned char>(c) >= 0x80;
}

bool is_dotted_identifier(std::string_view s)
{
    if (s.empty())
        return false;
    bool at_start = true;
    for (char c : s) {
        if (c == '.') {
            if (at_start)
                return false;
            at_start = true;
        } else if (at_start) {
            if (!is_ident_start(c))
                return false;
            at_start = false;
        } else if (!is_ident_start(c) && !(c >= '0' && c <= '9')) {
            return false;
        }
    }
    return !at_start;
}

bool all_digits(std::string_view s)
{
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// ---------------------------------------------------------------- addresses

bool valid_host_name(std::string_view host)
{
    if (host.size() > 253)
        return false;
    std::string_view::size_type start = 0;
    while (start <= host.size()) {
        auto dot = host.find('.', start);
        std::string_view label = host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return false;
        for (char c : label)
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
                return false;
        if (dot == std::string_view::npos)
            break;
        start = dot + 1;
    }
    return true;
}

uint16_t parse_port(std::string_view text)
{
    if (text.empty())
        throw std::invalid_argument("missing port");
    if (!all_digits(text))
        throw std::invalid_argument(cat("port '", text, "' is not a number"));
    unsigned long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || value < 1 || value > 65535)
        throw std::invalid_argument(cat("port out of range (1 to 65535): ", text));
    (void)end;
    return static_cast<uint16_t>(value);
}

/// "HOST:PORT" or "[V6]:PORT" into spec.
void parse_host_port(std::string_view text, ListenSpec& spec)
{
    std::string_view host;
    std::string_view port;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos)
            throw std::invalid_argument("missing ']' after the IPv6 address");
        host = text.substr(1, close - 1);
        std::string_view after = text.substr(close + 1);
        if (after.empty())
            throw std::invalid_argument("missing port");
        if (after.front() != ':')
            throw std::invalid_argument("expected ':PORT' after ']'");
        port = after.substr(1);
        if (host.empty())
            throw std::invalid_argument("missing host");
        in6_addr addr{};
        if (inet_pton(AF_INET6, std::string(host).c_str(), &addr) != 1)
            throw std::invalid_argument(cat("invalid IPv6 address '", host, "'"));
        spec.family = ListenSpec::Family::inet6;
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos)
            throw std::invalid_argument("missing port");
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            throw std::invalid_argument("an IPv6 address must be in brackets, like [::1]:8000");
        if (host.empty())
            throw std::invalid_argument("missing host");
        bool numeric = std::all_of(host.begin(), host.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
        if (numeric) {
            in_addr addr{};
            if (inet_pton(AF_INET, std::string(host).c_str(), &addr) != 1)
                throw std::invalid_argument(cat("invalid IPv4 address '", host, "'"));
        } else if (!valid_host_name(host)) {
            throw std::invalid_argument(cat("invalid host name '", host, "'"));
        }
        spec.family = ListenSpec::Family::inet;
    }
    spec.host = std::string(host);
    spec.port = parse_port(port);
}

void check_socket_path_length(const std::string& path)
{
    if (path.size() >= sizeof(sockaddr_un::sun_path))
        throw std::invalid_argument(
            cat("socket path too long (at most ", sizeof(sockaddr_un::sun_path) - 1, " bytes): ", path));
}

/// Canonical text of an IPv4 or IPv6 address, so that "::1" and "0::1"
/// compare equal wherever the list is matched against a peer.
std::string canonical_ip(const std::string& text)
{
    char buf[INET6_ADDRSTRLEN];
    in_addr v4{};
    if (inet_pton(AF_INET, text.c_str(), &v4) == 1 && inet_ntop(AF_INET, &v4, buf, sizeof buf))
        return buf;
    in6_addr v6{};
    if (inet_pton(AF_INET6, text.c_str(), &v6) == 1 && inet_ntop(AF_INET6, &v6, buf, sizeof buf))
        return buf;
    throw std::invalid_argument(cat("not an IPv4 or IPv6 address: ", in_quotes(text)));
}

/// What two listeners conflict on: the same port on the same host, or the
/// same socket file; whatever protocol each speaks.
std::string address_identity(const ListenSpec& spec)
{
    if (spec.is_unix())
        return cat("unix:", spec.path);
    std::string host = lowercase(spec.host);
    try {
        host = canonical_ip(spec.host);
    } catch (const std::invalid_argument&) {
        // a host name: compared as written
    }
    return cat(host, " ", spec.port);
}

// ---------------------------------------------------------------- values

uint64_t parse_size_text(std::string_view text)
{
    const char* what = "must be a size in bytes: an integer, or a string like \"100M\" (K, M or G)";
    std::string_view digits = text;
    unsigned shift = 0;
    if (!digits.empty()) {
        switch (digits.back()) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: break;
        }
        if (shift != 0)
            digits.remove_suffix(1);
    }
    if (!all_digits(digits))
        throw std::invalid_argument(what);
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    (void)end;
    if (ec != std::errc() || value > (UINT64_MAX >> shift))
        throw std::invalid_argument("is too large");
    return value << shift;
}

fs::path current_directory()
{
    std::error_code ec;
    fs::path cwd = fs::current_path(ec);
    if (ec)
        throw ConfigError(cat("cannot find the current directory: ", ec.message()));
    return cwd;
}

/// Lexically absolute: no existence required, no symlinks followed.
std::string absolute_path(const fs::path& base, const std::string& path)
{
    fs::path p = fs::path(path).is_absolute() ? fs::path(path) : base / path;
    std::string out = p.lexically_normal().string();
    while (out.size() > 1 && out.back() == '/')
        out.pop_back();
    return out;
}

/// A log destination: "-" and "" keep their meaning, anything else is a path.
std::string log_path(const fs::path& base, const std::string& path)
{
    if (path.empty() || path == "-")
        return path;
    return absolute_path(base, path);
}

std::string read_whole_file(const std::string& path)
{
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
        throw ConfigError(cat(path, ": cannot read: ", std::strerror(errno)));
    std::string text;
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw ConfigError(cat(path, ": cannot read: ", std::strerror(errno)));
        if (n == 0)
            break;
        text.append(buf, static_cast<size_t>(n));
    }
    return text;
}

// ---------------------------------------------------------------- the file

const char* type_name(toml::node_type type)
{
    switch (type) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
    }
    return "nothing";
}

/// The top-level listener defaults, applied once every key has been read
/// (the file may set them after `bind`).
struct ListenerDefaults {
    int backlog = 1024;
    mode_t mode = 0660;
    std::vector<std::string> allowed_clients;
};

/// One `bind` entry and which of its settings the entry gave itself.
struct BindEntry {
    ListenSpec spec;
    bool has_mode = false;
    bool has_backlog = false;
    bool has_allowed_clients = false;
};

using Handler = std::function<void(const toml::node& value, const std::string& key)>;
using Handlers = std::vector<std::pair<std::string_view, Handler>>;

/// Reads one file's table into a Config. Errors carry the position of the
/// value node and the dotted key.
class FileReader {
public:
    FileReader(const std::string& file, Config& config)
        : file_(file), config_(config)
    {
        fs::path p(file);
        dir_ = (p.is_absolute() ? p : current_directory() / p).parent_path();
    }

    void read(const toml::table& root);

    ListenerDefaults defaults;
    std::vector<BindEntry> binds;
    bool has_bind = false;

private:
    std::string position(const toml::node& node) const
    {
        const auto& begin = node.source().begin;
        return cat(file_, ':', begin.line, ':', begin.column);
    }

    [[noreturn]] void fail(const toml::node& node, const std::string& key, std::string_view what) const
    {
        throw ConfigError(cat(position(node), ": ", key, ": ", what));
    }

    void remember(const toml::node& node, const std::string& key)
    {
        const auto& begin = node.source().begin;
        config_.origins[key] = SettingOrigin{cat(position(node), ": ", key), begin.line, begin.column};
    }

    /// Calls the handler of each key, in the order the file has them, so the
    /// first error reported is the first one in the file.
    void dispatch(const toml::table& table, const std::string& prefix, const Handlers& handlers)
    {
        std::vector<std::pair<std::string, const toml::node*>> entries;
        for (auto&& [k, v] : table)
            entries.emplace_back(std::string(k.str()), &v);
        std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
            const auto& pa = a.second->source().begin;
            const auto& pb = b.second->source().begin;
            return std::pair(pa.line, pa.column) < std::pair(pb.line, pb.column);
        });
        for (const auto& [name, node] : entries) {
            std::string key = prefix.empty() ? name : cat(prefix, '.', name);
            auto it = std::find_if(handlers.begin(), handlers.end(), [&](const auto& h) { return h.first == name; });
            if (it == handlers.end())
                fail(*node, key, "unknown key");
            it->second(*node, key);
            remember(*node, key);
        }
    }

    void expect(const toml::node& node, const std::string& key, toml::node_type type) const
    {
        if (node.type() != type)
            fail(node, key, cat("expected ", type_name(type), ", got ", type_name(node.type())));
    }

    std::string string(const toml::node& node, const std::string& key) const
    {
        expect(node, key, toml::node_type::string);
        return node.as_string()->get();
    }

    bool boolean(const toml::node& node, const std::string& key) const
    {
        expect(node, key, toml::node_type::boolean);
        return node.as_boolean()->get();
    }

    int64_t integer_in(const toml::node& node, const std::string& key, int64_t lo, int64_t hi) const
    {
        expect(node, key, toml::node_type::integer);
        int64_t v = node.as_integer()->get();
        if (v < lo || v > hi)
            fail(node, key, cat("must be an integer from ", lo, " to ", hi));
        return v;
    }

    uint64_t count(const toml::node& node, const std::string& key) const
    {
        expect(node, key, toml::node_type::integer);
        int64_t v = node.as_integer()->get();
        if (v < 0)
            fail(node, key, "must be a non-negative integer");
        return static_cast<uint64_t>(v);
    }

    enum class Zero { allowed, refused };

    double duration(const toml::node& node, const std::string& key, Zero zero = Zero::allowed) const
    {
        double v = 0;
        if (node.is_integer()) {
            v = static_cast<double>(node.as_integer()->get());
        } else if (node.is_floating_point()) {
            v = node.as_floating_point()->get();
        } else if (node.is_string()) {
            try {
                v = parse_duration(node.as_string()->get());
            } catch (const std::invalid_argument& e) {
                fail(node, key, e.what());
            }
        } else {
            fail(node, key, cat("expected a duration (seconds, or a string like \"30s\"), got ", type_name(node.type())));
        }
        if (std::isnan(v))
            fail(node, key, "must be a number of seconds");
        if (v < 0)
            fail(node, key, "must not be negative");
        if (v > kMaxDuration)
            fail(node, key, cat("must be at most ", static_cast<uint64_t>(kMaxDuration), " seconds (365 days)"));
        if (zero == Zero::refused && v == 0)
            fail(node, key, "must be greater than 0");
        return v;
    }

    uint64_t size(const toml::node& node, const std::string& key) const
    {
        if (node.is_integer()) {
            int64_t v = node.as_integer()->get();
            if (v < 0)
                fail(node, key, "must not be negative");
            return static_cast<uint64_t>(v);
        }
        if (!node.is_string())
            fail(node, key, cat("expected a size (bytes, or a string like \"100M\"), got ", type_name(node.type())));
        try {
            return parse_size_text(node.as_string()->get());
        } catch (const std::invalid_argument& e) {
            fail(node, key, e.what());
        }
    }

    mode_t mode(const toml::node& node, const std::string& key) const
    {
        const char* what = "must be an octal file mode from 0 to 0777, like \"0660\"";
        int64_t v = 0;
        if (node.is_integer()) {
            v = node.as_integer()->get();
        } else if (node.is_string()) {
            const std::string& s = node.as_string()->get();
            if (s.empty() || s.size() > 4 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '7'; }))
                fail(node, key, what);
            v = std::stol(s, nullptr, 8);
        } else {
            fail(node, key, cat("expected an octal mode string like \"0660\" or an integer, got ", type_name(node.type())));
        }
        if (v < 0 || v > 0777)
            fail(node, key, what);
        return static_cast<mode_t>(v);
    }

    std::string path(const toml::node& node, const std::string& key) const
    {
        std::string s = string(node, key);
        if (s.empty())
            fail(node, key, "must not be empty");
        return absolute_path(dir_, s);
    }

    std::vector<std::string> ip_list(const toml::node& node, const std::string& key) const
    {
        expect(node, key, toml::node_type::array);
        std::vector<std::string> out;
        size_t i = 0;
        for (const toml::node& e : *node.as_array()) {
            std::string k = cat(key, '[', i++, ']');
            try {
                out.push_back(canonical_ip(string(e, k)));
            } catch (const std::invalid_argument& err) {
                fail(e, k, err.what());
            }
        }
        return out;
    }

    ListenSpec address(const toml::node& node, const std::string& key) const
    {
        std::string text = string(node, key);
        try {
            ListenSpec spec = parse_listen_address(text);
            if (spec.is_unix()) {
                spec.path = absolute_path(dir_, spec.path);
                check_socket_path_length(spec.path);
            }
            return spec;
        } catch (const std::invalid_argument& e) {
            fail(node, key, e.what());
        }
    }

    void read_bind(const toml::node& node, const std::string& key);
    void read_bind_table(const toml::table& table, const std::string& key, BindEntry& entry);
    void read_log(const toml::node& node, const std::string& key);
    void read_metrics(const toml::node& node, const std::string& key);

    const std::string& file_;
    Config& config_;
    fs::path dir_;
};

void FileReader::read(const toml::table& root)
{
    Config& c = config_;
    AppSettings& app = c.app;
    const auto workers_range = [this](const toml::node& n, const std::string& k, int64_t lo) {
        return static_cast<uint32_t>(integer_in(n, k, lo, kMaxWorkerCount));
    };
    Handlers handlers = {
        {"app", [&](const toml::node& n, const std::string& k) {
             try {
                 app.callable = parse_app_callable(string(n, k));
             } catch (const std::invalid_argument& e) {
                 fail(n, k, e.what());
             }
         }},
        {"bind", [&](const toml::node& n, const std::string& k) { read_bind(n, k); }},
        {"backlog", [&](const toml::node& n, const std::string& k) {
             defaults.backlog = static_cast<int>(integer_in(n, k, 1, 65535));
         }},
        {"unix_socket_mode", [&](const toml::node& n, const std::string& k) { defaults.mode = mode(n, k); }},
        {"allowed_clients", [&](const toml::node& n, const std::string& k) { defaults.allowed_clients = ip_list(n, k); }},
        {"pythonpath", [&](const toml::node& n, const std::string& k) {
             expect(n, k, toml::node_type::array);
             app.pythonpath.clear();
             size_t i = 0;
             for (const toml::node& e : *n.as_array())
                 app.pythonpath.push_back(path(e, cat(k, '[', i++, ']')));
         }},
        {"chdir", [&](const toml::node& n, const std::string& k) { app.chdir = path(n, k); }},
        {"virtualenv", [&](const toml::node& n, const std::string& k) { app.virtualenv = path(n, k); }},
        {"script_name", [&](const toml::node& n, const std::string& k) {
             std::string s = string(n, k);
             if (!s.empty() && (s.front() != '/' || s.back() == '/'))
                 fail(n, k, "must start with '/' and not end with '/', like \"/app\" (or be empty)");
             app.script_name = s;
         }},
        {"preload", [&](const toml::node& n, const std::string& k) { c.preload = boolean(n, k); }},
        {"max_body_size", [&](const toml::node& n, const std::string& k) { app.limits.max_body_size = size(n, k); }},
        {"max_header_size", [&](const toml::node& n, const std::string& k) {
             uint64_t v = size(n, k);
             if (v < 1024 || v > 1024 * 1024)
                 fail(n, k, "must be a size from 1K to 1M");
             app.limits.max_header_size = static_cast<size_t>(v);
         }},
        {"max_header_count", [&](const toml::node& n, const std::string& k) {
             app.limits.max_header_count = static_cast<uint32_t>(integer_in(n, k, 1, 10000));
         }},
        {"keepalive", [&](const toml::node& n, const std::string& k) { app.keepalive = duration(n, k); }},
        {"header_timeout", [&](const toml::node& n, const std::string& k) {
             app.header_timeout = duration(n, k, Zero::refused);
         }},
        {"max_connections", [&](const toml::node& n, const std::string& k) {
             app.max_connections = static_cast<uint32_t>(integer_in(n, k, 1, 1000000));
         }},
        {"pm", [&](const toml::node& n, const std::string& k) {
             std::string s = string(n, k);
             if (s == "static")
                 c.pm = ProcessManager::static_pool;
             else if (s == "dynamic")
                 c.pm = ProcessManager::dynamic_pool;
             else if (s == "ondemand")
                 c.pm = ProcessManager::ondemand;
             else
                 fail(n, k, cat("must be \"static\", \"dynamic\" or \"ondemand\", got ", in_quotes(s)));
         }},
        {"workers", [&](const toml::node& n, const std::string& k) { c.workers = workers_range(n, k, 1); }},
        {"min_spare", [&](const toml::node& n, const std::string& k) { c.min_spare = workers_range(n, k, 0); }},
        {"max_spare", [&](const toml::node& n, const std::string& k) { c.max_spare = workers_range(n, k, 0); }},
        {"max_workers", [&](const toml::node& n, const std::string& k) { c.max_workers = workers_range(n, k, 1); }},
        {"idle_timeout", [&](const toml::node& n, const std::string& k) { c.idle_timeout = duration(n, k, Zero::refused); }},
        {"max_requests", [&](const toml::node& n, const std::string& k) { c.max_requests = count(n, k); }},
        {"max_requests_jitter", [&](const toml::node& n, const std::string& k) { c.max_requests_jitter = count(n, k); }},
        {"max_rss", [&](const toml::node& n, const std::string& k) { c.max_rss_mib = count(n, k); }},
        {"max_lifetime", [&](const toml::node& n, const std::string& k) { c.max_lifetime = duration(n, k); }},
        {"timeout", [&](const toml::node& n, const std::string& k) { c.timeout = duration(n, k, Zero::refused); }},
        {"slow_request_timeout", [&](const toml::node& n, const std::string& k) { c.slow_request_timeout = duration(n, k); }},
        {"graceful_timeout", [&](const toml::node& n, const std::string& k) { c.graceful_timeout = duration(n, k); }},
        {"startup_timeout", [&](const toml::node& n, const std::string& k) { c.startup_timeout = duration(n, k, Zero::refused); }},
        {"max_unavailable", [&](const toml::node& n, const std::string& k) {
             c.max_unavailable = static_cast<uint32_t>(integer_in(n, k, 1, kMaxWorkerCount));
         }},
        {"user", [&](const toml::node& n, const std::string& k) { c.user = string(n, k); }},
        {"group", [&](const toml::node& n, const std::string& k) { c.group = string(n, k); }},
        {"pidfile", [&](const toml::node& n, const std::string& k) {
             std::string s = string(n, k);
             c.pidfile = s.empty() ? s : absolute_path(dir_, s);
         }},
        {"log", [&](const toml::node& n, const std::string& k) { read_log(n, k); }},
        {"metrics", [&](const toml::node& n, const std::string& k) { read_metrics(n, k); }},
    };
    dispatch(root, "", handlers);
}

void FileReader::read_bind(const toml::node& node, const std::string& key)
{
    expect(node, key, toml::node_type::array);
    const toml::array& array = *node.as_array();
    if (array.empty())
        fail(node, key, "must list at least one address");
    has_bind = true;
    binds.clear();
    size_t i = 0;
    for (const toml::node& e : array) {
        std::string k = cat(key, '[', i++, ']');
        BindEntry entry;
        if (e.is_string())
            entry.spec = address(e, k);
        else if (e.is_table())
            read_bind_table(*e.as_table(), k, entry);
        else
            fail(e, k, cat("expected an address string or a table, got ", type_name(e.type())));
        remember(e, k);
        binds.push_back(std::move(entry));
    }
}

void FileReader::read_bind_table(const toml::table& table, const std::string& key, BindEntry& entry)
{
    // The address decides which other keys apply, so it is read first.
    const toml::node* address_node = table.get("address");
    if (!address_node)
        fail(table, cat(key, ".address"), "required");
    entry.spec = address(*address_node, cat(key, ".address"));
    ListenSpec& spec = entry.spec;
    Handlers handlers = {
        {"address", [](const toml::node&, const std::string&) {}},
        {"mode", [&](const toml::node& n, const std::string& k) {
             if (!spec.is_unix())
                 fail(n, k, "only applies to unix sockets");
             spec.mode = mode(n, k);
             entry.has_mode = true;
         }},
        {"backlog", [&](const toml::node& n, const std::string& k) {
             spec.backlog = static_cast<int>(integer_in(n, k, 1, 65535));
             entry.has_backlog = true;
         }},
        {"allowed_clients", [&](const toml::node& n, const std::string& k) {
             if (spec.is_unix())
                 fail(n, k, "only applies to TCP listeners");
             spec.allowed_clients = ip_list(n, k);
             entry.has_allowed_clients = true;
         }},
    };
    dispatch(table, key, handlers);
}

void FileReader::read_log(const toml::node& node, const std::string& key)
{
    expect(node, key, toml::node_type::table);
    Config& c = config_;
    Handlers handlers = {
        {"error", [&](const toml::node& n, const std::string& k) {
             std::string s = string(n, k);
             if (s.empty())
                 fail(n, k, "must be a path or \"-\" (stderr)");
             c.error_log = log_path(dir_, s);
         }},
        {"access", [&](const toml::node& n, const std::string& k) { c.access_log = log_path(dir_, string(n, k)); }},
        {"level", [&](const toml::node& n, const std::string& k) {
             std::string s = string(n, k);
             if (!parse_log_level(s, c.log_level))
                 fail(n, k, cat("must be \"debug\", \"info\", \"warning\" or \"error\", got ", in_quotes(s)));
         }},
    };
    dispatch(*node.as_table(), key, handlers);
}

void FileReader::read_metrics(const toml::node& node, const std::string& key)
{
    expect(node, key, toml::node_type::table);
    Handlers handlers = {
        {"address", [&](const toml::node& n, const std::string& k) {
             std::string s = string(n, k);
             if (!s.empty()) {
                 try {
                     parse_metrics_address(s);
                 } catch (const std::invalid_argument& e) {
                     fail(n, k, e.what());
                 }
             }
             config_.metrics_address = s;
         }},
    };
    dispatch(*node.as_table(), key, handlers);
}

struct ParsedFile {
    Config config;
    ListenerDefaults defaults;
    std::vector<BindEntry> binds;
};

ParsedFile parse_file(const std::string& text, const std::string& file_name)
{
    toml::table root;
    try {
        root = toml::parse(std::string_view(text), std::string_view(file_name));
    } catch (const toml::parse_error& e) {
        const auto& begin = e.source().begin;
        throw ConfigError(cat(file_name, ':', begin.line, ':', begin.column, ": syntax error: ", e.description()));
    }
    ParsedFile out;
    out.config.file = file_name;
    FileReader reader(file_name, out.config);
    reader.read(root);
    out.defaults = std::move(reader.defaults);
    out.binds = std::move(reader.binds);
    return out;
}

/// The listeners, with the top-level defaults filled in where an entry did
/// not set its own.
std::vector<ListenSpec> apply_defaults(std::vector<BindEntry> binds, const ListenerDefaults& defaults)
{
    if (binds.empty()) {
        BindEntry entry;
        entry.spec = parse_listen_address("http://127.0.0.1:8000");
        binds.push_back(std::move(entry));
    }
    std::vector<ListenSpec> out;
    for (BindEntry& e : binds) {
        if (!e.has_backlog)
            e.spec.backlog = defaults.backlog;
        if (e.spec.is_unix() && !e.has_mode)
            e.spec.mode = defaults.mode;
        if (!e.spec.is_unix() && !e.has_allowed_clients)
            e.spec.allowed_clients = defaults.allowed_clients;
        out.push_back(std::move(e.spec));
    }
    return out;
}

/// Settings that are not keys of their own.
void derive(Config& config)
{
    config.app.io_timeout = config.timeout;
    config.app.max_conns = config.pm == ProcessManager::static_pool ? config.workers : config.max_workers;
}

// ---------------------------------------------------------------- validation

/// Where an error about `key` points: its origin, or the file, or the
/// command line when the key has its default value.
std::string where(const Config& config, const std::string& key)
{
    auto it = config.origins.find(key);
    if (it != config.origins.end())
        return it->second.where;
    if (!config.file.empty())
        return cat(config.file, ": ", key);
    return cat("command line: ", key);
}

/// Of the keys a conflict involves, the one to blame: a flag first (it
/// overrode the file), else the one written last in the file, else the first.
std::string blame(const Config& config, const std::vector<std::string>& keys)
{
    const std::string* best = &keys.front();
    const SettingOrigin* best_origin = nullptr;
    for (const std::string& key : keys) {
        auto it = config.origins.find(key);
        if (it == config.origins.end())
            continue;
        const SettingOrigin& o = it->second;
        bool better = !best_origin ||
                      (best_origin->line != 0 &&
                       (o.line == 0 || std::pair(o.line, o.column) > std::pair(best_origin->line, best_origin->column)));
        if (better) {
            best = &key;
            best_origin = &o;
        }
    }
    return *best;
}

[[noreturn]] void conflict(const Config& config, const std::string& key, std::string_view what)
{
    throw ConfigError(cat(where(config, key), ": ", what));
}

/// low <= high, blamed on whichever of the two was set last.
void check_order(const Config& config, const std::string& low_key, uint64_t low, const std::string& high_key, uint64_t high)
{
    if (low <= high)
        return;
    const std::string key = blame(config, {low_key, high_key});
    if (key == low_key)
        conflict(config, key, cat("must be at most ", high_key, " (", high, ")"));
    conflict(config, key, cat("must be at least ", low_key, " (", low, ")"));
}

void check_directory(const Config& config, const std::string& key, const std::string& path)
{
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (!fs::exists(st))
        conflict(config, key, cat("directory does not exist: ", path));
    if (!fs::is_directory(st))
        conflict(config, key, cat("not a directory: ", path));
}

} // namespace

// ---------------------------------------------------------------- public

ListenSpec parse_listen_address(const std::string& text)
{
    ListenSpec spec;
    spec.text = text;
    std::string_view rest = text;
    if (rest.empty())
        throw std::invalid_argument("empty address");
    if (auto sep = rest.find("://"); sep != std::string_view::npos) {
        std::string_view proto = rest.substr(0, sep);
        bool is_scheme = std::all_of(proto.begin(), proto.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
        });
        if (is_scheme) {
            std::string name = lowercase(proto);
            if (name == "http")
                spec.protocol = Protocol::http;
            else if (name == "fastcgi")
                spec.protocol = Protocol::fastcgi;
            else if (name == "scgi")
                spec.protocol = Protocol::scgi;
            else if (name == "unix")
                throw std::invalid_argument("unknown protocol 'unix' (a unix socket is written unix:PATH)");
            else
                throw std::invalid_argument(cat("unknown protocol '", proto, "' (use http, fastcgi or scgi)"));
            rest.remove_prefix(sep + 3);
        }
    }
    if (rest.starts_with("unix:")) {
        rest.remove_prefix(5);
        if (rest.empty())
            throw std::invalid_argument("missing socket path after 'unix:'");
        spec.family = ListenSpec::Family::unix_path;
        spec.path = std::string(rest);
        check_socket_path_length(spec.path);
        return spec;
    }
    parse_host_port(rest, spec);
    return spec;
}

ListenSpec parse_metrics_address(const std::string& text)
{
    ListenSpec spec;
    spec.text = text;
    if (text.find("://") != std::string::npos || text.starts_with("unix:"))
        throw std::invalid_argument("must be HOST:PORT or [V6]:PORT");
    parse_host_port(text, spec);
    return spec;
}

double parse_duration(std::string_view text)
{
    const char* what = "must be a duration: seconds, or a number with a unit like \"500ms\", \"30s\", \"5m\", \"1h\"";
    double scale = 1;
    std::string_view number = text;
    if (number.ends_with("ms")) {
        scale = 0.001;
        number.remove_suffix(2);
    } else if (number.ends_with('s')) {
        number.remove_suffix(1);
    } else if (number.ends_with('m')) {
        scale = 60;
        number.remove_suffix(1);
    } else if (number.ends_with('h')) {
        scale = 3600;
        number.remove_suffix(1);
    }
    // from_chars also takes "inf", "nan" and exponents; only plain decimals here.
    if (number.empty() || !std::all_of(number.begin(), number.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.' || c == '-'; }))
        throw std::invalid_argument(what);
    double value = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec != std::errc() || end != number.data() + number.size())
        throw std::invalid_argument(what);
    if (value < 0)
        throw std::invalid_argument("must not be negative");
    value *= scale;
    if (value > kMaxDuration)
        throw std::invalid_argument(cat("must be at most ", static_cast<uint64_t>(kMaxDuration), " seconds (365 days)"));
    return value;
}

std::string parse_app_callable(std::string_view text)
{
    auto colon = text.find(':');
    std::string_view module = text.substr(0, colon);
    std::string_view callable = colon == std::string_view::npos ? std::string_view("application") : text.substr(colon + 1);
    if (!is_dotted_identifier(module) || !is_dotted_identifier(callable))
        throw std::invalid_argument(
            cat("must be MODULE:CALLABLE with dotted Python names, like \"myapp.wsgi:application\", got ", in_quotes(text)));
    return cat(module, ':', callable);
}

Config parse_config_text(const std::string& text, const std::string& file_name)
{
    ParsedFile parsed = parse_file(text, file_name);
    parsed.config.listeners = apply_defaults(std::move(parsed.binds), parsed.defaults);
    derive(parsed.config);
    return std::move(parsed.config);
}

Config load_config(const CommandLine& cmd)
{
    ParsedFile parsed;
    if (cmd.config_file)
        parsed = parse_file(read_whole_file(*cmd.config_file), *cmd.config_file);
    Config& c = parsed.config;

    const auto from_flag = [&c](const std::string& key, const char* option) {
        c.origins[key] = SettingOrigin{cat("command line: ", option), 0, 0};
    };

    // Relative paths on the command line are the caller's: against the cwd.
    const fs::path cwd = current_directory();
    if (!cmd.binds.empty()) {
        std::erase_if(c.origins, [](const auto& kv) { return kv.first == "bind" || kv.first.starts_with("bind["); });
        parsed.binds.clear();
        from_flag("bind", "-b");
        for (const std::string& text : cmd.binds) {
            BindEntry entry;
            try {
                entry.spec = parse_listen_address(text);
                if (entry.spec.is_unix()) {
                    entry.spec.path = absolute_path(cwd, entry.spec.path);
                    check_socket_path_length(entry.spec.path);
                }
            } catch (const std::invalid_argument& e) {
                throw ConfigError(cat("command line: -b: ", e.what()));
            }
            from_flag(cat("bind[", parsed.binds.size(), ']'), "-b");
            parsed.binds.push_back(std::move(entry));
        }
    }
    c.listeners = apply_defaults(std::move(parsed.binds), parsed.defaults);

    if (cmd.workers) {
        c.workers = *cmd.workers;
        from_flag("workers", "-w");
    }
    if (cmd.metrics_address) {
        c.metrics_address = *cmd.metrics_address;
        from_flag("metrics.address", "--metrics");
    }
    if (cmd.timeout) {
        c.timeout = *cmd.timeout;
        from_flag("timeout", "--timeout");
    }
    if (cmd.max_requests) {
        c.max_requests = *cmd.max_requests;
        from_flag("max_requests", "--max-requests");
    }
    if (!cmd.pythonpath.empty()) {
        c.app.pythonpath.clear();
        for (const std::string& p : cmd.pythonpath)
            c.app.pythonpath.push_back(absolute_path(cwd, p));
        from_flag("pythonpath", "--pythonpath");
    }
    if (cmd.chdir) {
        c.app.chdir = absolute_path(cwd, *cmd.chdir);
        from_flag("chdir", "--chdir");
    }
    if (cmd.virtualenv) {
        c.app.virtualenv = absolute_path(cwd, *cmd.virtualenv);
        from_flag("virtualenv", "--virtualenv");
    }
    if (cmd.preload) {
        c.preload = true;
        from_flag("preload", "--preload");
    }
    if (cmd.callable) {
        try {
            c.app.callable = parse_app_callable(*cmd.callable);
        } catch (const std::invalid_argument& e) {
            throw ConfigError(cat("command line: MODULE:CALLABLE: ", e.what()));
        }
        from_flag("app", "MODULE:CALLABLE");
    }

    derive(c);
    validate_config(c);
    return std::move(c);
}

void validate_config(const Config& config)
{
    if (config.app.callable.empty())
        throw ConfigError(config.file.empty() ? cat("command line: ", kAppRequired) : cat(config.file, ": ", kAppRequired));

    if (config.listeners.size() > kMaxListeners)
        conflict(config, "bind", cat("at most ", kMaxListeners, " listeners, got ", config.listeners.size()));
    for (size_t i = 0; i < config.listeners.size(); ++i) {
        std::string identity = address_identity(config.listeners[i]);
        for (size_t j = 0; j < i; ++j) {
            if (address_identity(config.listeners[j]) == identity)
                conflict(config, cat("bind[", i, ']'),
                         cat("duplicate address (same as ", in_quotes(config.listeners[j].text), ")"));
        }
    }

    switch (config.pm) {
    case ProcessManager::static_pool:
        break;
    case ProcessManager::dynamic_pool:
        if (config.min_spare < 1)
            conflict(config, "min_spare", "must be at least 1 with pm = \"dynamic\"");
        check_order(config, "min_spare", config.min_spare, "max_spare", config.max_spare);
        check_order(config, "max_spare", config.max_spare, "max_workers", config.max_workers);
        check_order(config, "min_spare", config.min_spare, "workers", config.workers);
        check_order(config, "workers", config.workers, "max_workers", config.max_workers);
        break;
    case ProcessManager::ondemand:
        if (config.max_workers < 1)
            conflict(config, "max_workers", "must be at least 1 with pm = \"ondemand\"");
        break;
    }

    if (config.max_requests > 0)
        check_order(config, "max_requests_jitter", config.max_requests_jitter, "max_requests", config.max_requests);

    if (config.slow_request_timeout > 0 && config.timeout > 0 && config.slow_request_timeout >= config.timeout) {
        const std::string key = blame(config, {"slow_request_timeout", "timeout"});
        if (key == "timeout")
            conflict(config, key, cat("must be greater than slow_request_timeout (", seconds_text(config.slow_request_timeout), ")"));
        conflict(config, key, cat("must be less than timeout (", seconds_text(config.timeout), ")"));
    }

    if (!config.app.chdir.empty())
        check_directory(config, "chdir", config.app.chdir);
    if (!config.app.virtualenv.empty()) {
        check_directory(config, "virtualenv", config.app.virtualenv);
        std::error_code ec;
        if (!fs::is_regular_file(fs::path(config.app.virtualenv) / "pyvenv.cfg", ec))
            conflict(config, "virtualenv", cat("not a virtualenv (no pyvenv.cfg in ", config.app.virtualenv, ")"));
    }
}

} // namespace drover

// The TOML file. toml++ parses it; each key is looked up in the settings
// table and read by its kind. Every error names where the value was written:
// "FILE:LINE:COLUMN: KEY: ...", with the position toml++ recorded for the
// value node, and every setting's position is kept in Config::origins for
// the cross-checks that run after the merge.
#include "supervisor/config_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <utility>

#include "base/unique_fd.hpp"
#include "supervisor/config_address.hpp"
#include "supervisor/config_schema.hpp"
#include "supervisor/config_values.hpp"

namespace drover {

namespace fs = std::filesystem;

namespace {

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

/// A table's entries in the order the file has them (toml++ keeps keys
/// sorted), so that the first error reported is the first in the file.
std::vector<std::pair<std::string, const toml::node*>> in_file_order(const toml::table& table)
{
    std::vector<std::pair<std::string, const toml::node*>> entries;
    for (auto&& [k, v] : table)
        entries.emplace_back(std::string(k.str()), &v);
    std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        const auto& pa = a.second->source().begin;
        const auto& pb = b.second->source().begin;
        return std::pair(pa.line, pa.column) < std::pair(pb.line, pb.column);
    });
    return entries;
}

/// Whether some row lives in the table `key` ("log" for "log.level").
bool is_table_of_settings(const std::string& key)
{
    for (const Setting& s : settings())
        if (s.key.size() > key.size() && s.key.starts_with(key) && s.key[key.size()] == '.')
            return true;
    return false;
}

class FileReader {
public:
    FileReader(const std::string& file, Config& config) : file_(file), config_(config)
    {
        fs::path p(file);
        dir_ = (p.is_absolute() ? p : current_directory() / p).parent_path();
    }

    void read_table(const toml::table& table, const std::string& prefix)
    {
        for (const auto& [name, node] : in_file_order(table)) {
            std::string key = prefix.empty() ? name : cat(prefix, '.', name);
            // A quoted "log.level" at the top is not the [log] table's level.
            const Setting* setting = name.find('.') == std::string::npos ? find_setting(key) : nullptr;
            if (setting) {
                setting->field.set(config_, read_value(*setting, *node, key));
            } else if (name.find('.') == std::string::npos && is_table_of_settings(key)) {
                expect(*node, key, toml::node_type::table);
                read_table(*node->as_table(), key);
            } else {
                fail(*node, key, "unknown key");
            }
            remember(*node, key);
        }
    }

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

    void expect(const toml::node& node, const std::string& key, toml::node_type type) const
    {
        if (node.type() != type)
            fail(node, key, cat("expected ", type_name(type), ", got ", type_name(node.type())));
    }

    SettingValue text(const Setting& s, const toml::node& node, const std::string& key) const
    {
        try {
            return parse_setting_text(s, node.as_string()->get(), dir_);
        } catch (const std::invalid_argument& e) {
            fail(node, key, e.what());
        }
    }

    /// Runs a check on a number from the file, with the node's position.
    template <typename Check>
    SettingValue checked(const toml::node& node, const std::string& key, Check&& check) const
    {
        try {
            return check();
        } catch (const std::invalid_argument& e) {
            fail(node, key, e.what());
        }
    }

    SettingValue read_value(const Setting& s, const toml::node& node, const std::string& key);
    SettingValue read_list(const Setting& s, const toml::node& node, const std::string& key);
    SettingValue read_binds(const Setting& s, const toml::node& node, const std::string& key);
    ListenSpec read_bind_table(const toml::table& table, const std::string& key);

    const std::string& file_;
    Config& config_;
    fs::path dir_;
};

SettingValue FileReader::read_value(const Setting& s, const toml::node& node, const std::string& key)
{
    switch (s.kind) {
    case SettingKind::boolean:
        expect(node, key, toml::node_type::boolean);
        return node.as_boolean()->get();
    case SettingKind::integer:
        expect(node, key, toml::node_type::integer);
        return checked(node, key, [&] { return check_integer(s, node.as_integer()->get()); });
    case SettingKind::count:
        expect(node, key, toml::node_type::integer);
        return checked(node, key, [&] { return check_count(node.as_integer()->get()); });
    case SettingKind::size:
        if (node.is_integer()) {
            int64_t v = node.as_integer()->get();
            if (v < 0)
                fail(node, key, "must not be negative");
            return checked(node, key, [&] { return check_size(s, static_cast<uint64_t>(v)); });
        }
        if (!node.is_string())
            fail(node, key, cat("expected a size (bytes, or a string like \"100M\"), got ", type_name(node.type())));
        return text(s, node, key);
    case SettingKind::duration:
        if (node.is_integer())
            return checked(node, key, [&] { return check_duration(s, static_cast<double>(node.as_integer()->get())); });
        if (node.is_floating_point())
            return checked(node, key, [&] { return check_duration(s, node.as_floating_point()->get()); });
        if (!node.is_string())
            fail(node, key, cat("expected a duration (seconds, or a string like \"30s\"), got ", type_name(node.type())));
        return text(s, node, key);
    case SettingKind::file_mode:
        if (node.is_integer()) {
            int64_t v = node.as_integer()->get();
            if (v < 0 || v > 0777)
                fail(node, key, "must be an octal file mode from 0 to 0777, like \"0660\"");
            return static_cast<uint64_t>(v);
        }
        if (!node.is_string())
            fail(node, key, cat("expected an octal mode string like \"0660\" or an integer, got ", type_name(node.type())));
        return text(s, node, key);
    case SettingKind::path_list:
    case SettingKind::cidr_list:
    case SettingKind::proxy_list:
        return read_list(s, node, key);
    case SettingKind::address_list:
        return read_binds(s, node, key);
    case SettingKind::choice:
    case SettingKind::string:
    case SettingKind::mount_point:
    case SettingKind::app_callable:
    case SettingKind::path:
    case SettingKind::optional_path:
    case SettingKind::log_file:
    case SettingKind::error_log:
    case SettingKind::metrics_address:
        expect(node, key, toml::node_type::string);
        return text(s, node, key);
    }
    throw std::logic_error("read_value: unknown kind");
}

/// An array of strings, each read as one element of the kind; errors name
/// the element ("pythonpath[1]").
SettingValue FileReader::read_list(const Setting& s, const toml::node& node, const std::string& key)
{
    expect(node, key, toml::node_type::array);
    std::vector<std::string> out;
    size_t i = 0;
    for (const toml::node& e : *node.as_array()) {
        std::string k = cat(key, '[', i++, ']');
        expect(e, k, toml::node_type::string);
        auto one = std::get<std::vector<std::string>>(text(s, e, k));
        out.insert(out.end(), one.begin(), one.end());
    }
    return out;
}

/// `bind`: addresses, or tables of an address and its own listener options.
SettingValue FileReader::read_binds(const Setting& s, const toml::node& node, const std::string& key)
{
    expect(node, key, toml::node_type::array);
    const toml::array& array = *node.as_array();
    if (array.empty())
        fail(node, key, "must list at least one address");
    std::vector<ListenSpec> out;
    size_t i = 0;
    for (const toml::node& e : array) {
        std::string k = cat(key, '[', i++, ']');
        if (e.is_string())
            out.push_back(std::move(std::get<std::vector<ListenSpec>>(text(s, e, k)).front()));
        else if (e.is_table())
            out.push_back(read_bind_table(*e.as_table(), k));
        else
            fail(e, k, cat("expected an address string or a table, got ", type_name(e.type())));
        remember(e, k);
    }
    return out;
}

/// A bind entry's options are the top-level listener keys, one listener's
/// own: the same rows read them. `fd_name` and `protocol` are the entry's
/// alone: with an fd_name and no address, the entry serves only the socket
/// systemd passes under that name.
ListenSpec FileReader::read_bind_table(const toml::table& table, const std::string& key)
{
    // The address decides which other keys apply, so it is read first.
    const toml::node* address_node = table.get("address");
    const toml::node* fd_name_node = table.get("fd_name");
    ListenSpec spec;
    if (address_node) {
        expect(*address_node, cat(key, ".address"), toml::node_type::string);
        spec = std::move(
            std::get<std::vector<ListenSpec>>(text(setting("bind"), *address_node, cat(key, ".address"))).front());
    } else if (fd_name_node) {
        spec.has_address = false;
    } else {
        fail(table, cat(key, ".address"), "required (or fd_name, for a socket passed by systemd)");
    }
    // Whether the entry's socket is a unix one is known only from its
    // address; an fd_name-only entry takes the unix options too, for a
    // socket that it binds never.
    auto unix_only = [&](const toml::node& node, const std::string& k) {
        if (spec.has_address && !spec.is_unix())
            fail(node, k, "only applies to unix sockets");
    };
    for (const auto& [name, node] : in_file_order(table)) {
        std::string k = cat(key, '.', name);
        if (name == "mode") {
            unix_only(*node, k);
            spec.mode = static_cast<mode_t>(std::get<uint64_t>(read_value(setting("unix_socket_mode"), *node, k)));
            spec.own_mode = true;
        } else if (name == "owner") {
            unix_only(*node, k);
            spec.owner = std::get<std::string>(read_value(setting("unix_socket_owner"), *node, k));
            spec.own_owner = true;
        } else if (name == "group") {
            unix_only(*node, k);
            spec.group = std::get<std::string>(read_value(setting("unix_socket_group"), *node, k));
            spec.own_group = true;
        } else if (name == "backlog") {
            spec.backlog = static_cast<int>(std::get<uint64_t>(read_value(setting("backlog"), *node, k)));
            spec.own_backlog = true;
        } else if (name == "allowed_clients") {
            if (spec.is_unix())
                fail(*node, k, "only applies to TCP listeners");
            spec.allowed_clients = std::get<std::vector<std::string>>(read_value(setting("allowed_clients"), *node, k));
            spec.own_allowed_clients = true;
        } else if (name == "fd_name") {
            expect(*node, k, toml::node_type::string);
            try {
                spec.fd_name = check_fd_name(node->as_string()->get());
            } catch (const std::invalid_argument& e) {
                fail(*node, k, e.what());
            }
        } else if (name == "protocol") {
            expect(*node, k, toml::node_type::string);
            Protocol protocol{};
            try {
                protocol = parse_protocol(node->as_string()->get());
            } catch (const std::invalid_argument& e) {
                fail(*node, k, e.what());
            }
            if (spec.has_address && spec.text.find("://") != std::string::npos && protocol != spec.protocol)
                fail(*node, k, cat("differs from the address's ", in_quotes(spec.text)));
            spec.protocol = protocol;
        } else if (name != "address") {
            fail(*node, k, "unknown key");
        }
        remember(*node, k);
    }
    if (!spec.has_address)
        spec.text = cat(protocol_name(spec.protocol), "://fd:", spec.fd_name);
    return spec;
}

} // namespace

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

Config read_config_file(const std::string& text, const std::string& file_name)
{
    toml::table root;
    try {
        root = toml::parse(std::string_view(text), std::string_view(file_name));
    } catch (const toml::parse_error& e) {
        const auto& begin = e.source().begin;
        throw ConfigError(cat(file_name, ':', begin.line, ':', begin.column, ": syntax error: ", e.description()));
    }
    Config config;
    config.file = file_name;
    FileReader(file_name, config).read_table(root, "");
    return config;
}

} // namespace drover

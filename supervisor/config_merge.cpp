// The merge of the command line over the file, and the checks that no single
// key can make. A conflict is reported at one of the settings involved, with
// its position: the flag if one was given (it overrode the file), else the
// one written last.
#include "supervisor/config_merge.hpp"

#include <filesystem>
#include <stdexcept>
#include <utility>

#include "supervisor/config_address.hpp"
#include "supervisor/config_schema.hpp"
#include "supervisor/config_values.hpp"

namespace drover {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxListeners = 64;
constexpr const char* kAppRequired =
    "app: required (set app = \"module:callable\" in the file or pass MODULE:CALLABLE)";

template <typename List>
void append(SettingValue& to, SettingValue&& more)
{
    auto& list = std::get<List>(to);
    auto& tail = std::get<List>(more);
    list.insert(list.end(), std::make_move_iterator(tail.begin()), std::make_move_iterator(tail.end()));
}

/// A flag's value as Config holds it: the text(s) the command line keeps go
/// through the kind's grammar, with paths against the current directory.
SettingValue flag_value(const Setting& s, SettingValue given, const fs::path& cwd)
{
    if (auto* text = std::get_if<std::string>(&given))
        return parse_setting_text(s, *text, cwd);
    if (auto* texts = std::get_if<std::vector<std::string>>(&given)) {
        // A repeatable flag: one element each time it was given, in order.
        SettingValue out = parse_setting_text(s, texts->front(), cwd);
        for (size_t i = 1; i < texts->size(); ++i) {
            if (s.kind == SettingKind::address_list)
                append<std::vector<ListenSpec>>(out, parse_setting_text(s, (*texts)[i], cwd));
            else
                append<std::vector<std::string>>(out, parse_setting_text(s, (*texts)[i], cwd));
        }
        return out;
    }
    return given;
}

// ---------------------------------------------------------------- checks

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

void check_listeners(const Config& config)
{
    if (config.listeners.size() > kMaxListeners)
        conflict(config, "bind", cat("at most ", kMaxListeners, " listeners, got ", config.listeners.size()));
    for (size_t i = 0; i < config.listeners.size(); ++i) {
        std::string identity = address_identity(config.listeners[i]);
        for (size_t j = 0; j < i; ++j) {
            if (address_identity(config.listeners[j]) == identity)
                conflict(config, cat("bind[", i, ']'),
                         cat("duplicate address (same as ", in_quotes(config.listeners[j].text), ")"));
            const std::string& name = config.listeners[i].fd_name;
            if (!name.empty() && name == config.listeners[j].fd_name)
                conflict(config, cat("bind[", i, "].fd_name"),
                         cat("duplicate fd_name ", in_quotes(name), " (bind[", j, "] takes it)"));
        }
    }
}

void check_pool(const Config& config)
{
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
}

void check_timeouts(const Config& config)
{
    if (config.slow_request_timeout > 0 && config.timeout > 0 && config.slow_request_timeout >= config.timeout) {
        const std::string key = blame(config, {"slow_request_timeout", "timeout"});
        if (key == "timeout")
            conflict(config, key, cat("must be greater than slow_request_timeout (", seconds_text(config.slow_request_timeout), ")"));
        conflict(config, key, cat("must be less than timeout (", seconds_text(config.timeout), ")"));
    }
}

void check_app_directories(const Config& config)
{
    if (!config.app.chdir.empty())
        check_directory(config, "chdir", config.app.chdir);
    if (!config.app.virtualenv.empty()) {
        check_directory(config, "virtualenv", config.app.virtualenv);
        std::error_code ec;
        if (!fs::is_regular_file(fs::path(config.app.virtualenv) / "pyvenv.cfg", ec))
            conflict(config, "virtualenv", cat("not a virtualenv (no pyvenv.cfg in ", config.app.virtualenv, ")"));
    }
}

} // namespace

void apply_flags(Config& config, const CommandLine& cmd)
{
    const fs::path cwd = current_directory();
    for (const Setting& s : settings()) {
        if (!s.is_key() || !s.has_flag())
            continue;
        std::optional<SettingValue> given = s.flag_field.given(cmd);
        if (!given)
            continue;
        const auto* texts = std::get_if<std::vector<std::string>>(&*given);
        const size_t elements = texts ? texts->size() : 0;
        try {
            s.field.set(config, flag_value(s, std::move(*given), cwd));
        } catch (const std::invalid_argument& e) {
            throw ConfigError(cat("command line: ", s.flag_name(), ": ", e.what()));
        }
        const std::string key(s.key);
        const SettingOrigin origin{cat("command line: ", s.flag_name()), 0, 0};
        if (s.is_list()) {
            // The flags replace the file's list: its elements' positions go.
            std::erase_if(config.origins, [&](const auto& kv) { return kv.first.starts_with(key + '['); });
            for (size_t i = 0; i < elements; ++i)
                config.origins[cat(key, '[', i, ']')] = origin;
        }
        config.origins[key] = origin;
    }
}

void finish_config(Config& config)
{
    if (config.listeners.empty())
        config.listeners.push_back(parse_listen_address(kDefaultBind));
    const ListenerDefaults& d = config.listener_defaults;
    for (ListenSpec& spec : config.listeners) {
        if (!spec.own_backlog)
            spec.backlog = d.backlog;
        // An fd_name-only entry may turn out to be a unix socket: it gets the
        // unix defaults too (they are applied only to a socket drover binds).
        bool maybe_unix = spec.is_unix() || !spec.has_address;
        if (maybe_unix && !spec.own_mode)
            spec.mode = d.mode;
        if (maybe_unix && !spec.own_owner)
            spec.owner = d.owner;
        if (maybe_unix && !spec.own_group)
            spec.group = d.group;
        if (!spec.is_unix() && !spec.own_allowed_clients)
            spec.allowed_clients = d.allowed_clients;
    }
    config.app.io_timeout = config.timeout;
    config.app.max_conns = config.pm == ProcessManager::static_pool ? config.workers : config.max_workers;
}

void validate_config(const Config& config)
{
    if (config.app.callable.empty())
        throw ConfigError(config.file.empty() ? cat("command line: ", kAppRequired) : cat(config.file, ": ", kAppRequired));
    check_listeners(config);
    check_pool(config);
    check_timeouts(config);
    check_app_directories(config);
}

} // namespace drover

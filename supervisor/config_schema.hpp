// The table of settings: one row per key of the TOML file and per flag of
// the command line. The file reader, the command-line parser, --help, the
// merge of flags over the file and the reload diff all read these rows, and
// tests hold them against the README's tables, so a key cannot exist without
// its grammar, default, flag (where it has one), documentation and test.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "supervisor/config.hpp"

namespace drover {

/// What a value looks like; each kind has one grammar (config_values.cpp)
/// and one way to be read from a TOML node (config_file.cpp).
enum class SettingKind : uint8_t {
    boolean,          ///< true or false; as a flag, given or not
    integer,          ///< an integer from lo to hi
    count,            ///< a non-negative integer
    size,             ///< bytes, or a string like "100M"; from lo to hi when hi > 0
    duration,         ///< seconds, or a string like "500ms"; `positive` refuses 0
    choice,           ///< one of `choices`, kept as its index
    string,           ///< any string
    mount_point,      ///< "" or "/prefix" without a trailing '/'
    app_callable,     ///< "module:callable"
    path,             ///< a path, never ""; relative to the file (or, as a flag, the cwd)
    optional_path,    ///< a path, or "" for none
    log_file,         ///< "" off, "-" the standard stream, or a path
    error_log,        ///< "-" stderr, or a path; never ""
    path_list,        ///< paths, in order
    address_list,     ///< listen addresses, or tables of an address and its options
    metrics_address,  ///< HOST:PORT or [V6]:PORT, or "" for none
    cidr_list,        ///< IPv4 and IPv6 addresses and CIDR ranges ("10.0.0.0/8")
    proxy_list,       ///< as cidr_list, or "*" for every address
    file_mode,        ///< an octal file mode: "0660" or 0o660
};

/// What SIGHUP does with a changed key.
enum class OnReload : uint8_t {
    /// The master uses the new value from the reload on, or the workers of
    /// the new generation start with it.
    applied,
    /// Held by something the master opened once, at start (listening
    /// sockets, privileges, the pidfile, the metrics server, the connection
    /// park): the running value stays until drover restarts.
    restart,
};

/// A value read from the file or a flag, before it is stored: numbers of
/// every integer kind (and a choice's index) are uint64_t.
using SettingValue =
    std::variant<bool, uint64_t, double, std::string, std::vector<std::string>, std::vector<ListenSpec>>;

/// Where a setting lives in Config.
struct ConfigField {
    void (*set)(Config& config, SettingValue&& value) = nullptr;
    bool (*same)(const Config& a, const Config& b) = nullptr;
    /// Puts from's value into to (a reload keeps restart-only values).
    void (*copy)(Config& to, const Config& from) = nullptr;
};

/// Where a flag lives in CommandLine. Numbers are kept parsed; texts are kept
/// as typed, because paths in them are resolved (against the current
/// directory) only when the flags are put over the file.
struct FlagField {
    void (*store)(CommandLine& cmd, std::string_view text, const SettingValue& parsed) = nullptr;
    /// The flag's value if it was given: a number or bool, or the text(s).
    std::optional<SettingValue> (*given)(const CommandLine& cmd) = nullptr;
};

struct Setting {
    /// Dotted for tables ("log.level"); "" for a flag that is no key
    /// (--config, --check, --version, --help).
    std::string_view key{};
    /// "--workers"; a positional argument is named by its metavar-like text
    /// ("MODULE:CALLABLE"); "" when the key has no flag.
    std::string_view flag{};
    std::string_view short_flag{};///< "-w", or ""
    std::string_view metavar{};   ///< "N"; "" for a flag that takes no value
    SettingKind kind = SettingKind::string;
    uint64_t lo = 0;              ///< integer, size: the bounds (size: none when hi is 0)
    uint64_t hi = 0;
    bool positive = false;        ///< duration: 0 is refused
    std::span<const std::string_view> choices{};
    /// The default as TOML, exactly as README.md shows it; "" when there is
    /// none ("—" in the README).
    std::string_view default_text{};
    std::string_view help{};      ///< one line for --help
    OnReload on_reload = OnReload::applied;
    ConfigField field{};          ///< empty for a flag that is no key
    FlagField flag_field{};       ///< empty for a key without a flag

    bool is_key() const { return !key.empty(); }
    bool has_flag() const { return !flag.empty(); }
    bool is_positional() const { return has_flag() && flag.front() != '-'; }
    bool takes_value() const { return !metavar.empty() || is_positional(); }
    bool is_list() const
    {
        return kind == SettingKind::path_list || kind == SettingKind::address_list || kind == SettingKind::cidr_list ||
               kind == SettingKind::proxy_list;
    }
    /// How errors and origins name the flag: the short form when there is one.
    std::string_view flag_name() const { return short_flag.empty() ? flag : short_flag; }
};

/// Every row, in the order --help lists them: the command line's first.
std::span<const Setting> settings();

/// The row of a dotted key; nullptr when there is none.
const Setting* find_setting(std::string_view key);

/// The row of a key the code itself names; throws std::logic_error when the
/// table lost it.
const Setting& setting(std::string_view key);

/// The row of "-w" or "--workers"; nullptr when there is none.
const Setting* find_flag(std::string_view name);

/// The listener used when neither the file nor the command line binds one.
inline constexpr const char* kDefaultBind = "http://127.0.0.1:8000";

} // namespace drover

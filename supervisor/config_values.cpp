// The value grammar. The file and the command line share it, so a value
// means the same, and is refused with the same words, wherever it is written.
#include "supervisor/config_values.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "base/cidr.hpp"
#include "supervisor/config_address.hpp"

namespace drover {

namespace fs = std::filesystem;

namespace {

bool is_ident_start(char c)
{
    // Bytes >= 0x80: Python allows non-ASCII identifiers; leave them to import.
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
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

/// A whole unsigned number, nothing around it ("+3", " 3", "3x" are not).
bool parse_unsigned(std::string_view text, uint64_t& value)
{
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

std::string must_not_be_empty(std::string_view text)
{
    if (text.empty())
        throw std::invalid_argument("must not be empty");
    return std::string(text);
}

/// A log destination: "-" and "" keep their meaning, anything else is a path.
std::string log_path(const fs::path& base, std::string_view text)
{
    if (text.empty() || text == "-")
        return std::string(text);
    return absolute_path(base, std::string(text));
}

} // namespace

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

std::string size_text(uint64_t bytes)
{
    if (bytes != 0 && bytes % (1u << 30) == 0)
        return cat(bytes >> 30, 'G');
    if (bytes != 0 && bytes % (1u << 20) == 0)
        return cat(bytes >> 20, 'M');
    if (bytes != 0 && bytes % (1u << 10) == 0)
        return cat(bytes >> 10, 'K');
    return cat(bytes);
}

std::string seconds_text(double seconds)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", seconds);
    return cat(buf, 's');
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

uint64_t parse_size(std::string_view text)
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

mode_t parse_file_mode(std::string_view text)
{
    if (text.empty() || text.size() > 4 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; }))
        throw std::invalid_argument("must be an octal file mode from 0 to 0777, like \"0660\"");
    mode_t mode = 0;
    for (char c : text)
        mode = static_cast<mode_t>(mode * 8 + static_cast<mode_t>(c - '0'));
    if (mode > 0777)
        throw std::invalid_argument("must be an octal file mode from 0 to 0777, like \"0660\"");
    return mode;
}

uint64_t parse_choice(std::span<const std::string_view> choices, std::string_view text)
{
    for (size_t i = 0; i < choices.size(); ++i)
        if (choices[i] == text)
            return i;
    std::string list;
    for (size_t i = 0; i < choices.size(); ++i)
        list += cat(i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ", in_quotes(choices[i]));
    throw std::invalid_argument(cat("must be ", list, ", got ", in_quotes(text)));
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

uint64_t check_integer(const Setting& setting, int64_t value)
{
    if (value < 0 || static_cast<uint64_t>(value) < setting.lo || static_cast<uint64_t>(value) > setting.hi)
        throw std::invalid_argument(cat("must be an integer from ", setting.lo, " to ", setting.hi));
    return static_cast<uint64_t>(value);
}

uint64_t check_count(int64_t value)
{
    if (value < 0)
        throw std::invalid_argument("must be a non-negative integer");
    return static_cast<uint64_t>(value);
}

uint64_t check_size(const Setting& setting, uint64_t bytes)
{
    if (setting.hi != 0 && (bytes < setting.lo || bytes > setting.hi))
        throw std::invalid_argument(cat("must be a size from ", size_text(setting.lo), " to ", size_text(setting.hi)));
    return bytes;
}

double check_duration(const Setting& setting, double seconds)
{
    if (std::isnan(seconds))
        throw std::invalid_argument("must be a number of seconds");
    if (seconds < 0)
        throw std::invalid_argument("must not be negative");
    if (seconds > kMaxDuration)
        throw std::invalid_argument(cat("must be at most ", static_cast<uint64_t>(kMaxDuration), " seconds (365 days)"));
    if (setting.positive && seconds == 0)
        throw std::invalid_argument("must be greater than 0");
    return seconds;
}

fs::path current_directory()
{
    std::error_code ec;
    fs::path cwd = fs::current_path(ec);
    if (ec)
        throw ConfigError(cat("cannot find the current directory: ", ec.message()));
    return cwd;
}

std::string absolute_path(const fs::path& base, const std::string& path)
{
    fs::path p = fs::path(path).is_absolute() ? fs::path(path) : base / path;
    std::string out = p.lexically_normal().string();
    while (out.size() > 1 && out.back() == '/')
        out.pop_back();
    return out;
}

SettingValue parse_setting_text(const Setting& setting, std::string_view text, const fs::path& base)
{
    switch (setting.kind) {
    case SettingKind::boolean:
        if (text == "true" || text == "false")
            return text == "true";
        throw std::invalid_argument("must be true or false");
    case SettingKind::integer: {
        uint64_t value = 0;
        if (!parse_unsigned(text, value) || value > static_cast<uint64_t>(INT64_MAX))
            throw std::invalid_argument(cat("must be an integer from ", setting.lo, " to ", setting.hi));
        return check_integer(setting, static_cast<int64_t>(value));
    }
    case SettingKind::count: {
        uint64_t value = 0;
        if (!parse_unsigned(text, value) || value > static_cast<uint64_t>(INT64_MAX))
            throw std::invalid_argument("must be a non-negative integer");
        return value;
    }
    case SettingKind::size:
        return check_size(setting, parse_size(text));
    case SettingKind::duration:
        return check_duration(setting, parse_duration(text));
    case SettingKind::choice:
        return parse_choice(setting.choices, text);
    case SettingKind::string:
        return std::string(text);
    case SettingKind::mount_point:
        // PATH_INFO is split at the prefix: "/app/" would never match "/app".
        if (!text.empty() && (text.front() != '/' || text.back() == '/'))
            throw std::invalid_argument("must start with '/' and not end with '/', like \"/app\" (or be empty)");
        return std::string(text);
    case SettingKind::app_callable:
        return parse_app_callable(text);
    case SettingKind::path:
        return absolute_path(base, must_not_be_empty(text));
    case SettingKind::optional_path:
        return text.empty() ? std::string() : absolute_path(base, std::string(text));
    case SettingKind::log_file:
        return log_path(base, text);
    case SettingKind::error_log:
        if (text.empty())
            throw std::invalid_argument("must be a path or \"-\" (stderr)");
        return log_path(base, text);
    case SettingKind::path_list:
        return std::vector<std::string>{absolute_path(base, must_not_be_empty(text))};
    case SettingKind::address_list: {
        ListenSpec spec = parse_listen_address(std::string(text));
        if (spec.is_unix()) {
            spec.path = absolute_path(base, spec.path);
            check_socket_path_length(spec.path);
        }
        return std::vector<ListenSpec>{std::move(spec)};
    }
    case SettingKind::metrics_address:
        // "" turns the metrics server off (and off over a file that set one).
        if (!text.empty())
            parse_metrics_address(std::string(text));
        return std::string(text);
    case SettingKind::cidr_list:
        // [] already allows every client; "*" would say it twice, or be
        // mistaken for a forwarded_allow_ips that trusts.
        if (text == "*")
            throw std::invalid_argument("\"*\" is not a client address: [] allows every client");
        return std::vector<std::string>{parse_cidr(text).text()};
    case SettingKind::proxy_list:
        return std::vector<std::string>{text == "*" ? std::string(text) : parse_cidr(text).text()};
    case SettingKind::file_mode:
        return static_cast<uint64_t>(parse_file_mode(text));
    }
    throw std::logic_error("parse_setting_text: unknown kind");
}

} // namespace drover

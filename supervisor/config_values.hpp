// The value grammar: durations, sizes, file modes, choices, the app callable,
// paths, and what each kind of setting accepts as text. Reasons are short
// phrases ("must be ..."), thrown as std::invalid_argument; the caller puts
// the file position or the flag in front.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "supervisor/config_schema.hpp"

namespace drover {

/// The longest duration any setting takes.
inline constexpr double kMaxDuration = 365.0 * 24 * 3600;

std::string in_quotes(std::string_view s);
std::string lowercase(std::string_view s);
/// "30s", "0.5s": durations in messages, without log.hpp's fixed 3 decimals.
std::string seconds_text(double seconds);

/// "1K", "1M", "1536": a size as the user would write it.
std::string size_text(uint64_t bytes);

/// Bytes, or a number with K, M or G: "100M". Throws std::invalid_argument.
uint64_t parse_size(std::string_view text);

/// "0660": octal, at most 0777. Throws std::invalid_argument.
mode_t parse_file_mode(std::string_view text);

/// The index of text in choices. Throws std::invalid_argument
/// ("must be \"a\", \"b\" or \"c\", got \"x\"").
uint64_t parse_choice(std::span<const std::string_view> choices, std::string_view text);

/// The checks every number of a kind gets, from the file or a flag: the
/// row's bounds, the duration limits. Throw std::invalid_argument.
uint64_t check_integer(const Setting& setting, int64_t value);
uint64_t check_count(int64_t value);
uint64_t check_size(const Setting& setting, uint64_t bytes);
double check_duration(const Setting& setting, double seconds);

/// Lexically absolute: no existence required, no symlinks followed; no
/// trailing '/'.
std::string absolute_path(const std::filesystem::path& base, const std::string& path);

/// The current directory, against which flags' relative paths resolve.
/// Throws ConfigError.
std::filesystem::path current_directory();

/// One value of the setting's kind written as text: a flag's value, or a
/// string in the file. Relative paths resolve against base. A list kind
/// takes one element and returns a list of one. Throws std::invalid_argument.
SettingValue parse_setting_text(const Setting& setting, std::string_view text, const std::filesystem::path& base);

} // namespace drover

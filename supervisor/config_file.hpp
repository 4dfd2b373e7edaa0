// Reading the TOML file: toml++ nodes into a Config, every error with the
// file, line and column of the value and its dotted key.
#pragma once

#include <string>

#include "supervisor/config.hpp"

namespace drover {

/// The file's contents. Throws ConfigError ("FILE: cannot read: ...").
std::string read_whole_file(const std::string& path);

/// The settings the text sets, over the defaults, with their positions in
/// Config::origins. Not finished: the listener defaults are not folded in
/// yet (flags may still replace the listeners). Throws ConfigError.
Config read_config_file(const std::string& text, const std::string& file_name);

} // namespace drover

// Flags over the file, and what the settings make together: the listener
// defaults folded into the listeners, the derived settings, and the
// cross-checks of validate_config() (declared in config.hpp).
#pragma once

#include "supervisor/config.hpp"

namespace drover {

/// Puts every flag the command line gave over config (the file's settings,
/// or the defaults), recording "command line: FLAG" as each one's origin.
/// Relative paths in flags are the caller's: against the current directory.
/// Throws ConfigError ("command line: -b: ...").
void apply_flags(Config& config, const CommandLine& cmd);

/// Folds the top-level listener options into the listeners that did not set
/// their own (adding the default listener when there is none) and fills in
/// the settings that are not keys of their own. Idempotent.
void finish_config(Config& config);

} // namespace drover

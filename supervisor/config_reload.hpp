// What a reload changes: the keys whose value differs between the running
// Config and the one SIGHUP read, split by what the reload can do with them
// (the settings table's OnReload column).
#pragma once

#include <string>
#include <vector>

#include "supervisor/config.hpp"

namespace drover {

struct ReloadDiff {
    std::vector<std::string> applied;  ///< dotted keys the reload applies
    std::vector<std::string> restart;  ///< dotted keys that wait for a restart
};

/// The changed keys, in the settings table's order.
ReloadDiff diff_for_reload(const Config& old, const Config& fresh);

/// Logs each restart-only key that changed ("SIGHUP: KEY changed; it takes
/// effect at the next restart") and, at info, the keys applied.
void log_reload_diff(const ReloadDiff& diff);

/// Puts the running values of the restart-only keys back into fresh, so
/// that the Config the master runs with says what is really in effect (and
/// the next reload compares against it).
void keep_restart_only(Config& fresh, const Config& old);

} // namespace drover

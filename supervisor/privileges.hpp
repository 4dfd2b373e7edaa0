// Dropping root after the listeners are bound (ports below 1024, socket files
// in /run), before any worker is forked, so no application code runs as root.
#pragma once

#include <string>

namespace drover {

/// Switches this process to user (and its groups) and group, when set.
/// Throws std::runtime_error naming the user or group and the failed call.
void drop_privileges(const std::string& user, const std::string& group);

} // namespace drover

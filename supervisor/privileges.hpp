// Dropping root after the listeners are bound (ports below 1024, socket files
// in /run), before any worker is forked, so no application code runs as root;
// and what must be done as root first for the processes that run as `user`.
#pragma once

#include <string>
#include <vector>

namespace drover {

/// Hands the log files to user (and group, else the user's primary group)
/// before the drop: each is opened (created 0640 if missing, never through
/// a symlink) and fchown()ed, so that the workers, which open the access log
/// for themselves, and every process reopening its logs on SIGUSR1 (after
/// logrotate) can write them. "" and "-" are skipped. Does nothing when
/// user is "" or this process is not root. Throws std::runtime_error naming
/// the file and the failed call.
void hand_logs_to_user(const std::vector<std::string>& paths, const std::string& user, const std::string& group);

/// Logs a warning when this process is root and no `user` is set: the
/// application would run as root.
void warn_if_root_without_user(const std::string& user);

/// Switches this process to user (and its groups) and group, when set.
/// Throws std::runtime_error naming the user or group and the failed call.
void drop_privileges(const std::string& user, const std::string& group);

} // namespace drover

// The address grammar: listen addresses (`bind`, -b) and the metrics address
// (the ranges of `allowed_clients` and `forwarded_allow_ips` are
// base/cidr.hpp's, shared with the workers). parse_listen_address() and
// parse_metrics_address() are declared in config.hpp; these are the pieces
// the file reader and the cross-checks share.
#pragma once

#include <string>

#include "supervisor/config.hpp"

namespace drover {

/// Throws std::invalid_argument when a unix socket path does not fit in
/// sockaddr_un (checked again after a relative path is made absolute).
void check_socket_path_length(const std::string& path);

/// Canonical text of an IPv4 or IPv6 address, so that "::1" and "0::1"
/// name the same listener. Throws
/// std::invalid_argument for anything else (no names, no CIDR).
std::string canonical_ip(const std::string& text);

/// "http", "fastcgi" or "scgi" (any case). Throws std::invalid_argument.
Protocol parse_protocol(std::string_view name);

/// A socket name as systemd takes it (FileDescriptorName=, FDNAME=): 1 to 255
/// printable ASCII characters, no ':'. Returns it; throws
/// std::invalid_argument.
std::string check_fd_name(std::string_view name);

/// What two listeners conflict on: the same port on the same host, or the
/// same socket file, or the same systemd socket name; whatever protocol each
/// speaks.
std::string address_identity(const ListenSpec& spec);

} // namespace drover

// Socket addresses as the environ and the logs write them.
#pragma once

#include <sys/socket.h>

#include <string>

namespace drover {

/// "192.0.2.1", "2001:db8::1" (an IPv4-mapped IPv6 address as IPv4, so
/// allowed_clients and logs see one form); the port into *port when given.
/// Unix and unknown families give "".
std::string address_text(const sockaddr_storage& address, std::string* port);

} // namespace drover

// The request-target of an HTTP/1.1 request line (RFC 9112 §3.2) and the
// Host it names (RFC 9110 §7.2), as the CGI params need them.
#pragma once

#include <string_view>

namespace drover {

struct RequestTarget {
    std::string_view path;       ///< still percent-encoded; "*" for the asterisk-form
    std::string_view query;      ///< after '?', without it
    std::string_view authority;  ///< absolute-form only: the host[:port] that replaces Host
    std::string_view origin;     ///< absolute-form only: what follows the authority ("", "/p?q", "?q")
    bool https = false;          ///< absolute-form with the https scheme
    bool absolute = false;
};

/// Splits target into its parts. Accepts origin-form ("/p?q"), absolute-form
/// with an http or https scheme (a server MUST accept it, §3.2.2), and "*"
/// only when options (OPTIONS is the only method it is defined for, §3.2.4).
/// authority-form belongs to CONNECT, which drover refuses before this.
/// Returns nullptr, or what is wrong (answered with 400).
const char* parse_request_target(std::string_view target, bool options, RequestTarget& out);

/// True when value is a valid Host: uri-host [ ":" port ] (RFC 9110 §7.2;
/// RFC 3986 §3.2.2: reg-name, IPv4 or an IP-literal in brackets), or empty.
bool valid_host(std::string_view value);

/// "host:port" or "[v6]:port" into its name and port; false when there is
/// no ":port" at all (port is then empty).
bool split_host(std::string_view host, std::string_view& name, std::string_view& port);

} // namespace drover

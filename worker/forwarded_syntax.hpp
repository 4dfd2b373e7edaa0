// The syntax of the forwarding headers: RFC 7239's `Forwarded` (elements of
// parameters; nodes such as "[2001:db8::1]:4711", "unknown", "_hidden") and
// the comma lists of X-Forwarded-For, -Proto, -Ssl, -Host and -Port. Pure
// parsing; what to believe is worker/forwarded.hpp's.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/cidr.hpp"

namespace drover {

/// A node (RFC 7239 §6): who a hop says the request came from.
struct ForwardedNode {
    enum class Kind {
        address,     ///< an IPv4 or IPv6 address
        unknown,     ///< "unknown", or (X-Forwarded-For) anything that is no address
        obfuscated,  ///< "_name": a proxy hides the address
    };
    Kind kind = Kind::unknown;
    IpAddress address;  ///< for Kind::address
    std::string port;   ///< decimal digits; "" when none was given or it was obfuscated
};

/// One forwarded-element: what one proxy says about the request it received.
/// Values are unquoted; a parameter the element lacks is nullopt.
struct ForwardedElement {
    std::optional<std::string> for_node;
    std::optional<std::string> proto;
    std::optional<std::string> host;
};

/// Parses a Forwarded field value (repeated fields joined with ", ") into its
/// elements, from the left (farthest from us) to the right (the nearest
/// proxy's). Parameter names are case-insensitive; "by" and extension
/// parameters are checked for syntax and dropped; a parameter given twice in
/// one element is an error (RFC 7239 §4); empty list elements are skipped
/// (RFC 9110 §5.6.1). OWS is allowed around ',' and ';', not around '='.
/// Returns what is wrong, or "" when the value is well-formed.
std::string parse_forwarded(std::string_view value, std::vector<ForwardedElement>& elements);

/// An RFC 7239 node: IPv4, "[IPv6]", "unknown" or "_obfuscated", each with
/// an optional ":port" (digits, or an obfuscated "_port"). nullopt when it is
/// none of these (a bare IPv6 address, without brackets, is none).
std::optional<ForwardedNode> parse_forwarded_node(std::string_view text);

/// An X-Forwarded-For item, OWS trimmed: "192.0.2.1", "192.0.2.1:4711",
/// "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:4711". Anything else
/// (Squid's "unknown", a name, garbage) is a node of Kind::unknown: never
/// trusted, and naming no address.
ForwardedNode parse_forwarded_for_item(std::string_view text);

/// The non-empty items of a comma-separated list, with OWS trimmed.
std::vector<std::string_view> split_list(std::string_view value);

/// "host", "host:port" or "[v6]:port", where a host is a name of letters,
/// digits, '-', '.', '_' and '~', or a bracketed IPv6 address, and a port is
/// 1 to 65535. Splits it (name keeps the brackets, as SERVER_NAME does);
/// false when it is not such a host, so it cannot go into HTTP_HOST.
bool parse_host_port(std::string_view text, std::string_view& name, std::string_view& port);

/// 1 to 65535, in decimal digits only.
bool valid_port(std::string_view text);

} // namespace drover

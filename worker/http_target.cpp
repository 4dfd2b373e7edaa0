#include "worker/http_target.hpp"

#include <algorithm>

#include "worker/ascii.hpp"

namespace drover {

namespace {

constexpr bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
constexpr bool is_alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// RFC 3986 reg-name = *( unreserved / pct-encoded / sub-delims )
bool valid_reg_name(std::string_view name)
{
    for (size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        if (is_alnum(c) || std::string_view("-._~!$&'()*+,;=").find(c) != std::string_view::npos)
            continue;
        if (c == '%' && i + 2 < name.size() && is_hex(name[i + 1]) && is_hex(name[i + 2])) {
            i += 2;
            continue;
        }
        return false;
    }
    return true;
}

bool valid_port(std::string_view port)
{
    for (char c : port)
        if (c < '0' || c > '9')
            return false;
    return true;
}

} // namespace

bool valid_host(std::string_view value)
{
    if (value.empty())
        return true;  // a target without authority comes with an empty Host (RFC 9112 §3.2)
    std::string_view port;
    if (value.front() == '[') {
        // IP-literal: an IPv6 address (hex digits, ':' and a dotted IPv4 tail).
        // IPvFuture and zone ids are not taken.
        const size_t close = value.find(']');
        if (close == std::string_view::npos || close == 1)
            return false;
        for (char c : value.substr(1, close - 1))
            if (!is_hex(c) && c != ':' && c != '.')
                return false;
        std::string_view rest = value.substr(close + 1);
        if (rest.empty())
            return true;
        if (rest.front() != ':')
            return false;
        port = rest.substr(1);
    } else {
        const size_t colon = value.rfind(':');
        if (colon != std::string_view::npos)
            port = value.substr(colon + 1);
        if (!valid_reg_name(value.substr(0, colon)))
            return false;
    }
    return valid_port(port);
}

bool split_host(std::string_view host, std::string_view& name, std::string_view& port)
{
    // "host", "host:port", "[v6]", "[v6]:port"
    const size_t colon = host.rfind(':');
    const size_t bracket = host.rfind(']');
    if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
        name = host.substr(0, colon);
        port = host.substr(colon + 1);
        return true;
    }
    name = host;
    port = {};
    return false;
}

const char* parse_request_target(std::string_view target, bool options, RequestTarget& out)
{
    out = RequestTarget{};
    if (target == "*") {
        if (!options)
            return "asterisk-form target with a method other than OPTIONS";
        out.path = target;
        return nullptr;
    }
    // A fragment is the client's own business (RFC 9110 §7.1): it has no
    // place in any form of request-target.
    if (target.find('#') != std::string_view::npos)
        return "fragment ('#') in the request target";

    std::string_view rest = target;
    if (target.empty() || target.front() != '/') {
        const size_t sep = target.find("://");
        if (sep == std::string_view::npos)
            return "request target is neither origin-form nor absolute-form";
        const std::string_view scheme = target.substr(0, sep);
        if (ascii_iequals(scheme, "https"))
            out.https = true;
        else if (!ascii_iequals(scheme, "http"))
            return "absolute-form target with a scheme other than http or https";
        rest = target.substr(sep + 3);
        const size_t end = rest.find_first_of("/?");
        out.authority = rest.substr(0, end);
        // An empty view at the end when there is no path: the parts stay views into target.
        rest = rest.substr(std::min(end, rest.size()));
        out.origin = rest;
        // RFC 9110 §4.2.4: userinfo in an http(s) URI is an error (it is how
        // "http://trusted.example@evil.example/" fools a reader).
        if (out.authority.find('@') != std::string_view::npos)
            return "userinfo in the request target";
        std::string_view name, port;
        split_host(out.authority, name, port);
        // RFC 9110 §4.2.1: an http URI with an empty host is invalid.
        if (name.empty() || !valid_host(out.authority))
            return "invalid host in the absolute-form target";
        out.absolute = true;
    }
    const size_t q = rest.find('?');
    out.path = rest.substr(0, q);
    if (q != std::string_view::npos)
        out.query = rest.substr(q + 1);
    return nullptr;
}

} // namespace drover

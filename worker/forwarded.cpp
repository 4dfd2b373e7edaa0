#include "worker/forwarded.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include "base/log.hpp"
#include "worker/ascii.hpp"
#include "worker/forwarded_syntax.hpp"
#include "worker/http_target.hpp"

namespace drover {

namespace {

/// What one kind of header (Forwarded, or the X-Forwarded-* family) says
/// about the client's hop; empty where it says nothing.
struct Claims {
    std::optional<IpAddress> address;
    std::string address_port;
    std::string scheme;     ///< "http" or "https"
    std::string host_name;  ///< brackets kept around IPv6
    std::string port;       ///< of the host: named with it or by X-Forwarded-Port
};

/// A header's value, its repeats joined with ", " as one list (RFC 9110
/// §5.3), the way the environ joins them; nullopt when absent.
std::optional<std::string> header(const Request& request, std::string_view name)
{
    std::optional<std::string> joined;
    for (const auto& [k, v] : request.params) {
        if (k != name)
            continue;
        if (joined)
            joined->append(", ").append(v);
        else
            joined = v;
    }
    return joined;
}

std::string quoted(std::string_view s) { return cat("\"", s, "\""); }

std::string read_scheme(std::string_view value, std::string_view what, Claims& claims)
{
    if (ascii_iequals(value, "https") || ascii_iequals(value, "http")) {
        claims.scheme = ascii_iequals(value, "https") ? "https" : "http";
        return {};
    }
    return cat(what, " ", quoted(value), " is neither http nor https");
}

std::string read_host(std::string_view value, std::string_view what, Claims& claims)
{
    std::string_view name, port;
    if (!parse_host_port(value, name, port))
        return cat(what, " ", quoted(value), " is not a host or host:port");
    claims.host_name.assign(name);
    claims.port.assign(port);
    return {};
}

std::string from_forwarded(std::string_view value, const CidrSet& trusted, Claims& claims)
{
    std::vector<ForwardedElement> elements;
    if (std::string error = parse_forwarded(value, elements); !error.empty())
        return cat("Forwarded: ", error);
    // From the nearest proxy's element back, past every trusted one.
    for (size_t i = elements.size(); i-- > 0;) {
        const ForwardedElement& hop = elements[i];
        std::optional<ForwardedNode> node;
        if (hop.for_node) {
            node = parse_forwarded_node(*hop.for_node);
            if (!node)
                return cat("Forwarded: for=", quoted(*hop.for_node),
                           " is not an address, \"[IPv6]\", \"unknown\" or \"_hidden\" (with an optional :port)");
        }
        bool is_address = node && node->kind == ForwardedNode::Kind::address;
        if (i > 0 && is_address && trusted.contains(node->address))
            continue;
        if (is_address) {
            claims.address = node->address;
            claims.address_port = node->port;
        }
        if (hop.proto)
            if (std::string error = read_scheme(*hop.proto, "Forwarded: proto", claims); !error.empty())
                return error;
        if (hop.host)
            if (std::string error = read_host(*hop.host, "Forwarded: host", claims); !error.empty())
                return error;
        break;
    }
    return {};
}

/// The value of a list header at the client's hop: `back` items from the
/// right, or the left-most of a shorter list; nullopt when absent or empty.
std::optional<std::string> at_hop(const Request& request, std::string_view name, size_t back)
{
    std::optional<std::string> joined = header(request, name);
    if (!joined)
        return std::nullopt;
    std::vector<std::string_view> items = split_list(*joined);
    if (items.empty())
        return std::nullopt;
    return std::string(items[items.size() - 1 - std::min(back, items.size() - 1)]);
}

std::string from_x_forwarded(const Request& request, const CidrSet& trusted, Claims& claims)
{
    size_t back = 0;  // how many items from the right the client's hop is
    if (std::optional<std::string> xff = header(request, "HTTP_X_FORWARDED_FOR")) {
        std::vector<std::string_view> items = split_list(*xff);
        for (size_t i = items.size(); i-- > 0;) {
            ForwardedNode node = parse_forwarded_for_item(items[i]);
            bool is_address = node.kind == ForwardedNode::Kind::address;
            if (i > 0 && is_address && trusted.contains(node.address))
                continue;
            back = items.size() - 1 - i;
            if (is_address) {
                claims.address = node.address;
                claims.address_port = node.port;
            }
            break;
        }
    }
    if (std::optional<std::string> proto = at_hop(request, "HTTP_X_FORWARDED_PROTO", back))
        if (std::string error = read_scheme(*proto, "X-Forwarded-Proto", claims); !error.empty())
            return error;
    if (std::optional<std::string> ssl = at_hop(request, "HTTP_X_FORWARDED_SSL", back)) {
        if (!ascii_iequals(*ssl, "on") && !ascii_iequals(*ssl, "off"))
            return cat("X-Forwarded-Ssl ", quoted(*ssl), " is neither on nor off");
        std::string scheme = ascii_iequals(*ssl, "on") ? "https" : "http";
        if (!claims.scheme.empty() && claims.scheme != scheme)
            return cat("X-Forwarded-Proto says ", claims.scheme, ", X-Forwarded-Ssl says ", *ssl);
        claims.scheme = scheme;
    }
    if (std::optional<std::string> host = at_hop(request, "HTTP_X_FORWARDED_HOST", back))
        if (std::string error = read_host(*host, "X-Forwarded-Host", claims); !error.empty())
            return error;
    if (std::optional<std::string> port = at_hop(request, "HTTP_X_FORWARDED_PORT", back)) {
        if (!valid_port(*port))
            return cat("X-Forwarded-Port ", quoted(*port), " is not a port");
        if (!claims.port.empty() && claims.port != *port)
            return cat("X-Forwarded-Host names port ", claims.port, ", X-Forwarded-Port says ", *port);
        claims.port = *port;
    }
    return {};
}

/// Puts what x says into f where f says nothing; what both say must agree.
std::string merge(Claims& f, const Claims& x)
{
    auto disagree = [](std::string_view what, std::string_view a, std::string_view b) {
        return cat("Forwarded and X-Forwarded-* disagree on the ", what, ": ", quoted(a), " and ", quoted(b));
    };
    if (f.address && x.address && *f.address != *x.address)
        return disagree("client address", f.address->text(), x.address->text());
    if (!f.scheme.empty() && !x.scheme.empty() && f.scheme != x.scheme)
        return disagree("scheme", f.scheme, x.scheme);
    if (!f.host_name.empty() && !x.host_name.empty() && !ascii_iequals(f.host_name, x.host_name))
        return disagree("host", f.host_name, x.host_name);
    if (!f.port.empty() && !x.port.empty() && f.port != x.port)
        return disagree("port", f.port, x.port);
    if (!f.address && x.address) {
        f.address = x.address;
        f.address_port = x.address_port;
    }
    for (auto [to, from] : {std::pair{&f.scheme, &x.scheme}, std::pair{&f.host_name, &x.host_name},
                            std::pair{&f.port, &x.port}})
        if (to->empty())
            *to = *from;
    return {};
}

void apply(const Request& request, const Claims& c, ForwardedResult& out)
{
    if (c.address) {
        out.remote_addr = c.address->text();
        out.remote_port = c.address_port;
        out.client = out.remote_addr;
    }
    out.url_scheme = c.scheme;
    bool https = c.scheme.empty() ? frontend_says_https(request) : c.scheme == "https";
    std::string_view default_port = https ? "443" : "80";
    std::string_view host = request.param("HTTP_HOST");
    std::string_view host_name, host_port;
    split_host(host, host_name, host_port);
    if (!c.host_name.empty() || !c.port.empty()) {
        std::string_view name = c.host_name.empty() ? host_name : std::string_view(c.host_name);
        // The port of a host the proxy names is its own, never the Host
        // the proxy sent us (that names the backend).
        std::string_view port = c.port.empty() ? default_port : std::string_view(c.port);
        out.server_port.assign(port);
        if (name.empty())
            return;  // no host anywhere: only the port is known
        out.server_name.assign(name);
        out.http_host = port == default_port ? std::string(name) : cat(name, ":", port);
    } else if (!c.scheme.empty() && !host.empty()) {
        // Only the scheme is new: the port follows it, unless the Host
        // names one.
        out.server_port.assign(host_port.empty() ? default_port : host_port);
    }
}

} // namespace

bool frontend_says_https(const Request& request)
{
    std::string_view https = request.param("HTTPS");
    return ascii_iequals(https, "on") || https == "1" || ascii_iequals(request.param("REQUEST_SCHEME"), "https");
}

ForwardedResult resolve_forwarded(const Request& request, std::string_view socket_peer, const CidrSet& trusted)
{
    ForwardedResult out;
    // One pass: most requests carry no forwarding header at all, and then
    // there is nothing to believe or refuse (and no address to parse).
    std::string_view peer;
    bool forwarding = false;
    for (const auto& [name, value] : request.params) {
        if (peer.empty() && name == "REMOTE_ADDR")
            peer = value;
        else if (name.starts_with("HTTP_FORWARDED") || name.starts_with("HTTP_X_FORWARDED_"))
            forwarding = true;
    }
    if (peer.empty())
        peer = socket_peer;
    out.client.assign(peer);
    if (!forwarding) {
        out.trusted = false;  // nothing was claimed: nothing to trust
        return out;
    }
    if (peer.empty()) {
        out.trusted = !trusted.empty();
    } else {
        std::optional<IpAddress> address = IpAddress::parse(peer);
        out.trusted = address && trusted.contains(*address);
    }
    if (!out.trusted)
        return out;

    Claims forwarded, x_forwarded;
    std::string error;
    if (std::optional<std::string> value = header(request, "HTTP_FORWARDED"))
        error = from_forwarded(*value, trusted, forwarded);
    if (error.empty())
        error = from_x_forwarded(request, trusted, x_forwarded);
    if (error.empty())
        error = merge(forwarded, x_forwarded);
    if (!error.empty()) {
        out.error = std::move(error);
        return out;
    }
    apply(request, forwarded, out);
    return out;
}

} // namespace drover

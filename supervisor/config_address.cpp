// The address grammar. A listener is "[PROTO://]ADDR" where ADDR is
// HOST:PORT, [V6]:PORT, unix:PATH or an absolute PATH (as uWSGI and PHP-FPM
// take a socket path). Reasons are short phrases; the caller puts the file
// position or the flag in front.
#include "supervisor/config_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <string_view>

#include "supervisor/config_values.hpp"

namespace drover {

namespace {

bool valid_host_name(std::string_view host)
{
    if (host.size() > 253)
        return false;
    std::string_view::size_type start = 0;
    while (start <= host.size()) {
        auto dot = host.find('.', start);
        std::string_view label = host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return false;
        for (char c : label)
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
                return false;
        if (dot == std::string_view::npos)
            break;
        start = dot + 1;
    }
    return true;
}

bool all_digits(std::string_view s)
{
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

uint16_t parse_port(std::string_view text)
{
    if (text.empty())
        throw std::invalid_argument("missing port");
    if (!all_digits(text))
        throw std::invalid_argument(cat("port '", text, "' is not a number"));
    unsigned long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || value < 1 || value > 65535)
        throw std::invalid_argument(cat("port out of range (1 to 65535): ", text));
    (void)end;
    return static_cast<uint16_t>(value);
}

/// "HOST:PORT" or "[V6]:PORT" into spec.
void parse_host_port(std::string_view text, ListenSpec& spec)
{
    std::string_view host;
    std::string_view port;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos)
            throw std::invalid_argument("missing ']' after the IPv6 address");
        host = text.substr(1, close - 1);
        std::string_view after = text.substr(close + 1);
        if (after.empty())
            throw std::invalid_argument("missing port");
        if (after.front() != ':')
            throw std::invalid_argument("expected ':PORT' after ']'");
        port = after.substr(1);
        if (host.empty())
            throw std::invalid_argument("missing host");
        in6_addr addr{};
        if (inet_pton(AF_INET6, std::string(host).c_str(), &addr) != 1)
            throw std::invalid_argument(cat("invalid IPv6 address '", host, "'"));
        spec.family = ListenSpec::Family::inet6;
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos)
            throw std::invalid_argument("missing port");
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            throw std::invalid_argument("an IPv6 address must be in brackets, like [::1]:8000");
        if (host.empty())
            throw std::invalid_argument("missing host");
        bool numeric = std::all_of(host.begin(), host.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
        if (numeric) {
            in_addr addr{};
            if (inet_pton(AF_INET, std::string(host).c_str(), &addr) != 1)
                throw std::invalid_argument(cat("invalid IPv4 address '", host, "'"));
        } else if (!valid_host_name(host)) {
            throw std::invalid_argument(cat("invalid host name '", host, "'"));
        }
        spec.family = ListenSpec::Family::inet;
    }
    spec.host = std::string(host);
    spec.port = parse_port(port);
}

void set_unix_path(std::string_view path, ListenSpec& spec)
{
    spec.family = ListenSpec::Family::unix_path;
    spec.path = std::string(path);
    check_socket_path_length(spec.path);
}

} // namespace

void check_socket_path_length(const std::string& path)
{
    if (path.size() >= sizeof(sockaddr_un::sun_path))
        throw std::invalid_argument(
            cat("socket path too long (at most ", sizeof(sockaddr_un::sun_path) - 1, " bytes): ", path));
}

std::string canonical_ip(const std::string& text)
{
    char buf[INET6_ADDRSTRLEN];
    in_addr v4{};
    if (inet_pton(AF_INET, text.c_str(), &v4) == 1 && inet_ntop(AF_INET, &v4, buf, sizeof buf))
        return buf;
    in6_addr v6{};
    if (inet_pton(AF_INET6, text.c_str(), &v6) == 1 && inet_ntop(AF_INET6, &v6, buf, sizeof buf))
        return buf;
    throw std::invalid_argument(cat("not an IPv4 or IPv6 address: ", in_quotes(text)));
}

Protocol parse_protocol(std::string_view name)
{
    std::string lower = lowercase(name);
    if (lower == "http")
        return Protocol::http;
    if (lower == "fastcgi")
        return Protocol::fastcgi;
    if (lower == "scgi")
        return Protocol::scgi;
    if (lower == "unix")
        throw std::invalid_argument("unknown protocol 'unix' (a unix socket is written unix:PATH)");
    throw std::invalid_argument(cat("unknown protocol '", name, "' (use http, fastcgi or scgi)"));
}

std::string check_fd_name(std::string_view name)
{
    // systemd's fdname_is_valid(), less the empty name.
    constexpr size_t kMax = 255;
    bool printable = std::all_of(name.begin(), name.end(), [](char c) { return c >= ' ' && c <= '~' && c != ':'; });
    if (name.empty() || name.size() > kMax || !printable)
        throw std::invalid_argument(cat("must be 1 to ", kMax, " printable ASCII characters without ':', got ",
                                        in_quotes(name)));
    return std::string(name);
}

std::string address_identity(const ListenSpec& spec)
{
    if (!spec.has_address)
        return cat("fd:", spec.fd_name);
    if (spec.is_unix())
        return cat("unix:", spec.path);
    std::string host = lowercase(spec.host);
    try {
        host = canonical_ip(spec.host);
    } catch (const std::invalid_argument&) {
        // a host name: compared as written
    }
    return cat(host, " ", spec.port);
}

ListenSpec parse_listen_address(const std::string& text)
{
    ListenSpec spec;
    spec.text = text;
    std::string_view rest = text;
    if (rest.empty())
        throw std::invalid_argument("empty address");
    if (auto sep = rest.find("://"); sep != std::string_view::npos) {
        std::string_view proto = rest.substr(0, sep);
        bool is_scheme = std::all_of(proto.begin(), proto.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
        });
        if (is_scheme) {
            spec.protocol = parse_protocol(proto);
            rest.remove_prefix(sep + 3);
        }
    }
    if (rest.starts_with("unix:")) {
        rest.remove_prefix(5);
        if (rest.empty())
            throw std::invalid_argument("missing socket path after 'unix:'");
        set_unix_path(rest, spec);
        return spec;
    }
    // No host name starts with '/', so an absolute path is unambiguous; a
    // relative one is not ("app.sock:80"?), and keeps needing "unix:".
    if (rest.starts_with('/')) {
        set_unix_path(rest, spec);
        return spec;
    }
    parse_host_port(rest, spec);
    return spec;
}

ListenSpec parse_metrics_address(const std::string& text)
{
    ListenSpec spec;
    spec.text = text;
    if (text.find("://") != std::string::npos || text.starts_with("unix:"))
        throw std::invalid_argument("must be HOST:PORT or [V6]:PORT");
    parse_host_port(text, spec);
    return spec;
}

} // namespace drover

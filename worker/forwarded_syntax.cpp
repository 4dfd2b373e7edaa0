#include "worker/forwarded_syntax.hpp"

#include <cstdio>
#include <utility>

#include "base/log.hpp"
#include "worker/ascii.hpp"

namespace drover {

namespace {

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }


bool is_ows(char c) { return c == ' ' || c == '\t'; }

// RFC 9110 §5.6.4: qdtext and the byte after a backslash.
bool is_qdtext(unsigned char c)
{
    return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}
bool is_quotable(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

// RFC 7239 §6.3: "_" followed by ALPHA / DIGIT / "." / "_" / "-".
bool is_obfuscated(std::string_view s)
{
    if (s.size() < 2 || s.front() != '_')
        return false;
    for (char c : s.substr(1))
        if (!is_alnum(c) && c != '.' && c != '_' && c != '-')
            return false;
    return true;
}

std::string_view trim(std::string_view s)
{
    while (!s.empty() && is_ows(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back()))
        s.remove_suffix(1);
    return s;
}

/// A byte as the error log can show it.
std::string shown(char c)
{
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x21 && u < 0x7f)
        return cat("'", std::string_view(&c, 1), "'");
    char hex[16];
    std::snprintf(hex, sizeof hex, "byte 0x%02x", u);
    return hex;
}

/// An IPv6 address in brackets at the start of text: its address, and the
/// rest after ']'. False when text does not start so.
bool bracketed_ipv6(std::string_view text, IpAddress& address, std::string_view& rest)
{
    if (text.empty() || text.front() != '[')
        return false;
    size_t close = text.find(']');
    if (close == std::string_view::npos)
        return false;
    std::string_view inner = text.substr(1, close - 1);
    std::optional<IpAddress> ip = IpAddress::parse(inner);
    // "[192.0.2.1]" is no IPv6 literal.
    if (!ip || inner.find(':') == std::string_view::npos)
        return false;
    address = *ip;
    rest = text.substr(close + 1);
    return true;
}

} // namespace

bool valid_port(std::string_view text)
{
    if (text.empty() || text.size() > 5)
        return false;
    unsigned value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return false;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    return value >= 1 && value <= 65535;
}

std::vector<std::string_view> split_list(std::string_view value)
{
    std::vector<std::string_view> items;
    while (true) {
        size_t comma = value.find(',');
        std::string_view item = trim(value.substr(0, comma));
        if (!item.empty())
            items.push_back(item);
        if (comma == std::string_view::npos)
            return items;
        value.remove_prefix(comma + 1);
    }
}

std::string parse_forwarded(std::string_view v, std::vector<ForwardedElement>& elements)
{
    size_t i = 0;
    auto skip_ows = [&] {
        while (i < v.size() && is_ows(v[i]))
            ++i;
    };
    auto at = [&](std::string_view what) { return cat(what, " at byte ", i + 1); };
    while (true) {
        skip_ows();
        if (i == v.size())
            return {};
        if (v[i] == ',') {  // an empty list element
            ++i;
            continue;
        }
        ForwardedElement element;
        bool any = false, by = false;
        while (true) {
            skip_ows();
            if (i == v.size() || v[i] == ',')
                break;
            if (v[i] == ';') {
                ++i;
                continue;
            }
            size_t start = i;
            while (i < v.size() && is_tchar(v[i]))
                ++i;
            std::string_view name = v.substr(start, i - start);
            if (name.empty())
                return at(cat("unexpected ", shown(v[i]), " where a parameter name belongs"));
            if (i == v.size() || v[i] != '=')
                return at(cat("expected '=' after \"", name, "\""));
            ++i;
            std::string value;
            if (i < v.size() && v[i] == '"') {
                ++i;
                bool closed = false;
                while (i < v.size() && !closed) {
                    unsigned char c = static_cast<unsigned char>(v[i]);
                    if (c == '"') {
                        closed = true;
                    } else if (c == '\\') {
                        if (i + 1 == v.size() || !is_quotable(static_cast<unsigned char>(v[i + 1])))
                            return at("a backslash that escapes nothing");
                        value.push_back(v[++i]);
                    } else if (is_qdtext(c)) {
                        value.push_back(v[i]);
                    } else {
                        return at(cat(shown(v[i]), " inside a quoted value"));
                    }
                    ++i;
                }
                if (!closed)
                    return cat("a quoted value of \"", name, "\" that does not end");
            } else {
                size_t value_start = i;
                while (i < v.size() && is_tchar(v[i]))
                    ++i;
                if (i == value_start)
                    return at(cat("no value for \"", name, "\" (a value with ':' or '[' must be quoted)"));
                value.assign(v.substr(value_start, i - value_start));
            }
            std::optional<std::string>* slot = nullptr;
            bool twice = false;
            if (ascii_iequals(name, "for"))
                slot = &element.for_node;
            else if (ascii_iequals(name, "proto"))
                slot = &element.proto;
            else if (ascii_iequals(name, "host"))
                slot = &element.host;
            else if (ascii_iequals(name, "by"))
                twice = std::exchange(by, true);
            if (slot) {
                twice = slot->has_value();
                *slot = std::move(value);
            }
            if (twice)
                return cat("\"", name, "\" given twice in one element");
            any = true;
            skip_ows();
            if (i < v.size() && v[i] != ';' && v[i] != ',')
                return at(cat("unexpected ", shown(v[i]), " after the value of \"", name, "\""));
        }
        if (any)
            elements.push_back(std::move(element));
    }
}

std::optional<ForwardedNode> parse_forwarded_node(std::string_view text)
{
    ForwardedNode node;
    std::string_view rest;
    if (bracketed_ipv6(text, node.address, rest)) {
        node.kind = ForwardedNode::Kind::address;
    } else {
        size_t colon = text.find(':');
        std::string_view name = text.substr(0, colon);
        rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
        if (ascii_iequals(name, "unknown")) {
            node.kind = ForwardedNode::Kind::unknown;
        } else if (is_obfuscated(name)) {
            node.kind = ForwardedNode::Kind::obfuscated;
        } else if (std::optional<IpAddress> ip = IpAddress::parse(name)) {
            // Split at the first ':', name holds no IPv6 address: one
            // without brackets fails here, as RFC 7239 §6 wants.
            node.kind = ForwardedNode::Kind::address;
            node.address = *ip;
        } else {
            return std::nullopt;
        }
    }
    if (!rest.empty()) {
        std::string_view port = rest.substr(1);
        if (rest.front() != ':' || !(valid_port(port) || is_obfuscated(port)))
            return std::nullopt;
        if (!is_obfuscated(port))
            node.port.assign(port);
    }
    return node;
}

ForwardedNode parse_forwarded_for_item(std::string_view text)
{
    text = trim(text);
    ForwardedNode node;
    if (std::optional<IpAddress> ip = IpAddress::parse(text)) {
        node.kind = ForwardedNode::Kind::address;
        node.address = *ip;
        return node;
    }
    std::string_view rest;
    if (bracketed_ipv6(text, node.address, rest)) {
        if (rest.empty() || (rest.front() == ':' && valid_port(rest.substr(1)))) {
            node.kind = ForwardedNode::Kind::address;
            node.port.assign(rest.empty() ? rest : rest.substr(1));
        }
        return node;
    }
    // "192.0.2.1:4711": one colon, an IPv4 address before it.
    size_t colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos &&
        valid_port(text.substr(colon + 1))) {
        if (std::optional<IpAddress> ip = IpAddress::parse(text.substr(0, colon))) {
            node.kind = ForwardedNode::Kind::address;
            node.address = *ip;
            node.port.assign(text.substr(colon + 1));
        }
    }
    return node;
}

bool parse_host_port(std::string_view text, std::string_view& name, std::string_view& port)
{
    IpAddress ignored;
    std::string_view rest;
    if (bracketed_ipv6(text, ignored, rest)) {
        name = text.substr(0, text.size() - rest.size());
    } else {
        size_t colon = text.find(':');
        name = text.substr(0, colon);
        rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
        // A DNS name or an IPv4 address: what a URL may carry without
        // escaping. Nothing that could end the authority ('/', '?', '#',
        // '@') or break a header.
        if (name.empty() || name.size() > 253)
            return false;
        for (char c : name)
            if (!is_alnum(c) && c != '-' && c != '.' && c != '_' && c != '~')
                return false;
    }
    port = {};
    if (rest.empty())
        return true;
    if (rest.front() != ':' || !valid_port(rest.substr(1)))
        return false;
    port = rest.substr(1);
    return true;
}

} // namespace drover

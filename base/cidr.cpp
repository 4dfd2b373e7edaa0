#include "base/cidr.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <stdexcept>

namespace drover {

namespace {

constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
constexpr unsigned kMappedBits = 96;

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

/// The prefix length after '/': 1 to 3 digits, at most `max`.
unsigned parse_prefix(std::string_view digits, unsigned max, std::string_view whole)
{
    unsigned value = 0;
    bool ok = !digits.empty() && digits.size() <= 3;
    for (char c : digits) {
        if (c < '0' || c > '9') {
            ok = false;
            break;
        }
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (!ok || value > max)
        throw std::invalid_argument(std::string("the prefix length must be from 0 to ") + std::to_string(max) +
                                    (max == 32 ? " for IPv4: " : " for IPv6: ") + quoted(whole));
    return value;
}

/// True when the bits of a after the first `prefix` bits are all zero.
bool host_bits_clear(const std::array<uint8_t, 16>& a, unsigned prefix)
{
    for (unsigned bit = prefix; bit < 128; ++bit)
        if (a[bit / 8] & (0x80u >> (bit % 8)))
            return false;
    return true;
}

std::array<uint8_t, 16> masked(std::array<uint8_t, 16> a, unsigned prefix)
{
    for (unsigned bit = prefix; bit < 128; ++bit)
        a[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
    return a;
}

} // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text)
{
    // inet_pton wants a C string; an address is at most 45 characters.
    char buf[INET6_ADDRSTRLEN + 1];
    if (text.empty() || text.size() >= sizeof buf)
        return std::nullopt;
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    IpAddress out;
    in_addr v4{};
    if (inet_pton(AF_INET, buf, &v4) == 1) {
        std::memcpy(out.bytes_.data(), kMappedPrefix, sizeof kMappedPrefix);
        std::memcpy(out.bytes_.data() + 12, &v4, 4);
        return out;
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, buf, &v6) == 1) {
        std::memcpy(out.bytes_.data(), &v6, 16);
        return out;
    }
    return std::nullopt;
}

std::optional<IpAddress> IpAddress::from_sockaddr(const sockaddr_storage& ss)
{
    IpAddress out;
    if (ss.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        std::memcpy(out.bytes_.data(), kMappedPrefix, sizeof kMappedPrefix);
        std::memcpy(out.bytes_.data() + 12, &a->sin_addr, 4);
        return out;
    }
    if (ss.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        std::memcpy(out.bytes_.data(), &a->sin6_addr, 16);
        return out;
    }
    return std::nullopt;
}

IpAddress IpAddress::from_bytes(const std::array<uint8_t, 16>& bytes)
{
    IpAddress out;
    out.bytes_ = bytes;
    return out;
}

bool IpAddress::is_v4() const { return std::memcmp(bytes_.data(), kMappedPrefix, sizeof kMappedPrefix) == 0; }

std::string IpAddress::text() const
{
    char buf[INET6_ADDRSTRLEN] = "";
    if (is_v4())
        inet_ntop(AF_INET, bytes_.data() + 12, buf, sizeof buf);
    else
        inet_ntop(AF_INET6, bytes_.data(), buf, sizeof buf);
    return buf;
}

bool CidrRange::contains(const IpAddress& address) const
{
    const auto& a = address.bytes();
    const auto& n = network.bytes();
    unsigned whole = prefix / 8;
    if (std::memcmp(a.data(), n.data(), whole) != 0)
        return false;
    unsigned rest = prefix % 8;
    if (rest == 0)
        return true;
    uint8_t mask = static_cast<uint8_t>(0xff00u >> rest);
    return (a[whole] & mask) == (n[whole] & mask);
}

std::string CidrRange::text() const
{
    std::string out;
    if (ipv4) {
        out = network.text();
    } else {
        // Written as IPv6: an IPv4-mapped network stays in that form.
        char buf[INET6_ADDRSTRLEN] = "";
        inet_ntop(AF_INET6, network.bytes().data(), buf, sizeof buf);
        out = buf;
    }
    if (!single)
        out += "/" + std::to_string(ipv4 ? prefix - kMappedBits : prefix);
    return out;
}

CidrRange parse_cidr(std::string_view text)
{
    std::string_view address = text.substr(0, text.find('/'));
    std::optional<IpAddress> ip = IpAddress::parse(address);
    if (!ip)
        throw std::invalid_argument("not an IP address or a CIDR range like \"10.0.0.0/8\": " + quoted(text));
    CidrRange range;
    range.network = *ip;
    // An IPv4-mapped address written as IPv6 keeps IPv6 prefix lengths.
    range.ipv4 = address.find(':') == std::string_view::npos;
    range.single = address.size() == text.size();
    if (!range.single) {
        unsigned bits = parse_prefix(text.substr(address.size() + 1), range.ipv4 ? 32 : 128, text);
        range.prefix = range.ipv4 ? bits + kMappedBits : bits;
        if (!host_bits_clear(ip->bytes(), range.prefix)) {
            // Probably a typo for a narrower range, or an address meant
            // alone: refused rather than silently widened.
            CidrRange network = range;
            network.network = IpAddress::from_bytes(masked(ip->bytes(), range.prefix));
            throw std::invalid_argument("bits set after the prefix length in " + quoted(text) + " (the range is " +
                                        quoted(network.text()) + ")");
        }
    }
    return range;
}

CidrSet::CidrSet(const std::vector<std::string>& texts)
{
    for (const std::string& text : texts) {
        if (text == "*")
            any_ = true;
        else
            ranges_.push_back(parse_cidr(text));
    }
}

bool CidrSet::contains(const IpAddress& address) const
{
    if (any_)
        return true;
    for (const CidrRange& range : ranges_)
        if (range.contains(address))
            return true;
    return false;
}

} // namespace drover

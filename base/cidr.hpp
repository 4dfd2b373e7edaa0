// IP addresses and CIDR ranges: the grammar of `allowed_clients` and
// `forwarded_allow_ips` (the master validates it) and the matching a worker
// does against a connection's peer or a forwarded hop. In base/ because both
// sides need it, and supervisor/ may not reach into worker/.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace drover {

/// An IPv4 or IPv6 address. IPv4 is held in its IPv4-mapped IPv6 form
/// (::ffff:a.b.c.d): a dual-stack listener's peer ::ffff:10.1.2.3 and the
/// range 10.0.0.0/8 then meet in one address space, with one comparison.
class IpAddress {
public:
    /// "192.0.2.1" or "2001:db8::1": no brackets, no zone, no port; nullopt
    /// for anything else.
    static std::optional<IpAddress> parse(std::string_view text);
    /// The address of an AF_INET or AF_INET6 socket address; nullopt for
    /// other families (a unix socket's peer has no address).
    static std::optional<IpAddress> from_sockaddr(const sockaddr_storage& address);
    /// The 16 bytes of the IPv6 form (IPv4 as ::ffff:a.b.c.d).
    static IpAddress from_bytes(const std::array<uint8_t, 16>& bytes);

    /// IPv4, or IPv4-mapped IPv6.
    bool is_v4() const;
    /// Canonical text: dotted IPv4 (an IPv4-mapped address too, as the logs
    /// write peers), RFC 5952 IPv6 ("2001:db8::1").
    std::string text() const;
    const std::array<uint8_t, 16>& bytes() const { return bytes_; }

    bool operator==(const IpAddress&) const = default;

private:
    std::array<uint8_t, 16> bytes_{};
};

/// A CIDR range (10.0.0.0/8, ::1/128) or a single address.
struct CidrRange {
    IpAddress network;
    /// Leading bits of the 128-bit form that must match: an IPv4 /8 is 104.
    unsigned prefix = 128;
    /// Written as IPv4 (its prefix is shown as prefix - 96).
    bool ipv4 = false;
    /// Written without a /LENGTH.
    bool single = true;

    bool contains(const IpAddress& address) const;
    /// "10.0.0.0/8", "::1": the form configurations are compared and shown in.
    std::string text() const;
};

/// Parses "10.0.0.0/8", "2001:db8::/32" or a plain address (the range of that
/// one address). Throws std::invalid_argument with the reason: not an
/// address, a prefix length out of range, bits set after the prefix.
CidrRange parse_cidr(std::string_view text);

/// A set of ranges, or every address ("*").
class CidrSet {
public:
    CidrSet() = default;
    /// From texts the configuration validated (parse_cidr's grammar, or "*").
    /// Implicit on purpose: the master hands each worker the configuration's
    /// lists of texts, and the worker matches with this. Throws
    /// std::invalid_argument on a text that is neither (start-up only).
    CidrSet(const std::vector<std::string>& texts);

    /// No range at all (not even "*").
    bool empty() const { return !any_ && ranges_.empty(); }
    bool matches_all() const { return any_; }
    bool contains(const IpAddress& address) const;

private:
    bool any_ = false;
    std::vector<CidrRange> ranges_;
};

} // namespace drover

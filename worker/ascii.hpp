// ASCII case folding for protocol tokens (header names): never locale-aware.
#pragma once

#include <array>
#include <string_view>

namespace drover {

namespace detail {
constexpr std::array<bool, 256> tchar_table()
{
    std::array<bool, 256> t{};
    for (int c = '0'; c <= '9'; ++c)
        t[static_cast<size_t>(c)] = true;
    for (int c = 'a'; c <= 'z'; ++c)
        t[static_cast<size_t>(c)] = t[static_cast<size_t>(c - 'a' + 'A')] = true;
    for (char c : std::string_view("!#$%&'*+-.^_`|~"))
        t[static_cast<unsigned char>(c)] = true;
    return t;
}
inline constexpr std::array<bool, 256> kTchar = tchar_table();
} // namespace detail

/// tchar (RFC 9110 5.6.2): what a method or header name is made of. A table:
/// it runs for every byte of every header name, both ways.
constexpr bool is_tchar(char c) { return detail::kTchar[static_cast<unsigned char>(c)]; }

constexpr char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr bool ascii_iequals(std::string_view a, std::string_view b)
{
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
    return true;
}

} // namespace drover

// worker/forwarded_syntax: the grammar of Forwarded (RFC 7239) and of the
// X-Forwarded-* lists, case by case.
#include "worker/forwarded_syntax.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace drover {
namespace {

/// The elements as "for|proto|host" per element ("-" where absent), joined
/// with " , ", or "error: ..." .
std::string elements(std::string_view value)
{
    std::vector<ForwardedElement> out;
    std::string error = parse_forwarded(value, out);
    if (!error.empty())
        return "error: " + error;
    std::string text;
    for (const ForwardedElement& e : out) {
        if (!text.empty())
            text += " , ";
        text += (e.for_node ? *e.for_node : "-") + "|" + (e.proto ? *e.proto : "-") + "|" + (e.host ? *e.host : "-");
    }
    return text;
}

/// "address 192.0.2.1 port 80", "unknown", "obfuscated", or "invalid".
std::string node(const std::optional<ForwardedNode>& n)
{
    if (!n)
        return "invalid";
    std::string port = n->port.empty() ? "" : " port " + n->port;
    switch (n->kind) {
    case ForwardedNode::Kind::address: return "address " + n->address.text() + port;
    case ForwardedNode::Kind::unknown: return "unknown" + port;
    case ForwardedNode::Kind::obfuscated: return "obfuscated" + port;
    }
    return "?";
}

TEST(ForwardedSyntax, ElementsAndParameters)
{
    const std::pair<const char*, const char*> cases[] = {
        {"for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60|http|-"},
        {"for=192.0.2.43, for=198.51.100.17", "192.0.2.43|-|- , 198.51.100.17|-|-"},
        // names are case-insensitive; values keep their case
        {"For=192.0.2.60;PROTO=HTTPS;Host=App.Example.org", "192.0.2.60|HTTPS|App.Example.org"},
        // quoted values: IPv6 with brackets and a port, escapes
        {R"(for="[2001:db8:cafe::17]:4711")", "[2001:db8:cafe::17]:4711|-|-"},
        {R"(for="_gazonk";host="a\"b")", R"(_gazonk|-|a"b)"},
        // OWS around ',' and ';', and empty list elements and pairs
        {"  for=a ; proto=https ,, , for=b;;host=h  ", "a|https|- , b|-|h"},
        // extensions and by are checked for syntax, then dropped
        {R"(for=a;secret="x, y";by=_p)", "a|-|-"},
        {"by=10.0.0.1", "-|-|-"},
        // nothing at all
        {"", ""},
        {" , ,", ""},
    };
    for (const auto& [value, expected] : cases)
        EXPECT_EQ(elements(value), expected) << value;
}

TEST(ForwardedSyntax, MalformedValuesSayWhere)
{
    const std::pair<const char*, const char*> cases[] = {
        {"for=", R"(error: no value for "for" (a value with ':' or '[' must be quoted) at byte 5)"},
        {"for=[2001:db8::1]", R"(error: no value for "for" (a value with ':' or '[' must be quoted) at byte 5)"},
        {"for=192.0.2.1:80", "error: unexpected ':' after the value of \"for\" at byte 14"},
        {"for 192.0.2.1", R"(error: expected '=' after "for" at byte 4)"},
        {"for = a", R"(error: expected '=' after "for" at byte 4)"},
        {"=a", "error: unexpected '=' where a parameter name belongs at byte 1"},
        {"for=a proto=b", "error: unexpected 'p' after the value of \"for\" at byte 7"},
        {"for=a;for=b", R"(error: "for" given twice in one element)"},
        {"by=a;BY=b", R"(error: "BY" given twice in one element)"},
        {R"(for="a)", R"(error: a quoted value of "for" that does not end)"},
        {"for=\"a\x01\"", "error: byte 0x01 inside a quoted value at byte 7"},
        {R"(for="a\)", "error: a backslash that escapes nothing at byte 7"},
        {"for=\"a\"b", "error: unexpected 'b' after the value of \"for\" at byte 8"},
    };
    for (const auto& [value, expected] : cases)
        EXPECT_EQ(elements(value), expected) << value;
}

TEST(ForwardedSyntax, Nodes)
{
    const std::pair<const char*, const char*> cases[] = {
        {"192.0.2.60", "address 192.0.2.60"},
        {"192.0.2.60:4711", "address 192.0.2.60 port 4711"},
        {"[2001:db8:cafe::17]", "address 2001:db8:cafe::17"},
        {"[2001:DB8:CAFE::17]:4711", "address 2001:db8:cafe::17 port 4711"},
        {"[::ffff:192.0.2.1]", "address 192.0.2.1"},
        {"unknown", "unknown"},
        {"UNKNOWN:80", "unknown port 80"},
        {"_hidden", "obfuscated"},
        {"_SEVKISEK", "obfuscated"},
        {"_a.b-c_d:_port", "obfuscated"},
        {"192.0.2.60:_port", "address 192.0.2.60"},
        // invalid
        {"2001:db8::1", "invalid"},  // IPv6 without brackets
        {"[192.0.2.1]", "invalid"},
        {"[2001:db8::1", "invalid"},
        {"[2001:db8::1]x", "invalid"},
        {"192.0.2.60:0", "invalid"},
        {"192.0.2.60:65536", "invalid"},
        {"192.0.2.60:", "invalid"},
        {"_", "invalid"},
        {"_a/b", "invalid"},
        {"localhost", "invalid"},
        {"", "invalid"},
    };
    for (const auto& [text, expected] : cases)
        EXPECT_EQ(node(parse_forwarded_node(text)), expected) << text;
}

TEST(ForwardedSyntax, XForwardedForItems)
{
    const std::pair<const char*, const char*> cases[] = {
        {"192.0.2.1", "address 192.0.2.1"},
        {" 192.0.2.1\t", "address 192.0.2.1"},
        {"192.0.2.1:4711", "address 192.0.2.1 port 4711"},
        {"2001:DB8::1", "address 2001:db8::1"},
        {"[2001:db8::1]", "address 2001:db8::1"},
        {"[2001:db8::1]:4711", "address 2001:db8::1 port 4711"},
        {"::ffff:192.0.2.1", "address 192.0.2.1"},
        // Squid's "unknown", names, garbage: no address
        {"unknown", "unknown"},
        {"_hidden", "unknown"},
        {"proxy.example", "unknown"},
        {"192.0.2.1:http", "unknown"},
        {"192.0.2.1:0", "unknown"},
        {"[2001:db8::1]:", "unknown"},
        {"1.2.3.4.5", "unknown"},
        {"\"192.0.2.1\"", "unknown"},
    };
    for (const auto& [text, expected] : cases)
        EXPECT_EQ(node(parse_forwarded_for_item(text)), expected) << text;
}

TEST(ForwardedSyntax, ListsAndHosts)
{
    EXPECT_EQ(split_list(" a ,b,, ,\tc\t"), (std::vector<std::string_view>{"a", "b", "c"}));
    EXPECT_TRUE(split_list("").empty());
    EXPECT_TRUE(split_list(" , ").empty());

    const std::tuple<const char*, bool, const char*, const char*> hosts[] = {
        {"app.example.org", true, "app.example.org", ""},
        {"app.example.org:8443", true, "app.example.org", "8443"},
        {"192.0.2.1:80", true, "192.0.2.1", "80"},
        {"[2001:db8::1]", true, "[2001:db8::1]", ""},
        {"[2001:db8::1]:8443", true, "[2001:db8::1]", "8443"},
        {"my_host~1", true, "my_host~1", ""},
        {"", false, "", ""},
        {":80", false, "", ""},
        {"app.example.org:", false, "", ""},
        {"app.example.org:99999", false, "", ""},
        {"evil.example/path", false, "", ""},
        {"user@app.example.org", false, "", ""},
        {"a b", false, "", ""},
        {"2001:db8::1", false, "", ""},
        {"[2001:db8::1]x", false, "", ""},
    };
    for (const auto& [text, ok, name, port] : hosts) {
        std::string_view n, p;
        ASSERT_EQ(parse_host_port(text, n, p), ok) << text;
        if (ok) {
            EXPECT_EQ(n, name) << text;
            EXPECT_EQ(p, port) << text;
        }
    }
    std::string_view n, p;
    EXPECT_FALSE(parse_host_port(std::string(254, 'a'), n, p));  // longer than a DNS name
}

TEST(ForwardedSyntax, Ports)
{
    for (const char* good : {"1", "80", "443", "65535", "08080"})
        EXPECT_TRUE(valid_port(good)) << good;
    for (const char* bad : {"", "0", "65536", "123456", "-1", "+80", "8o", " 80"})
        EXPECT_FALSE(valid_port(bad)) << bad;
}

} // namespace
} // namespace drover

// worker/forwarded: what is believed, from whom, and what is refused. One
// table: each case is a request's params, its peer and the trusted ranges,
// and what resolve_forwarded() makes of them.
#include "worker/forwarded.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace drover {
namespace {

const std::vector<std::string> kDefault = {"127.0.0.1", "::1"};
/// An nginx on 127.0.0.1 behind internal load balancers in 10/8.
const std::vector<std::string> kInternal = {"127.0.0.1", "::1", "10.0.0.0/8"};

struct Case {
    const char* what;
    std::vector<Param> params;  ///< after REQUEST_METHOD and HTTP_HOST app.example.org
    std::string expected;
    std::string peer = "127.0.0.1";
    std::vector<std::string> trusted = kInternal;
};

/// "untrusted", "400 <reason>", or the new environ values that are set,
/// in a fixed order ("trusted" when none is).
std::string describe(const ForwardedResult& r)
{
    if (!r.trusted)
        return "untrusted";
    if (!r.error.empty())
        return "400 " + r.error;
    std::string out;
    auto add = [&](const char* name, const std::string& value) {
        if (!value.empty())
            out += (out.empty() ? "" : " ") + std::string(name) + "=" + value;
    };
    add("addr", r.remote_addr);
    add("rport", r.remote_port);
    add("scheme", r.url_scheme);
    add("host", r.http_host);
    add("name", r.server_name);
    add("port", r.server_port);
    return out.empty() ? "trusted" : out;
}

Request request_with(const std::vector<Param>& params)
{
    Request r;
    r.params = {{"REQUEST_METHOD", "GET"}};
    // A case that sets its own Host has only that one (the codecs keep one).
    bool own_host = false;
    for (const auto& [name, value] : params)
        own_host = own_host || name == "HTTP_HOST";
    if (!own_host)
        r.params.emplace_back("HTTP_HOST", "app.example.org");
    r.params.insert(r.params.end(), params.begin(), params.end());
    return r;
}

void run(const std::vector<Case>& cases)
{
    for (const Case& c : cases) {
        ForwardedResult r = resolve_forwarded(request_with(c.params), c.peer, CidrSet(c.trusted));
        EXPECT_EQ(describe(r), c.expected) << c.what;
    }
}

TEST(Forwarded, WhoIsTrusted)
{
    const std::vector<Param> spoof = {{"HTTP_X_FORWARDED_FOR", "192.0.2.9"},
                                      {"HTTP_X_FORWARDED_PROTO", "https"},
                                      {"HTTP_X_FORWARDED_HOST", "evil.example"},
                                      {"HTTP_FORWARDED", "for=192.0.2.9;proto=https;host=evil.example"}};
    const std::string believed = "addr=192.0.2.9 scheme=https host=evil.example name=evil.example port=443";
    run({
        {"an untrusted peer: nothing is read", spoof, "untrusted", "203.0.113.5", kDefault},
        {"127.0.0.2 is not 127.0.0.1", spoof, "untrusted", "127.0.0.2", kDefault},
        {"the default trusts 127.0.0.1", spoof, believed, "127.0.0.1", kDefault},
        {"and ::1", spoof, believed, "::1", kDefault},
        {"an IPv4-mapped peer meets its IPv4 entry", spoof, believed, "::ffff:127.0.0.1", kDefault},
        {"a CIDR range", spoof, believed, "10.20.30.40", kInternal},
        {"* trusts everyone", spoof, believed, "203.0.113.5", {"*"}},
        {"[] trusts no one", spoof, "untrusted", "127.0.0.1", {}},
        {"a unix socket's peer is a local process", spoof, believed, "", kDefault},
        {"but not with []", spoof, "untrusted", "", {}},
        {"without the headers nothing is read, whoever the peer", {}, "untrusted"},
    });
}

TEST(Forwarded, OverFastcgiAndScgiTheWebServersRemoteAddrIsThePeer)
{
    // The web server is the proxy: the address it saw is the one tested, not
    // its own socket's.
    std::vector<Param> params = {{"REMOTE_ADDR", "198.51.100.7"}, {"HTTP_X_FORWARDED_FOR", "192.0.2.9"}};
    ForwardedResult r = resolve_forwarded(request_with(params), "127.0.0.1", CidrSet(kDefault));
    EXPECT_EQ(describe(r), "untrusted");
    EXPECT_EQ(r.client, "198.51.100.7");

    // A load balancer in front of the web server, trusted: its XFF counts.
    params[0].second = "10.0.0.2";
    r = resolve_forwarded(request_with(params), "127.0.0.1", CidrSet(kInternal));
    EXPECT_EQ(describe(r), "addr=192.0.2.9");
    EXPECT_EQ(r.client, "192.0.2.9");

    // A web server that sends no REMOTE_ADDR: the socket's peer.
    r = resolve_forwarded(request_with({{"HTTP_X_FORWARDED_FOR", "192.0.2.9"}}), "127.0.0.1", CidrSet(kDefault));
    EXPECT_EQ(describe(r), "addr=192.0.2.9");
}

TEST(Forwarded, TheClientForTheLogIsTheBelievedAddressOrThePeer)
{
    EXPECT_EQ(resolve_forwarded(request_with({}), "192.0.2.1", CidrSet(kDefault)).client, "192.0.2.1");
    EXPECT_EQ(resolve_forwarded(request_with({{"HTTP_X_FORWARDED_FOR", "192.0.2.9"}}), "192.0.2.1",
                                CidrSet(kDefault)).client,
              "192.0.2.1");
    EXPECT_EQ(resolve_forwarded(request_with({{"HTTP_X_FORWARDED_FOR", "192.0.2.9"}}), "127.0.0.1",
                                CidrSet(kDefault)).client,
              "192.0.2.9");
    EXPECT_EQ(resolve_forwarded(request_with({{"HTTP_X_FORWARDED_FOR", "unknown"}}), "127.0.0.1",
                                CidrSet(kDefault)).client,
              "127.0.0.1");
    EXPECT_EQ(resolve_forwarded(request_with({}), "", CidrSet(kDefault)).client, "");
}

TEST(Forwarded, XForwardedForTheRightMostUntrusted)
{
    auto xff = [](const char* v) { return std::vector<Param>{{"HTTP_X_FORWARDED_FOR", v}}; };
    run({
        {"one hop", xff("192.0.2.9"), "addr=192.0.2.9"},
        {"the trusted hops are skipped", xff("192.0.2.9, 10.0.0.3, 10.0.0.2"), "addr=192.0.2.9"},
        {"what the client wrote on the left is not believed", xff("6.6.6.6, 192.0.2.9, 10.0.0.2"), "addr=192.0.2.9"},
        {"all trusted: the left-most", xff("10.0.0.4, 10.0.0.3"), "addr=10.0.0.4"},
        {"an IPv4 with a port", xff("192.0.2.9:4711"), "addr=192.0.2.9 rport=4711"},
        {"IPv6, canonical", xff("2001:DB8:0::9"), "addr=2001:db8::9"},
        {"bracketed IPv6 with a port", xff("[2001:db8::9]:4711"), "addr=2001:db8::9 rport=4711"},
        {"IPv4-mapped is written as IPv4", xff("::ffff:192.0.2.9"), "addr=192.0.2.9"},
        {"a trusted IPv4-mapped hop is skipped", xff("192.0.2.9, ::ffff:10.0.0.2"), "addr=192.0.2.9"},
        {"unknown ends the walk and names no one", xff("192.0.2.9, unknown, 10.0.0.2"), "trusted"},
        {"an obfuscated hop too", xff("_hidden"), "trusted"},
        {"garbage too", xff("192.0.2.9, <script>"), "trusted"},
        {"empty items are no hops", xff(" , 192.0.2.9 ,, 10.0.0.2, "), "addr=192.0.2.9"},
        {"an empty header says nothing", xff(""), "trusted"},
        {"repeated headers are one list", {{"HTTP_X_FORWARDED_FOR", "192.0.2.9"}, {"HTTP_X_FORWARDED_FOR", "10.0.0.2"}},
         "addr=192.0.2.9"},
    });
}

TEST(Forwarded, XForwardedProtoAndSsl)
{
    run({
        {"https: the port follows", {{"HTTP_X_FORWARDED_PROTO", "https"}}, "scheme=https port=443"},
        {"http", {{"HTTP_X_FORWARDED_PROTO", "http"}}, "scheme=http port=80"},
        {"case-insensitive", {{"HTTP_X_FORWARDED_PROTO", "HTTPS"}}, "scheme=https port=443"},
        {"a Host that names its port keeps it", {{"HTTP_HOST", "app.example.org:8443"}, {"HTTP_X_FORWARDED_PROTO", "https"}},
         "scheme=https port=8443"},
        {"neither http nor https", {{"HTTP_X_FORWARDED_PROTO", "ftp"}},
         R"(400 X-Forwarded-Proto "ftp" is neither http nor https)"},
        {"X-Forwarded-Ssl on", {{"HTTP_X_FORWARDED_SSL", "on"}}, "scheme=https port=443"},
        {"X-Forwarded-Ssl off", {{"HTTP_X_FORWARDED_SSL", "OFF"}}, "scheme=http port=80"},
        {"X-Forwarded-Ssl yes", {{"HTTP_X_FORWARDED_SSL", "yes"}}, R"(400 X-Forwarded-Ssl "yes" is neither on nor off)"},
        {"Proto and Ssl agreeing", {{"HTTP_X_FORWARDED_PROTO", "https"}, {"HTTP_X_FORWARDED_SSL", "on"}},
         "scheme=https port=443"},
        {"Proto and Ssl conflicting", {{"HTTP_X_FORWARDED_PROTO", "http"}, {"HTTP_X_FORWARDED_SSL", "on"}},
         "400 X-Forwarded-Proto says http, X-Forwarded-Ssl says on"},
        // A list: the value at the client's hop in X-Forwarded-For.
        {"a list, read at the client's hop",
         {{"HTTP_X_FORWARDED_FOR", "192.0.2.9, 10.0.0.2"}, {"HTTP_X_FORWARDED_PROTO", "https, http"}},
         "addr=192.0.2.9 scheme=https port=443"},
        {"a list without X-Forwarded-For: the nearest proxy's", {{"HTTP_X_FORWARDED_PROTO", "https, http"}},
         "scheme=http port=80"},
        {"one value for three hops", {{"HTTP_X_FORWARDED_FOR", "192.0.2.9, 10.0.0.3, 10.0.0.2"},
                                      {"HTTP_X_FORWARDED_PROTO", "https"}},
         "addr=192.0.2.9 scheme=https port=443"},
        {"only the value at the hop is checked",
         {{"HTTP_X_FORWARDED_FOR", "192.0.2.9"}, {"HTTP_X_FORWARDED_PROTO", "gopher, https"}}, "addr=192.0.2.9 scheme=https port=443"},
    });
}

TEST(Forwarded, XForwardedHostAndPort)
{
    run({
        {"a host", {{"HTTP_HOST", "127.0.0.1:8000"}, {"HTTP_X_FORWARDED_HOST", "app.example.org"}},
         "host=app.example.org name=app.example.org port=80"},
        {"a host over https",
         {{"HTTP_HOST", "127.0.0.1:8000"}, {"HTTP_X_FORWARDED_HOST", "app.example.org"}, {"HTTP_X_FORWARDED_PROTO", "https"}},
         "scheme=https host=app.example.org name=app.example.org port=443"},
        {"port in host",
         {{"HTTP_X_FORWARDED_HOST", "app.example.org:8443"}, {"HTTP_X_FORWARDED_PROTO", "https"}},
         "scheme=https host=app.example.org:8443 name=app.example.org port=8443"},
        {"the default port is left out of HTTP_HOST",
         {{"HTTP_X_FORWARDED_HOST", "app.example.org:443"}, {"HTTP_X_FORWARDED_PROTO", "https"}},
         "scheme=https host=app.example.org name=app.example.org port=443"},
        {"X-Forwarded-Port", {{"HTTP_X_FORWARDED_HOST", "app.example.org"}, {"HTTP_X_FORWARDED_PORT", "8080"}},
         "host=app.example.org:8080 name=app.example.org port=8080"},
        {"X-Forwarded-Port alone keeps the Host's name", {{"HTTP_HOST", "app.example.org:8000"}, {"HTTP_X_FORWARDED_PORT", "8080"}},
         "host=app.example.org:8080 name=app.example.org port=8080"},
        {"X-Forwarded-Port agreeing with the host's",
         {{"HTTP_X_FORWARDED_HOST", "app.example.org:8080"}, {"HTTP_X_FORWARDED_PORT", "8080"}},
         "host=app.example.org:8080 name=app.example.org port=8080"},
        {"X-Forwarded-Port against the host's",
         {{"HTTP_X_FORWARDED_HOST", "app.example.org:8443"}, {"HTTP_X_FORWARDED_PORT", "443"}},
         "400 X-Forwarded-Host names port 8443, X-Forwarded-Port says 443"},
        {"no port", {{"HTTP_X_FORWARDED_PORT", "http"}}, R"(400 X-Forwarded-Port "http" is not a port)"},
        {"port 0", {{"HTTP_X_FORWARDED_PORT", "0"}}, R"(400 X-Forwarded-Port "0" is not a port)"},
        {"an IPv6 host", {{"HTTP_X_FORWARDED_HOST", "[2001:db8::1]:8443"}},
         "host=[2001:db8::1]:8443 name=[2001:db8::1] port=8443"},
        {"a host that is no host", {{"HTTP_X_FORWARDED_HOST", "evil.example/path?"}},
         R"(400 X-Forwarded-Host "evil.example/path?" is not a host or host:port)"},
        {"Apache appends to the client's: the nearest proxy's counts",
         {{"HTTP_X_FORWARDED_HOST", "evil.example, app.example.org"}},
         "host=app.example.org name=app.example.org port=80"},
        {"without a Host, only the port", {{"HTTP_HOST", ""}, {"HTTP_X_FORWARDED_PORT", "8080"}}, "port=8080"},
    });
}

TEST(Forwarded, Rfc7239Forwarded)
{
    auto fwd = [](const char* v) { return std::vector<Param>{{"HTTP_FORWARDED", v}}; };
    run({
        {"all three", fwd("for=192.0.2.60;proto=https;host=app.example.org"),
         "addr=192.0.2.60 scheme=https host=app.example.org name=app.example.org port=443"},
        {"names are case-insensitive", fwd("For=192.0.2.60;PROTO=HTTPS"), "addr=192.0.2.60 scheme=https port=443"},
        {"IPv6 quoted, in brackets, with a port", fwd(R"(for="[2001:db8:cafe::17]:4711")"),
         "addr=2001:db8:cafe::17 rport=4711"},
        {"IPv6 unquoted", fwd("for=[2001:db8:cafe::17]"),
         R"(400 Forwarded: no value for "for" (a value with ':' or '[' must be quoted) at byte 5)"},
        {"IPv6 without brackets", fwd(R"(for="2001:db8:cafe::17")"),
         R"(400 Forwarded: for="2001:db8:cafe::17" is not an address, "[IPv6]", "unknown" or "_hidden" (with an optional :port))"},
        {"unknown: no address, the rest counts", fwd("for=unknown;proto=https"), "scheme=https port=443"},
        {"obfuscated ends the walk", fwd("for=192.0.2.9, for=_hidden;proto=https, for=10.0.0.2;proto=http"),
         "scheme=https port=443"},
        {"an obfuscated port", fwd(R"(for="192.0.2.9:_p1")"), "addr=192.0.2.9"},
        {"the right-most untrusted element", fwd("for=6.6.6.6;proto=http, for=192.0.2.9;proto=https, for=10.0.0.2;proto=http"),
         "addr=192.0.2.9 scheme=https port=443"},
        {"all trusted: the left-most", fwd("for=10.0.0.3;proto=https, for=10.0.0.2"), "addr=10.0.0.3 scheme=https port=443"},
        {"an element without for is the client's hop", fwd("for=192.0.2.9;proto=http, proto=https"),
         "scheme=https port=443"},
        {"by and extensions are ignored", fwd(R"(for=192.0.2.9;by=10.0.0.1;secret="x, y")"), "addr=192.0.2.9"},
        {"OWS and empty elements", fwd(" for=192.0.2.9 ; proto=https ,, for=10.0.0.2 "), "addr=192.0.2.9 scheme=https port=443"},
        {"repeated headers are one list", {{"HTTP_FORWARDED", "for=192.0.2.9"}, {"HTTP_FORWARDED", "for=10.0.0.2"}},
         "addr=192.0.2.9"},
        {"host with a port", fwd(R"(host="app.example.org:8443";proto=https)"),
         "scheme=https host=app.example.org:8443 name=app.example.org port=8443"},
        {"a proto that is neither", fwd("proto=wss"), R"(400 Forwarded: proto "wss" is neither http nor https)"},
        {"a host that is no host", fwd(R"(host="a b")"), R"(400 Forwarded: host "a b" is not a host or host:port)"},
        {"garbage", fwd("for"), R"(400 Forwarded: expected '=' after "for" at byte 4)"},
        {"a parameter twice", fwd("for=192.0.2.9;for=192.0.2.10"), R"(400 Forwarded: "for" given twice in one element)"},
        {"garbage the client wrote, left of the hop, is still garbage", fwd("for=\"x, for=192.0.2.9"),
         R"(400 Forwarded: a quoted value of "for" that does not end)"},
        {"an untrusted client's bad node left of its hop is never read", fwd("for=_x.y, for=192.0.2.9"), "addr=192.0.2.9"},
    });
}

TEST(Forwarded, BothKinds)
{
    const Param fwd = {"HTTP_FORWARDED", "for=192.0.2.9;proto=https;host=app.example.org"};
    run({
        {"agreeing",
         {fwd, {"HTTP_X_FORWARDED_FOR", "192.0.2.9"}, {"HTTP_X_FORWARDED_PROTO", "https"},
          {"HTTP_X_FORWARDED_HOST", "App.Example.ORG"}},
         "addr=192.0.2.9 scheme=https host=app.example.org name=app.example.org port=443"},
        {"each says a part", {{"HTTP_FORWARDED", "for=192.0.2.9"}, {"HTTP_X_FORWARDED_PROTO", "https"}},
         "addr=192.0.2.9 scheme=https port=443"},
        {"the scheme conflicts", {{"HTTP_FORWARDED", "proto=http"}, {"HTTP_X_FORWARDED_PROTO", "https"}},
         R"(400 Forwarded and X-Forwarded-* disagree on the scheme: "http" and "https")"},
        {"X-Forwarded-Ssl against Forwarded", {{"HTTP_FORWARDED", "proto=http"}, {"HTTP_X_FORWARDED_SSL", "on"}},
         R"(400 Forwarded and X-Forwarded-* disagree on the scheme: "http" and "https")"},
        {"the address conflicts", {fwd, {"HTTP_X_FORWARDED_FOR", "192.0.2.10"}},
         R"(400 Forwarded and X-Forwarded-* disagree on the client address: "192.0.2.9" and "192.0.2.10")"},
        {"the same address written two ways", {fwd, {"HTTP_X_FORWARDED_FOR", "::ffff:192.0.2.9"}},
         "addr=192.0.2.9 scheme=https host=app.example.org name=app.example.org port=443"},
        {"the host conflicts", {fwd, {"HTTP_X_FORWARDED_HOST", "evil.example"}},
         R"(400 Forwarded and X-Forwarded-* disagree on the host: "app.example.org" and "evil.example")"},
        {"the port conflicts", {{"HTTP_FORWARDED", R"(host="app.example.org:8443")"}, {"HTTP_X_FORWARDED_PORT", "443"}},
         R"(400 Forwarded and X-Forwarded-* disagree on the port: "8443" and "443")"},
        {"a trusted Forwarded and an untrusted peer's: nothing is read", {fwd, {"HTTP_X_FORWARDED_PROTO", "http"}},
         "untrusted", "192.0.2.1"},
    });
}

TEST(Forwarded, TheFrontendsOwnHttpsSetsTheDefaultPort)
{
    run({
        {"HTTPS=on and a forwarded host", {{"HTTPS", "on"}, {"HTTP_X_FORWARDED_HOST", "app.example.org"}},
         "host=app.example.org name=app.example.org port=443"},
        {"a forwarded proto overrides HTTPS=on", {{"HTTPS", "on"}, {"HTTP_X_FORWARDED_PROTO", "http"}},
         "scheme=http port=80"},
    });
    EXPECT_TRUE(frontend_says_https(request_with({{"HTTPS", "on"}})));
    EXPECT_TRUE(frontend_says_https(request_with({{"HTTPS", "1"}})));
    EXPECT_TRUE(frontend_says_https(request_with({{"REQUEST_SCHEME", "HTTPS"}})));
    EXPECT_FALSE(frontend_says_https(request_with({{"HTTPS", "off"}})));
    EXPECT_FALSE(frontend_says_https(request_with({})));
}

} // namespace
} // namespace drover

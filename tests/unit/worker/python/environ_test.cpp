// The WSGI bridge: the environ: CGI and wsgi.* keys.
#include "tests/unit/worker/python/bridge_fixture.hpp"

namespace drover {
namespace {

// ---- environ --------------------------------------------------------------

TEST_F(BridgeTest, EnvironHasTheCgiAndWsgiKeys)
{
    Exchange ex;
    ex.run(bridge(), get("/environ/x", "a=1&b=2"));
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(py("last_environ['REQUEST_METHOD']"), "GET");
    EXPECT_EQ(py("last_environ['SCRIPT_NAME']"), "");
    EXPECT_EQ(py("last_environ['PATH_INFO']"), "/environ/x");
    EXPECT_EQ(py("last_environ['QUERY_STRING']"), "a=1&b=2");
    EXPECT_EQ(py("last_environ['SERVER_PROTOCOL']"), "HTTP/1.1");
    EXPECT_EQ(py("last_environ['HTTP_HOST']"), "example.test");
    EXPECT_EQ(py("last_environ['wsgi.version']"), "(1, 0)");
    EXPECT_EQ(py("last_environ['wsgi.url_scheme']"), "http");
    EXPECT_EQ(py("last_environ['wsgi.multithread']"), "False");
    EXPECT_EQ(py("last_environ['wsgi.multiprocess']"), "True");
    EXPECT_EQ(py("last_environ['wsgi.run_once']"), "False");
    EXPECT_EQ(py("last_environ['wsgi.input_terminated']"), "True");
    EXPECT_EQ(py("callable(last_environ['wsgi.file_wrapper'])"), "True");
    EXPECT_EQ(py("hasattr(last_environ['wsgi.errors'], 'write')"), "True");
    EXPECT_EQ(py("hasattr(last_environ['wsgi.input'], 'readline')"), "True");
    // No body: CGI leaves these out rather than sending them empty.
    EXPECT_EQ(py("'CONTENT_TYPE' in last_environ or 'CONTENT_LENGTH' in last_environ"), "False");
    EXPECT_EQ(py("all(type(k) is str and type(v) is str for k, v in last_environ.items()"
                 " if not k.startswith('wsgi.'))"),
              "True");
}

TEST_F(BridgeTest, PeerFillsServerAndRemoteWhenTheRequestLacksThem)
{
    Exchange ex;
    ex.run(bridge(), get("/environ"));
    EXPECT_EQ(py("last_environ['SERVER_NAME']"), "srv.example");
    EXPECT_EQ(py("last_environ['SERVER_PORT']"), "8080");
    EXPECT_EQ(py("last_environ['REMOTE_ADDR']"), "192.0.2.7");
    EXPECT_EQ(py("last_environ['REMOTE_PORT']"), "40000");

    Request r = get("/environ");
    r.params.insert(r.params.end(), {{"SERVER_NAME", "front.example"},
                                     {"SERVER_PORT", "443"},
                                     {"REMOTE_ADDR", "198.51.100.1"},
                                     {"REMOTE_PORT", "5555"}});
    Exchange ex2;
    ex2.run(bridge(), r);
    EXPECT_EQ(py("last_environ['SERVER_NAME']"), "front.example");
    EXPECT_EQ(py("last_environ['SERVER_PORT']"), "443");
    EXPECT_EQ(py("last_environ['REMOTE_ADDR']"), "198.51.100.1");
    EXPECT_EQ(py("last_environ['REMOTE_PORT']"), "5555");
}

TEST_F(BridgeTest, DefaultsWhenTheRequestCarriesAlmostNothing)
{
    Request r;
    r.params = {{"REQUEST_METHOD", "GET"}, {"REQUEST_URI", "/environ/a%20b?x=1"}};
    r.http_minor = 0;
    Exchange ex;
    ex.run(bridge(), r);
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(py("last_environ['PATH_INFO']"), "/environ/a b");
    EXPECT_EQ(py("last_environ['SCRIPT_NAME']"), "");
    EXPECT_EQ(py("last_environ['QUERY_STRING']"), "x=1");
    EXPECT_EQ(py("last_environ['SERVER_PROTOCOL']"), "HTTP/1.0");
}

TEST_F(BridgeTest, PathBytesArriveAsLatin1Str)
{
    Exchange ex;
    ex.run(bridge(), get("/environ/caf\xc3\xa9\xff"));
    EXPECT_EQ(py("last_environ['PATH_INFO'].encode('latin-1') == b'/environ/caf\\xc3\\xa9\\xff'"), "True");
    EXPECT_EQ(py("len(last_environ['PATH_INFO'])"), "15");
}

TEST_F(BridgeTest, RepeatedHeadersAreJoinedNotDuplicated)
{
    Request r = get("/environ");
    r.params.insert(r.params.end(), {{"HTTP_X_MULTI", "1"},
                                     {"HTTP_X_MULTI", "2"},
                                     {"HTTP_COOKIE", "a=1"},
                                     {"HTTP_COOKIE", "b=2"}});
    Exchange ex;
    ex.run(bridge(), r);
    EXPECT_EQ(py("last_environ['HTTP_X_MULTI']"), "1, 2");
    EXPECT_EQ(py("last_environ['HTTP_COOKIE']"), "a=1; b=2");
}

TEST_F(BridgeTest, ContentHeadersArePassedWhenPresent)
{
    Exchange ex;
    ex.body.data = "abc";
    ex.run(bridge(), post("/environ", "", 3));
    EXPECT_EQ(py("last_environ['CONTENT_TYPE']"), "application/octet-stream");
    EXPECT_EQ(py("last_environ['CONTENT_LENGTH']"), "3");
    EXPECT_EQ(py("last_environ['REQUEST_METHOD']"), "POST");
}

TEST_F(BridgeTest, NginxScriptNameOnlyBecomesPathInfo)
{
    Request r;
    r.params = {{"REQUEST_METHOD", "GET"},  {"SCRIPT_NAME", "/environ/page"}, {"QUERY_STRING", ""},
                {"CONTENT_TYPE", ""},       {"CONTENT_LENGTH", ""},            {"REQUEST_URI", "/environ/page"},
                {"SERVER_PROTOCOL", "HTTP/1.1"}};
    Exchange ex;
    ex.run(bridge(), r);
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(py("last_environ['SCRIPT_NAME']"), "");
    EXPECT_EQ(py("last_environ['PATH_INFO']"), "/environ/page");
    EXPECT_EQ(py("'CONTENT_LENGTH' in last_environ"), "False");
}

TEST_F(BridgeTest, ExplicitScriptNameAndPathInfoAreKept)
{
    Request r = get("/environ/rest");
    r.params.emplace_back("SCRIPT_NAME", "/app");
    Exchange ex;
    ex.run(bridge(), r);
    EXPECT_EQ(py("last_environ['SCRIPT_NAME']"), "/app");
    EXPECT_EQ(py("last_environ['PATH_INFO']"), "/environ/rest");
}

TEST_F(BridgeTest, HttpsMakesTheUrlSchemeHttps)
{
    for (auto [name, value, scheme] : {std::tuple{"HTTPS", "on", "https"}, std::tuple{"HTTPS", "ON", "https"},
                                       std::tuple{"HTTPS", "1", "https"}, std::tuple{"HTTPS", "off", "http"},
                                       std::tuple{"REQUEST_SCHEME", "https", "https"},
                                       std::tuple{"REQUEST_SCHEME", "http", "http"}}) {
        Request r = get("/environ");
        r.params.emplace_back(name, value);
        Exchange ex;
        ex.run(bridge(), r);
        EXPECT_EQ(py("last_environ['wsgi.url_scheme']"), scheme) << name << "=" << value;
    }
}

TEST_F(BridgeTest, ScriptNameMountMovesThePrefix)
{
    AppSettings s = settings();
    s.script_name = "/mnt/";
    std::unique_ptr<WsgiBridge> mounted = make_wsgi_bridge(s);

    Exchange ex;
    ex.run(*mounted, get("/mnt/environ/x"));
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(py("last_environ['SCRIPT_NAME']"), "/mnt");
    EXPECT_EQ(py("last_environ['PATH_INFO']"), "/environ/x");

    ex.run(*mounted, get("/mnt"));
    EXPECT_EQ(py("(last_environ['SCRIPT_NAME'], last_environ['PATH_INFO'])"), "('/mnt', '')");

    // Only a whole path segment is a match.
    ex.run(*mounted, get("/mntx/environ"));
    EXPECT_EQ(py("(last_environ['SCRIPT_NAME'], last_environ['PATH_INFO'])"), "('', '/mntx/environ')");

    // nginx's SCRIPT_NAME-only form is mounted the same way.
    Request r;
    r.params = {{"REQUEST_METHOD", "GET"}, {"SCRIPT_NAME", "/mnt/environ"}};
    ex.run(*mounted, r);
    EXPECT_EQ(py("(last_environ['SCRIPT_NAME'], last_environ['PATH_INFO'])"), "('/mnt', '/environ')");
}

// ---- forwarded headers ------------------------------------------------------

TEST_F(BridgeTest, AnUntrustedPeersForwardedHeadersPassThroughUnbelieved)
{
    // test_peer() is 192.0.2.7: not in the default forwarded_allow_ips.
    Request r = get("/environ");
    r.params.insert(r.params.end(), {{"HTTP_X_FORWARDED_FOR", "198.51.100.1"},
                                     {"HTTP_X_FORWARDED_PROTO", "https"},
                                     {"HTTP_FORWARDED", "for=198.51.100.2;proto=http"}});
    Exchange ex;
    ex.run(bridge(), r);
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(ex.outcome.client, "192.0.2.7");
    EXPECT_EQ(py("last_environ['REMOTE_ADDR']"), "192.0.2.7");
    EXPECT_EQ(py("last_environ['wsgi.url_scheme']"), "http");
    EXPECT_EQ(py("last_environ['HTTP_HOST']"), "example.test");
    EXPECT_EQ(py("last_environ['HTTP_X_FORWARDED_FOR']"), "198.51.100.1");
    EXPECT_EQ(py("last_environ['HTTP_FORWARDED']"), "for=198.51.100.2;proto=http");
}

TEST_F(BridgeTest, ATrustedProxysHeadersSetTheClientSchemeAndHost)
{
    AppSettings s = settings();
    s.forwarded_allow_ips = {"192.0.2.0/24"};
    std::unique_ptr<WsgiBridge> behind_proxy = make_wsgi_bridge(s);

    Request r = get("/environ");
    r.params.insert(r.params.end(), {{"HTTP_X_FORWARDED_FOR", "6.6.6.6, 198.51.100.1:4711, 192.0.2.8"},
                                     {"HTTP_X_FORWARDED_PROTO", "https"},
                                     {"HTTP_X_FORWARDED_HOST", "app.example.org"}});
    Exchange ex;
    ex.run(*behind_proxy, r);
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(ex.outcome.client, "198.51.100.1");
    EXPECT_EQ(py("last_environ['REMOTE_ADDR']"), "198.51.100.1");
    EXPECT_EQ(py("last_environ['REMOTE_PORT']"), "4711");
    EXPECT_EQ(py("last_environ['wsgi.url_scheme']"), "https");
    EXPECT_EQ(py("last_environ['HTTP_HOST']"), "app.example.org");
    EXPECT_EQ(py("last_environ['SERVER_NAME']"), "app.example.org");
    EXPECT_EQ(py("last_environ['SERVER_PORT']"), "443");
    // What the proxy sent is still there, as it came.
    EXPECT_EQ(py("last_environ['HTTP_X_FORWARDED_FOR']"), "6.6.6.6, 198.51.100.1:4711, 192.0.2.8");

    // A hop without a port leaves REMOTE_PORT the peer's (as Apache's
    // mod_remoteip does).
    Request plain = get("/environ");
    plain.params.emplace_back("HTTP_FORWARDED", "for=\"[2001:db8::5]\"");
    ex.run(*behind_proxy, plain);
    EXPECT_EQ(py("(last_environ['REMOTE_ADDR'], last_environ['REMOTE_PORT'])"), "('2001:db8::5', '40000')");
    EXPECT_EQ(py("last_environ['wsgi.url_scheme']"), "http");
}

TEST_F(BridgeTest, ConflictingForwardedHeadersFromATrustedProxyGet400WithoutTheApp)
{
    AppSettings s = settings();
    s.forwarded_allow_ips = {"*"};
    std::unique_ptr<WsgiBridge> behind_proxy = make_wsgi_bridge(s);
    py("last_environ.clear()");

    Request r = get("/environ/conflict");
    r.params.insert(r.params.end(), {{"HTTP_FORWARDED", "proto=http"}, {"HTTP_X_FORWARDED_PROTO", "https"}});
    Exchange ex;
    StderrCapture log;
    ex.run(*behind_proxy, r);
    std::string logged = log.finish();
    EXPECT_EQ(ex.outcome.status, 400);
    EXPECT_EQ(ex.writer.status, 400);
    EXPECT_EQ(ex.writer.status_line, "400 Bad Request");
    EXPECT_EQ(ex.writer.body, "Bad Request: conflicting or malformed forwarding headers\n");
    EXPECT_EQ(ex.writer.content_length, static_cast<int64_t>(ex.writer.body.size()));
    EXPECT_EQ(ex.outcome.response_bytes, ex.writer.body.size());
    EXPECT_EQ(ex.outcome.client, "192.0.2.7");
    EXPECT_EQ(ex.writer.count("finish"), 1);
    EXPECT_FALSE(ex.writer.gil_held);
    EXPECT_EQ(py("len(last_environ)"), "0") << "the application ran";
    EXPECT_TRUE(contains(logged, "http request from 192.0.2.7 refused: Forwarded and X-Forwarded-* disagree on the "
                                 "scheme: \"http\" and \"https\""))
        << logged;

    // HEAD: the head alone.
    Request head = r;
    head.params[0].second = "HEAD";
    head.head = true;
    Exchange ex2;
    ex2.run(*behind_proxy, head);
    EXPECT_EQ(ex2.outcome.status, 400);
    EXPECT_EQ(ex2.writer.body, "");
    EXPECT_EQ(ex2.outcome.response_bytes, 0u);
}

TEST_F(BridgeTest, OverFastcgiTheWebServersRemoteAddrIsTheClient)
{
    // The web server's REMOTE_ADDR is the address to test and to log, not
    // the socket's peer (the web server itself).
    Request r = get("/environ");
    r.protocol = Protocol::fastcgi;
    r.params.insert(r.params.end(), {{"REMOTE_ADDR", "198.51.100.9"}, {"HTTP_X_FORWARDED_FOR", "6.6.6.6"}});
    Exchange ex;
    ex.run(bridge(), r);
    EXPECT_EQ(ex.outcome.client, "198.51.100.9");
    EXPECT_EQ(py("last_environ['REMOTE_ADDR']"), "198.51.100.9");
}

} // namespace
} // namespace drover

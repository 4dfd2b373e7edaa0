#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "worker/codec.hpp"

namespace drover {
namespace {

/// Records codec events as comparable text.
struct Recorder : RequestSink {
    std::vector<std::string> events;
    std::vector<Request> requests;
    void on_request(Request&& r) override
    {
        std::string e = "request";
        for (const auto& [k, v] : r.params)
            e += " " + k + "=" + v;
        e += " len=" + std::to_string(r.content_length);
        events.push_back(e);
        requests.push_back(std::move(r));
    }
    void on_body(std::string_view chunk) override
    {
        if (!events.empty() && events.back().rfind("body ", 0) == 0)
            events.back() += std::string(chunk);
        else
            events.push_back("body " + std::string(chunk));
    }
    void on_body_end() override { events.push_back("end"); }
    void on_reply(std::string_view bytes) override { events.push_back("reply " + std::string(bytes)); }
};

CodecLimits limits()
{
    CodecLimits l;
    l.max_header_size = 4096;
    l.max_body_size = 1000;
    return l;
}

/// Feeds everything, resuming after each complete request as a connection would.
ParseResult feed_all(Codec& codec, std::string_view input, Recorder& rec, size_t step)
{
    ParseResult last;
    std::string pending;
    size_t pos = 0;
    while (pos < input.size() || !pending.empty()) {
        if (pos < input.size()) {
            size_t n = std::min(step, input.size() - pos);
            pending.append(input.substr(pos, n));
            pos += n;
        }
        last = codec.feed(pending, rec);
        pending.erase(0, last.consumed);
        if (last.status == ParseStatus::error)
            return last;
        if (last.status == ParseStatus::paused)
            codec.resume();
        else if (pos >= input.size())
            break;
    }
    return last;
}

TEST(Http, SimpleGetBecomesCgiParams)
{
    auto codec = make_http_codec(limits());
    Recorder rec;
    ParseResult r = codec->feed("GET /a%20b/c?x=1&y=%20 HTTP/1.1\r\nHost: example.org:8080\r\nX-Thing: 1\r\n\r\n", rec);
    EXPECT_EQ(r.status, ParseStatus::paused);
    ASSERT_EQ(rec.requests.size(), 1u);
    const Request& q = rec.requests[0];
    EXPECT_EQ(q.param("REQUEST_METHOD"), "GET");
    EXPECT_EQ(q.param("PATH_INFO"), "/a b/c");
    EXPECT_EQ(q.param("QUERY_STRING"), "x=1&y=%20");
    EXPECT_EQ(q.param("REQUEST_URI"), "/a%20b/c?x=1&y=%20");
    EXPECT_EQ(q.param("SERVER_PROTOCOL"), "HTTP/1.1");
    EXPECT_EQ(q.param("HTTP_HOST"), "example.org:8080");
    EXPECT_EQ(q.param("SERVER_NAME"), "example.org");
    EXPECT_EQ(q.param("SERVER_PORT"), "8080");
    EXPECT_EQ(q.param("HTTP_X_THING"), "1");
    EXPECT_EQ(q.content_length, 0);
    EXPECT_FALSE(q.head);
    EXPECT_EQ(rec.events.back(), "end");
}

TEST(Http, PathBytesStayLatin1AndBadEscapesStay)
{
    auto codec = make_http_codec(limits());
    Recorder rec;
    codec->feed("GET /caf%C3%A9/%zz HTTP/1.1\r\nHost: h\r\n\r\n", rec);
    ASSERT_EQ(rec.requests.size(), 1u);
    EXPECT_EQ(rec.requests[0].param("PATH_INFO"), std::string("/caf\xC3\xA9/%zz"));
}

TEST(Http, DuplicateHeadersJoinAndUnderscoreNamesAreDropped)
{
    auto codec = make_http_codec(limits());
    Recorder rec;
    codec->feed("GET / HTTP/1.1\r\nHost: h\r\nAccept: a\r\nAccept: b\r\nCookie: c=1\r\nCookie: d=2\r\n"
                "X_Forwarded_For: evil\r\nContent-Type: text/plain\r\n\r\n",
                rec);
    ASSERT_EQ(rec.requests.size(), 1u);
    const Request& q = rec.requests[0];
    EXPECT_EQ(q.param("HTTP_ACCEPT"), "a, b");
    EXPECT_EQ(q.param("HTTP_COOKIE"), "c=1; d=2");
    EXPECT_FALSE(q.has_param("HTTP_X_FORWARDED_FOR"));
    EXPECT_EQ(q.param("CONTENT_TYPE"), "text/plain");
    EXPECT_FALSE(q.has_param("HTTP_CONTENT_TYPE"));
}

TEST(Http, ByteByByteGivesTheSameEventsAsOneBlock)
{
    std::string input =
        "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world"
        "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        "GET /last HTTP/1.1\r\nHost: h\r\n\r\n";
    Recorder whole, bytes;
    auto a = make_http_codec(limits());
    auto b = make_http_codec(limits());
    feed_all(*a, input, whole, input.size());
    feed_all(*b, input, bytes, 1);
    EXPECT_EQ(whole.events, bytes.events);
    ASSERT_EQ(whole.requests.size(), 3u);
    EXPECT_EQ(whole.requests[0].content_length, 11);
    EXPECT_EQ(whole.requests[1].content_length, -1);
    EXPECT_EQ(whole.events[1], "body hello world");
    EXPECT_EQ(whole.events[4], "body hello world");
}

TEST(Http, PausesAtTheEndOfEachRequest)
{
    auto codec = make_http_codec(limits());
    Recorder rec;
    std::string two = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
    ParseResult r = codec->feed(two, rec);
    EXPECT_EQ(r.status, ParseStatus::paused);
    EXPECT_EQ(rec.requests.size(), 1u);
    EXPECT_LT(r.consumed, two.size());
    EXPECT_EQ(codec->feed(std::string_view(two).substr(r.consumed), rec).status, ParseStatus::paused);
    EXPECT_EQ(rec.requests.size(), 1u);  // still paused until resume()
    codec->resume();
    r = codec->feed(std::string_view(two).substr(r.consumed), rec);
    EXPECT_EQ(rec.requests.size(), 2u);
    EXPECT_EQ(rec.requests[1].param("PATH_INFO"), "/2");
}

TEST(Http, MalformedInputIsA400)
{
    for (const char* bad : {"GET / HTTP/1.1\r\nHost h\r\n\r\n", "GET / HTTP/x.1\r\n\r\n", "\x01\x02\x03 / HTTP/1.1\r\n\r\n",
                            "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
        auto codec = make_http_codec(limits());
        Recorder rec;
        ParseResult r = codec->feed(bad, rec);
        EXPECT_EQ(r.status, ParseStatus::error) << bad;
        EXPECT_EQ(r.error_status, 400) << bad;
        EXPECT_FALSE(r.error.empty());
    }
}

TEST(Http, LimitsGive413And431And414)
{
    {
        auto codec = make_http_codec(limits());
        Recorder rec;
        ParseResult r = codec->feed("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n", rec);
        EXPECT_EQ(r.error_status, 413);
        EXPECT_TRUE(rec.requests.empty());  // refused before the app runs
    }
    {
        auto codec = make_http_codec(limits());
        Recorder rec;
        std::string chunked =
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n" + std::string(1001, 'x');
        ParseResult r = codec->feed(chunked, rec);
        EXPECT_EQ(r.error_status, 413);
    }
    {
        auto codec = make_http_codec(limits());
        Recorder rec;
        ParseResult r = codec->feed("GET / HTTP/1.1\r\nX: " + std::string(5000, 'a') + "\r\n\r\n", rec);
        EXPECT_EQ(r.error_status, 431);
    }
    {
        auto codec = make_http_codec(limits());
        Recorder rec;
        ParseResult r = codec->feed("GET /" + std::string(5000, 'a') + " HTTP/1.1\r\n\r\n", rec);
        EXPECT_EQ(r.error_status, 414);
    }
}

// Issue 9, defect 5: every header was compared with every earlier one, so
// ~13 000 tiny fields (within max_header_size) cost a second of CPU. The
// count is capped (431) and the codec stops at the cap, not at the end.
TEST(Http, ThousandsOfTinyHeadersAre431AndParsingStopsAtTheCap)
{
    CodecLimits l;  // default: 100 fields
    l.max_header_size = 80 * 1024;
    // 13 000 distinct three-letter names ("a0b:"), six bytes a line.
    static constexpr char kAlnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::string head = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 0; i < 13000; ++i)
        head += std::string{kAlnum[i % 36], kAlnum[i / 36 % 36], kAlnum[i / 1296 % 36]} + ":\r\n";
    head += "\r\n";
    ASSERT_LT(head.size(), l.max_header_size);
    auto codec = make_http_codec(l);
    Recorder rec;
    ParseResult r = codec->feed(head, rec);
    EXPECT_EQ(r.status, ParseStatus::error);
    EXPECT_EQ(r.error_status, 431);
    EXPECT_TRUE(rec.requests.empty());
    EXPECT_LT(r.consumed, 1000u) << "the codec went on past the cap";
}

TEST(Http, HundredHeaderFieldsAreAcceptedAHundredAndOneAre431)
{
    auto fields = [](int n) {
        std::string head = "GET / HTTP/1.1\r\nHost: h\r\n";
        for (int i = 1; i < n; ++i)
            head += "X-" + std::to_string(i) + ": v\r\n";
        return head + "\r\n";
    };
    CodecLimits l;
    l.max_header_count = 100;
    for (size_t step : {size_t(1), size_t(1) << 20}) {
        {
            auto codec = make_http_codec(l);
            Recorder rec;
            ParseResult r = feed_all(*codec, fields(100), rec, step);
            EXPECT_NE(r.status, ParseStatus::error) << r.error;
            ASSERT_EQ(rec.requests.size(), 1u);
            EXPECT_EQ(rec.requests[0].param("HTTP_X_99"), "v");
        }
        {
            auto codec = make_http_codec(l);
            Recorder rec;
            ParseResult r = feed_all(*codec, fields(101), rec, step);
            EXPECT_EQ(r.status, ParseStatus::error);
            EXPECT_EQ(r.error_status, 431);
            EXPECT_TRUE(rec.requests.empty());
        }
    }
}

TEST(Http, RepeatedHeadersStillJoinInOrder)
{
    auto codec = make_http_codec(limits());
    Recorder rec;
    codec->feed("GET / HTTP/1.1\r\nHost: h\r\nAccept: a\r\nX-A: 1\r\nCookie: c=1\r\naccept: b\r\nX-B: 2\r\n"
                "Cookie: d=2\r\nACCEPT: c\r\nCOOKIE: e=3\r\n\r\n",
                rec);
    ASSERT_EQ(rec.requests.size(), 1u);
    const Request& q = rec.requests[0];
    EXPECT_EQ(q.param("HTTP_ACCEPT"), "a, b, c");
    EXPECT_EQ(q.param("HTTP_COOKIE"), "c=1; d=2; e=3");
    EXPECT_EQ(q.param("HTTP_X_A"), "1");
    EXPECT_EQ(q.param("HTTP_X_B"), "2");
    size_t accepts = 0;
    for (const auto& [k, v] : q.params)
        accepts += k == "HTTP_ACCEPT";
    EXPECT_EQ(accepts, 1u);
}

TEST(Http, ExpectContinueIsAnswered)
{
    auto codec = make_http_codec(limits());
    Recorder rec;
    codec->feed("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", rec);
    ASSERT_GE(rec.events.size(), 1u);
    EXPECT_EQ(rec.events[0], "reply HTTP/1.1 100 Continue\r\n\r\n");
}

std::string head_for(Codec& codec, int status, const char* line, HeaderList headers, int64_t length)
{
    ResponseHead h;
    h.status = status;
    h.status_line = line;
    h.headers = &headers;
    h.content_length = length;
    Output out;
    codec.write_head(h, out);
    return out.str();
}

TEST(Http, KnownLengthIsIdentityUnknownIsChunked)
{
    Recorder rec;
    auto codec = make_http_codec(limits());
    codec->feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n", rec);
    std::string head = head_for(*codec, 200, "200 OK", {{"Content-Type", "text/plain"}}, 5);
    EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n", 0), 0u) << head;
    EXPECT_EQ(head.find("chunked"), std::string::npos);
    EXPECT_TRUE(codec->raw_body());
    EXPECT_TRUE(codec->keep_alive());

    codec->resume();
    codec->feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n", rec);
    head = head_for(*codec, 200, "200 OK", {}, -1);
    EXPECT_NE(head.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
    Output body;
    codec->write_body("hello", body);
    codec->write_end(body);
    EXPECT_EQ(body.str(), "5\r\nhello\r\n0\r\n\r\n");
}

TEST(Http, Http10WithoutLengthClosesTheConnection)
{
    Recorder rec;
    auto codec = make_http_codec(limits());
    codec->feed("GET / HTTP/1.0\r\n\r\n", rec);
    std::string head = head_for(*codec, 200, "200 OK", {}, -1);
    EXPECT_NE(head.find("Connection: close\r\n"), std::string::npos);
    EXPECT_FALSE(codec->keep_alive());
}

TEST(Http, Http10KeepAliveIsHonouredWithLength)
{
    Recorder rec;
    auto codec = make_http_codec(limits());
    codec->feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", rec);
    std::string head = head_for(*codec, 200, "200 OK", {}, 3);
    EXPECT_NE(head.find("Connection: keep-alive\r\n"), std::string::npos);
    EXPECT_TRUE(codec->keep_alive());
}

TEST(Http, HeadAnd204And304CarryNoBody)
{
    Recorder rec;
    auto codec = make_http_codec(limits());
    codec->feed("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", rec);
    ASSERT_EQ(rec.requests.size(), 1u);
    EXPECT_TRUE(rec.requests[0].head);
    std::string head = head_for(*codec, 200, "200 OK", {}, 10);
    EXPECT_NE(head.find("Content-Length: 10"), std::string::npos);
    Output body;
    codec->write_body("0123456789", body);
    codec->write_end(body);
    EXPECT_EQ(body.str(), "");

    codec->resume();
    codec->feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n", rec);
    head = head_for(*codec, 204, "204 No Content", {}, -1);
    EXPECT_EQ(head.find("chunked"), std::string::npos);
    EXPECT_TRUE(codec->keep_alive());
}

TEST(Http, RefusedKeepAliveSaysClose)
{
    Recorder rec;
    auto codec = make_http_codec(limits());
    codec->feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n", rec);
    codec->refuse_keep_alive();
    EXPECT_NE(head_for(*codec, 200, "200 OK", {}, 0).find("Connection: close\r\n"), std::string::npos);
    EXPECT_FALSE(codec->keep_alive());
}

TEST(Http, ClientConnectionCloseIsHonoured)
{
    Recorder rec;
    auto codec = make_http_codec(limits());
    codec->feed("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", rec);
    EXPECT_NE(head_for(*codec, 200, "200 OK", {}, 0).find("Connection: close\r\n"), std::string::npos);
    EXPECT_FALSE(codec->keep_alive());
}

TEST(Http, ErrorResponseIsCompleteAndCloses)
{
    auto codec = make_http_codec(limits());
    Output out;
    codec->write_error(413, out);
    std::string s = out.str();
    EXPECT_EQ(s.rfind("HTTP/1.1 413 Content Too Large\r\n", 0), 0u);
    EXPECT_NE(s.find("Connection: close\r\n"), std::string::npos);
    EXPECT_NE(s.find("Content-Length: 22\r\n"), std::string::npos);
    EXPECT_FALSE(codec->keep_alive());
}

// Issue 9, defect 10: write_error took its body/no-body choice from the last
// HEAD seen, even when the request it answers is another one.
TEST(Http, ErrorAfterAHeadRequestHasItsBody)
{
    auto codec = make_http_codec(limits());
    Recorder rec;
    ParseResult r = codec->feed("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", rec);
    ASSERT_EQ(r.status, ParseStatus::paused);
    Output out;
    codec->write_head(ResponseHead{200, "200 OK", nullptr, 0}, out);
    codec->write_end(out);
    codec->resume();
    r = codec->feed("GET / HTTP/1.1\r\nHost h\r\n\r\n", rec);
    ASSERT_EQ(r.status, ParseStatus::error);
    Output error;
    codec->write_error(r.error_status, error);
    std::string s = error.str();
    EXPECT_TRUE(s.ends_with("\r\n\r\n400 Bad Request\n")) << s;
}

// A HEAD request's answer has no content (RFC 9110 §9.3.2), an error too,
// once the method is known.
TEST(Http, ErrorToAHeadRequestHasNoBody)
{
    for (const char* bad : {"HEAD / HTTP/1.1\r\nHost h\r\n\r\n", "HEAD / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n"}) {
        auto codec = make_http_codec(limits());
        Recorder rec;
        ParseResult r = codec->feed(bad, rec);
        ASSERT_EQ(r.status, ParseStatus::error) << bad;
        Output error;
        codec->write_error(r.error_status, error);
        std::string s = error.str();
        EXPECT_TRUE(s.ends_with("\r\n\r\n")) << s;
        EXPECT_NE(s.find("Content-Length: "), std::string::npos) << s;
    }
}

} // namespace
} // namespace drover

namespace drover {
namespace {

// Found by the fuzzer: SERVER_NAME/SERVER_PORT were split from a view into
// the params vector while it grew.
TEST(Http, HostHeaderSplitsIntoServerNameAndPort)
{
    for (const char* host : {":", "h:", ":8", "[::1]:8080", "[::1]"}) {
        auto codec = make_http_codec(limits());
        Recorder rec;
        codec->feed(std::string("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nHost: ") + host + "\r\n\r\n", rec);
        ASSERT_EQ(rec.requests.size(), 1u) << host;
        const Request& q = rec.requests[0];
        std::string joined = std::string(q.param("SERVER_NAME")) + "|" + std::string(q.param("SERVER_PORT"));
        std::string h = host;
        if (h == "[::1]")
            EXPECT_EQ(joined, "[::1]|80");
        else
            EXPECT_EQ(joined, h.substr(0, h.rfind(':')) + "|" + h.substr(h.rfind(':') + 1)) << host;
    }
}

} // namespace
} // namespace drover

#include <gtest/gtest.h>

#include "tests/unit/worker/recording_sink.hpp"
#include "worker/codec.hpp"

namespace drover {
namespace {

using namespace std::string_literals;
using test::bytewise;
using test::feed_pieces;
using test::FeedOutcome;
using test::random_splits;
using test::RecordingSink;
using test::whole;

// The example request of the SCGI protocol text, byte for byte.
const std::string kSpecExample =
    "70:"
    "CONTENT_LENGTH\0" "27\0"
    "SCGI\0" "1\0"
    "REQUEST_METHOD\0" "POST\0"
    "REQUEST_URI\0" "/deepthought\0"
    ","
    "What is the answer to life?"s;

std::string netstring(std::string_view headers)
{
    return std::to_string(headers.size()) + ":" + std::string(headers) + ",";
}

std::string request(std::string_view headers, std::string_view body = "")
{
    return netstring(headers) + std::string(body);
}

std::unique_ptr<Codec> codec(CodecLimits limits = {})
{
    return make_scgi_codec(limits);
}

FeedOutcome feed_all(Codec& c, RecordingSink& sink, std::string_view input)
{
    return feed_pieces(c, sink, input, whole(input));
}

/// Feeds a request that must be refused; returns the outcome.
FeedOutcome refused(std::string_view input, CodecLimits limits = {})
{
    RecordingSink sink;
    auto c = codec(limits);
    FeedOutcome r = feed_all(*c, sink, input);
    EXPECT_EQ(r.status, ParseStatus::error) << test::hex(input);
    EXPECT_FALSE(r.error.empty());
    EXPECT_TRUE(sink.requests.empty());
    return r;
}

TEST(ScgiCodec, SpecExample)
{
    ASSERT_EQ(kSpecExample.size(), 3 + 70 + 1 + 27u);
    RecordingSink sink;
    auto c = codec();
    const auto r = feed_all(*c, sink, kSpecExample);
    ASSERT_EQ(r.status, ParseStatus::paused) << r.error;
    EXPECT_EQ(r.consumed, kSpecExample.size());
    ASSERT_EQ(sink.requests.size(), 1u);
    const Request& req = sink.requests[0];
    EXPECT_EQ(req.protocol, Protocol::scgi);
    EXPECT_EQ(req.content_length, 27);
    EXPECT_FALSE(req.head);
    const std::vector<Param> expected = {
        {"CONTENT_LENGTH", "27"}, {"SCGI", "1"}, {"REQUEST_METHOD", "POST"}, {"REQUEST_URI", "/deepthought"}};
    EXPECT_EQ(req.params, expected);
    EXPECT_EQ(sink.body, "What is the answer to life?");
    ASSERT_EQ(sink.events.size(), 3u);
    EXPECT_EQ(sink.events[2], "body_end");
}

TEST(ScgiCodec, SplitsGiveIdenticalEvents)
{
    const std::string input = kSpecExample + "trailing bytes";
    RecordingSink s1;
    auto c1 = codec();
    const FeedOutcome one_block = feed_all(*c1, s1, input);
    ASSERT_EQ(one_block.status, ParseStatus::paused);
    EXPECT_EQ(one_block.consumed, kSpecExample.size());

    RecordingSink s2;
    auto c2 = codec();
    EXPECT_EQ(feed_pieces(*c2, s2, input, bytewise(input)), one_block);
    for (uint32_t seed = 1; seed <= 50; ++seed) {
        RecordingSink s;
        auto c = codec();
        EXPECT_EQ(feed_pieces(*c, s, input, random_splits(input, seed)), one_block) << "seed " << seed;
    }

    // Errors too come out the same whatever the cut.
    const std::string bad = request("CONTENT_LENGTH\0" "0\0" "SCGI\0" "2\0"s);
    RecordingSink e1;
    auto ce1 = codec();
    const FeedOutcome bad_block = feed_all(*ce1, e1, bad);
    ASSERT_EQ(bad_block.status, ParseStatus::error);
    RecordingSink e2;
    auto ce2 = codec();
    EXPECT_EQ(feed_pieces(*ce2, e2, bad, bytewise(bad)), bad_block);
}

TEST(ScgiCodec, NoBody)
{
    RecordingSink sink;
    auto c = codec();
    const std::string input = request("CONTENT_LENGTH\0" "0\0" "SCGI\0" "1\0" "REQUEST_METHOD\0" "HEAD\0" "EMPTY\0" "\0"s);
    const auto r = feed_all(*c, sink, input);
    ASSERT_EQ(r.status, ParseStatus::paused) << r.error;
    EXPECT_EQ(r.consumed, input.size());
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_TRUE(sink.requests[0].head);
    EXPECT_EQ(sink.requests[0].content_length, 0);
    EXPECT_EQ(sink.requests[0].param("EMPTY"), "");
    EXPECT_TRUE(sink.requests[0].has_param("EMPTY"));
    ASSERT_EQ(sink.events.size(), 2u);
    EXPECT_EQ(sink.events[1], "body_end");
}

TEST(ScgiCodec, ContentLengthMissingOrNotFirst)
{
    const auto missing = refused(request("SCGI\0" "1\0" "REQUEST_METHOD\0" "GET\0"s));
    EXPECT_EQ(missing.error_status, 0);
    EXPECT_NE(missing.error.find("CONTENT_LENGTH"), std::string::npos) << missing.error;

    const auto second = refused(request("SCGI\0" "1\0" "CONTENT_LENGTH\0" "0\0"s));
    EXPECT_EQ(second.error_status, 0);
    EXPECT_NE(second.error.find("first SCGI header must be CONTENT_LENGTH"), std::string::npos) << second.error;

    EXPECT_EQ(refused("0:,").error_status, 0);
}

TEST(ScgiCodec, ContentLengthMustBeANonNegativeInteger)
{
    for (const char* value : {"", "-1", "1.5", " 3", "abc", "99999999999999999999"}) {
        const auto r = refused(request("CONTENT_LENGTH\0"s + value + "\0SCGI\0" "1\0"s));
        EXPECT_EQ(r.error_status, 0) << value;
        EXPECT_NE(r.error.find("not a non-negative integer"), std::string::npos) << r.error;
    }
}

TEST(ScgiCodec, ScgiHeaderMissingOrNotOne)
{
    const auto missing = refused(request("CONTENT_LENGTH\0" "0\0" "REQUEST_METHOD\0" "GET\0"s));
    EXPECT_EQ(missing.error_status, 0);
    EXPECT_NE(missing.error.find("no SCGI header"), std::string::npos) << missing.error;

    const auto two = refused(request("CONTENT_LENGTH\0" "0\0" "SCGI\0" "2\0"s));
    EXPECT_EQ(two.error_status, 0);
    EXPECT_NE(two.error.find("expected '1'"), std::string::npos) << two.error;
}

// A header given twice: the later one wins, as nginx's `scgi_param` after
// `include scgi_params` means it to (the app and the codec see one value).
TEST(ScgiCodec, ARepeatedHeaderKeepsItsLastValue)
{
    RecordingSink sink;
    auto c = codec();
    feed_all(*c, sink, request("CONTENT_LENGTH\0" "0\0" "SCGI\0" "1\0" "X\0" "a\0" "Y\0" "y\0" "X\0" "b\0"s));
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_EQ(sink.requests[0].param("X"), "b");
    EXPECT_EQ(sink.requests[0].params.size(), 4u);
}

// Issue 9, defect 9: nginx's SCGI module always sends CONTENT_LENGTH first,
// and `scgi_param CONTENT_LENGTH $content_length;` (copied from FastCGI
// params) sends it again: every request used to be refused (502).
TEST(ScgiCodec, ARepeatedContentLengthWithTheSameValueIsAccepted)
{
    RecordingSink sink;
    auto c = codec();
    const auto r = feed_all(*c, sink,
                            request("CONTENT_LENGTH\0" "3\0" "SCGI\0" "1\0" "CONTENT_LENGTH\0" "3\0"s, "abc"));
    EXPECT_EQ(r.status, ParseStatus::paused);
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_EQ(sink.requests[0].content_length, 3);
    EXPECT_EQ(sink.requests[0].param("CONTENT_LENGTH"), "3");
    EXPECT_EQ(sink.requests[0].params.size(), 2u);

    // A GET: nginx's own "0" first, then the copied param's empty value.
    RecordingSink get_sink;
    auto get = codec();
    feed_all(*get, get_sink, request("CONTENT_LENGTH\0" "0\0" "SCGI\0" "1\0" "CONTENT_LENGTH\0" "\0"s));
    ASSERT_EQ(get_sink.requests.size(), 1u);
    EXPECT_EQ(get_sink.requests[0].param("CONTENT_LENGTH"), "0");
}

TEST(ScgiCodec, ARepeatedContentLengthWithAnotherValueIsRefused)
{
    // Two framings of one body: smuggling, whichever the codec believed.
    for (const auto& second : {"4"s, "03"s, "3 "s}) {
        const auto r = refused(request("CONTENT_LENGTH\0" "3\0" "SCGI\0" "1\0" "CONTENT_LENGTH\0"s + second + "\0"s, "abc"));
        EXPECT_NE(r.error.find("CONTENT_LENGTH given twice with different values"), std::string::npos) << r.error;
    }
}

TEST(ScgiCodec, HeadersOverTheCountAre431)
{
    CodecLimits limits;
    limits.max_header_count = 3;
    std::string three = "CONTENT_LENGTH\0" "0\0" "SCGI\0" "1\0" "A\0" "a\0"s;
    RecordingSink sink;
    auto ok = codec(limits);
    feed_all(*ok, sink, request(three));
    EXPECT_EQ(sink.requests.size(), 1u);
    const auto r = refused(request(three + "B\0" "b\0"s), limits);
    EXPECT_EQ(r.error_status, 431);
    EXPECT_NE(r.error.find("more than 3"), std::string::npos) << r.error;
}

TEST(ScgiCodec, MalformedHeaderBlock)
{
    // Odd number of strings, no final NUL, empty name.
    EXPECT_EQ(refused(request("CONTENT_LENGTH\0" "0\0" "SCGI\0" "1\0" "LONE\0"s)).error_status, 0);
    EXPECT_EQ(refused(request("CONTENT_LENGTH\0" "0\0" "SCGI\0" "1"s)).error_status, 0);
    EXPECT_EQ(refused(request("CONTENT_LENGTH\0" "0\0" "SCGI\0" "1\0" "\0" "v\0"s)).error_status, 0);
}

TEST(ScgiCodec, BadNetstring)
{
    for (const std::string& input : {"x:"s, ":"s, "07:"s, "12x"s, " 5:"s, "-5:"s}) {
        const auto r = refused(input);
        EXPECT_EQ(r.error_status, 0) << input;
        EXPECT_NE(r.error.find("netstring"), std::string::npos) << r.error;
    }
    // The length is right but the comma is not there.
    const std::string headers = "CONTENT_LENGTH\0" "0\0" "SCGI\0" "1\0"s;
    const auto no_comma = refused(std::to_string(headers.size()) + ":" + headers + ";");
    EXPECT_EQ(no_comma.error_status, 0);
    EXPECT_NE(no_comma.error.find("','"), std::string::npos) << no_comma.error;
}

TEST(ScgiCodec, TruncatedThenCompleted)
{
    RecordingSink sink;
    auto c = codec();
    const size_t cut = 40;  // inside the headers
    auto r = c->feed(std::string_view(kSpecExample).substr(0, cut), sink);
    EXPECT_EQ(r.status, ParseStatus::more);
    EXPECT_EQ(r.consumed, cut);
    EXPECT_TRUE(sink.events.empty());

    const size_t body_cut = 3 + 70 + 1 + 10;  // inside the body
    r = c->feed(std::string_view(kSpecExample).substr(cut, body_cut - cut), sink);
    EXPECT_EQ(r.status, ParseStatus::more);
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_EQ(sink.body, "What is th");
    EXPECT_EQ(sink.body_ends, 0);

    r = c->feed(std::string_view(kSpecExample).substr(body_cut), sink);
    EXPECT_EQ(r.status, ParseStatus::paused);
    EXPECT_EQ(r.consumed, kSpecExample.size() - body_cut);
    EXPECT_EQ(sink.body_ends, 1);
}

TEST(ScgiCodec, HeadersOverTheLimitAre431)
{
    CodecLimits limits;
    limits.max_header_size = 50;
    const auto r = refused(kSpecExample, limits);  // 70 bytes of headers
    EXPECT_EQ(r.error_status, 431);
    EXPECT_LE(r.consumed, 2u);  // refused from the length, before any header byte

    // An absurd length is refused before it can overflow.
    EXPECT_EQ(refused(std::string(40, '9') + ":").error_status, 431);

    limits.max_header_size = 70;
    RecordingSink sink;
    auto c = codec(limits);
    EXPECT_EQ(feed_all(*c, sink, kSpecExample).status, ParseStatus::paused);
}

TEST(ScgiCodec, ContentLengthOverTheLimitIs413)
{
    CodecLimits limits;
    limits.max_body_size = 26;
    const auto r = refused(kSpecExample, limits);
    EXPECT_EQ(r.error_status, 413);

    RecordingSink sink;
    auto c = codec(limits);
    ASSERT_EQ(feed_all(*c, sink, kSpecExample).status, ParseStatus::error);
    Output out;
    c->write_error(413, out);
    EXPECT_EQ(out.str(),
              "Status: 413 Content Too Large\r\nContent-Type: text/plain\r\nContent-Length: 22\r\n\r\n"
              "413 Content Too Large\n");
}

TEST(ScgiCodec, BytesAfterTheBodyAreNotConsumed)
{
    RecordingSink sink;
    auto c = codec();
    const std::string input = kSpecExample + "NEXT";
    const auto r = c->feed(input, sink);
    EXPECT_EQ(r.status, ParseStatus::paused);
    EXPECT_EQ(r.consumed, kSpecExample.size());
    EXPECT_EQ(sink.body, "What is the answer to life?");

    // Paused until resumed; SCGI has no second request after that.
    EXPECT_EQ(c->feed("NEXT", sink).status, ParseStatus::paused);
    EXPECT_EQ(c->feed("NEXT", sink).consumed, 0u);
    c->resume();
    const auto after = c->feed("NEXT", sink);
    EXPECT_EQ(after.status, ParseStatus::error);
    EXPECT_EQ(after.error_status, 0);
    EXPECT_EQ(sink.requests.size(), 1u);
}

TEST(ScgiCodec, ResponseHead)
{
    RecordingSink sink;
    auto c = codec();
    ASSERT_EQ(feed_all(*c, sink, kSpecExample).status, ParseStatus::paused);
    const std::string body = "42";
    HeaderList headers = {{"Content-Type", "text/plain"}, {"Set-Cookie", "a=b"}};
    Output out;
    c->write_head(ResponseHead{200, "200 OK", &headers, 2}, out);
    c->write_body(body, out);
    const size_t before_end = out.size();
    c->write_end(out);
    EXPECT_EQ(out.size(), before_end);  // the response ends with the connection
    // the length the bridge knew goes to the frontend
    EXPECT_EQ(out.str(),
              "Status: 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=b\r\nContent-Length: 2\r\n\r\n42");
    const auto iov = out.iovecs();
    ASSERT_EQ(iov.size(), 2u);
    EXPECT_EQ(iov[1].iov_base, body.data());  // borrowed
    EXPECT_FALSE(c->keep_alive());
    EXPECT_FALSE(c->raw_body());
    EXPECT_EQ(c->protocol(), Protocol::scgi);

    Output generated;
    c->write_head(ResponseHead{503, {}, nullptr, -1}, generated);
    EXPECT_EQ(generated.str(), "Status: 503 Service Unavailable\r\n\r\n");
}

TEST(ScgiCodec, HeadResponseHasNoBody)
{
    RecordingSink sink;
    auto c = codec();
    ASSERT_EQ(feed_all(*c, sink, request("CONTENT_LENGTH\0" "0\0" "SCGI\0" "1\0" "REQUEST_METHOD\0" "HEAD\0"s)).status,
              ParseStatus::paused);
    Output out;
    c->write_head(ResponseHead{}, out);
    c->write_body("body", out);
    EXPECT_EQ(out.str(), "Status: 200 OK\r\n\r\n");
}

} // namespace
} // namespace drover

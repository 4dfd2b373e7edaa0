// The FastCGI codec: the limits on what a web server may send.
#include "worker/fastcgi.hpp"

#include "tests/unit/worker/fastcgi_codec_fixture.hpp"

namespace drover {
namespace {

using namespace test::fastcgi;

TEST(FastcgiCodec, ParamsOverTheLimitAre431)
{
    CodecLimits limits;
    limits.max_header_size = 100;
    RecordingSink sink;
    auto c = codec(limits);
    const std::string stream = nv("A", std::string(60, 'a')) + nv("B", std::string(60, 'b'));
    const auto r = feed_all(*c, sink, begin(1) + record(fcgi::kParams, 1, stream.substr(0, 62)) +
                                          record(fcgi::kParams, 1, stream.substr(62)));
    EXPECT_EQ(r.status, ParseStatus::error);
    EXPECT_EQ(r.error_status, 431);
    EXPECT_TRUE(sink.requests.empty());
    Output out;
    c->write_error(431, out);
    const auto records = decode(out.str());
    ASSERT_GE(records.size(), 2u);
    EXPECT_EQ(records[0].id, 1);
    EXPECT_EQ(records[0].content.rfind("Status: 431 Request Header Fields Too Large\r\n", 0), 0u);
    EXPECT_EQ(protocol_status(records.back()), fcgi::kRequestComplete);

    // Exactly at the limit is fine.
    RecordingSink ok_sink;
    auto ok = codec(limits);
    const std::string exact = nv("A", std::string(97, 'a'));
    ASSERT_EQ(exact.size(), 100u);
    EXPECT_EQ(feed_all(*ok, ok_sink, begin(1) + params(1, exact)).status, ParseStatus::more);
    EXPECT_EQ(ok_sink.requests.size(), 1u);
}

// Issue 9, defect 9, as for SCGI: equal repeats are one value, different ones
// are two framings of one body.
TEST(FastcgiCodec, ARepeatedContentLengthMustAgree)
{
    RecordingSink sink;
    auto c = codec();
    feed_all(*c, sink, begin(1) + params(1, nv("CONTENT_LENGTH", "3") + nv("REQUEST_METHOD", "POST") +
                                             nv("CONTENT_LENGTH", "3")) + stdin_records(1, "abc"));
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_EQ(sink.requests[0].content_length, 3);
    EXPECT_EQ(sink.requests[0].params.size(), 2u);

    RecordingSink bad_sink;
    auto bad = codec();
    const auto r = feed_all(*bad, bad_sink, begin(1) + params(1, nv("CONTENT_LENGTH", "3") + nv("CONTENT_LENGTH", "30")));
    EXPECT_EQ(r.status, ParseStatus::error);
    EXPECT_EQ(r.error_status, 400);
    EXPECT_NE(r.error.find("CONTENT_LENGTH given twice with different values"), std::string::npos) << r.error;
    EXPECT_TRUE(bad_sink.requests.empty());
}

TEST(FastcgiCodec, ARepeatedParamKeepsItsLastValue)
{
    RecordingSink sink;
    auto c = codec();
    feed_all(*c, sink, begin(1) + params(1, nv("HTTPS", "") + nv("X", "1") + nv("HTTPS", "on")));
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_EQ(sink.requests[0].param("HTTPS"), "on");
    EXPECT_EQ(sink.requests[0].params.size(), 2u);
}

TEST(FastcgiCodec, ParamsOverTheCountAre431)
{
    CodecLimits limits;
    limits.max_header_count = 100;
    std::string stream;
    for (int i = 0; i < 101; ++i)
        stream += nv("P" + std::to_string(i), "v");
    RecordingSink sink;
    auto c = codec(limits);
    const auto r = feed_all(*c, sink, begin(1) + params(1, stream));
    EXPECT_EQ(r.status, ParseStatus::error);
    EXPECT_EQ(r.error_status, 431);
    EXPECT_TRUE(sink.requests.empty());
}

TEST(FastcgiCodec, ContentLengthOverTheLimitIs413)
{
    CodecLimits limits;
    limits.max_body_size = 1000;
    RecordingSink sink;
    auto c = codec(limits);
    const auto r = feed_all(*c, sink, begin(4) + params(4, nv("REQUEST_METHOD", "POST") + nv("CONTENT_LENGTH", "1001")));
    EXPECT_EQ(r.status, ParseStatus::error);
    EXPECT_EQ(r.error_status, 413);
    EXPECT_TRUE(sink.requests.empty());

    Output out;
    c->write_error(413, out);
    const auto records = decode(out.str());
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records[0].type, fcgi::kStdout);
    EXPECT_EQ(records[0].id, 4);
    EXPECT_EQ(records[0].content,
              "Status: 413 Content Too Large\r\nContent-Type: text/plain\r\nContent-Length: 22\r\n\r\n"
              "413 Content Too Large\n");
    EXPECT_EQ(records[1].type, fcgi::kStdout);
    EXPECT_TRUE(records[1].content.empty());
    EXPECT_EQ(records[2].id, 4);
    EXPECT_EQ(protocol_status(records[2]), fcgi::kRequestComplete);
}

TEST(FastcgiCodec, BodyOverTheLimitWithoutContentLengthIs413)
{
    CodecLimits limits;
    limits.max_body_size = 10;
    RecordingSink sink;
    auto c = codec(limits);
    const auto r = feed_all(*c, sink, begin(1) + params(1, nv("REQUEST_METHOD", "POST")) +
                                          record(fcgi::kStdin, 1, "123456") + record(fcgi::kStdin, 1, "78901"));
    EXPECT_EQ(r.status, ParseStatus::error);
    EXPECT_EQ(r.error_status, 413);
    EXPECT_EQ(sink.body, "123456");  // the oversized record is refused whole
}

TEST(FastcgiCodec, StdinLongerThanContentLengthIs400)
{
    RecordingSink sink;
    auto c = codec();
    const auto r = feed_all(*c, sink, begin(1) + params(1, nv("CONTENT_LENGTH", "3")) + record(fcgi::kStdin, 1, "four"));
    EXPECT_EQ(r.status, ParseStatus::error);
    EXPECT_EQ(r.error_status, 400);
}

TEST(FastcgiCodec, ContentLengthValues)
{
    const std::pair<const char*, int64_t> cases[] = {{"", -1}, {"0", 0}, {"12", 12}, {"-1", -1}, {"1x", -1},
                                                     {"99999999999999999999", -1}};
    for (const auto& [value, expected] : cases) {
        RecordingSink sink;
        auto c = codec();
        ASSERT_EQ(feed_all(*c, sink, begin(1) + params(1, nv("CONTENT_LENGTH", value))).status, ParseStatus::more);
        ASSERT_EQ(sink.requests.size(), 1u);
        EXPECT_EQ(sink.requests[0].content_length, expected) << "'" << value << "'";
    }
}

// Specification 3.3: "While a request ID R is inactive, the application
// ignores records with requestId == R, except for FCGI_BEGIN_REQUEST".
TEST(FastcgiCodec, RecordsForInactiveIdsAreIgnored)
{
    for (uint8_t type : {fcgi::kParams, fcgi::kStdin, fcgi::kAbortRequest, fcgi::kData}) {
        RecordingSink sink;
        auto c = codec();
        const auto r = feed_all(*c, sink, record(type, 8, "content") + record(type, 8, "") + post_request(1, "x"));
        ASSERT_EQ(r.status, ParseStatus::more) << int(type) << " " << r.error;
        EXPECT_TRUE(sink.replies.empty()) << int(type);
        ASSERT_EQ(sink.requests.size(), 1u) << int(type);
        EXPECT_EQ(sink.body, "x");
        EXPECT_EQ(sink.body_ends, 1);
    }
    // Also while another request is active.
    RecordingSink sink;
    auto c = codec();
    const auto r = feed_all(*c, sink, begin(1) + record(fcgi::kParams, 2, nv("A", "b")) +
                                          params(1, nv("REQUEST_METHOD", "GET")) + record(fcgi::kStdin, 2, "zz") +
                                          stdin_records(1, ""));
    ASSERT_EQ(r.status, ParseStatus::more) << r.error;
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_FALSE(sink.requests[0].has_param("A"));
    EXPECT_EQ(sink.body, "");
    EXPECT_EQ(sink.body_ends, 1);
}

// A kept connection whose app answered before the body had come can be
// handed to another worker before the late FCGI_STDIN arrives: that worker's
// fresh codec must drop it and serve the next request (it used to close the
// connection: "FCGI_STDIN for request id 1, which has no FCGI_BEGIN_REQUEST").
TEST(FastcgiCodec, FreshCodecDropsTheLateStdinOfARequestItNeverSaw)
{
    const std::string input = stdin_records(1, "late body") + post_request(1, "next");
    for (const auto& splits : {whole(input), bytewise(input), random_splits(input, 7)}) {
        RecordingSink s;
        auto fresh = codec();
        const auto r = feed_pieces(*fresh, s, input, splits);
        ASSERT_EQ(r.status, ParseStatus::more) << r.error;
        ASSERT_EQ(s.requests.size(), 1u);
        EXPECT_EQ(s.body, "next");
        EXPECT_EQ(s.body_ends, 1);
        EXPECT_TRUE(s.replies.empty());
    }
}

} // namespace
} // namespace drover

// The FastCGI codec: framing the response (FCGI_STDOUT, FCGI_END_REQUEST).
#include "worker/fastcgi.hpp"

#include "tests/unit/worker/fastcgi_codec_fixture.hpp"

namespace drover {
namespace {

using namespace test::fastcgi;

TEST(FastcgiCodec, HeadRequest)
{
    RecordingSink sink;
    auto c = codec();
    ASSERT_EQ(feed_all(*c, sink, begin(1) + params(1, nv("REQUEST_METHOD", "HEAD")) + stdin_records(1, "")).status,
              ParseStatus::more);
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_TRUE(sink.requests[0].head);
    Output out;
    HeaderList headers = {{"Content-Length", "5"}};
    c->write_head(ResponseHead{200, "200 OK", &headers, 5}, out);
    c->write_body("hello", out);
    c->write_end(out);
    const auto records = decode(out.str());
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records[0].content, "Status: 200 OK\r\nContent-Length: 5\r\n\r\n");
    EXPECT_TRUE(records[1].content.empty());
}

TEST(FastcgiCodec, StdoutFramingOfALargeBody)
{
    RecordingSink sink;
    auto c = codec();
    ASSERT_EQ(feed_all(*c, sink, post_request(513, "")).status, ParseStatus::more);

    std::string body(200000, '\0');
    for (size_t i = 0; i < body.size(); ++i)
        body[i] = static_cast<char>('a' + i % 26);
    HeaderList headers = {{"Content-Type", "text/plain"}, {"X-Thing", "yes"}};
    Output out;
    c->write_head(ResponseHead{201, "201 Created", &headers, -1}, out);
    c->write_body(std::string_view(body).substr(0, 100001), out);
    c->write_body("", out);  // must not end the stream
    c->write_body(std::string_view(body).substr(100001), out);
    c->write_end(out);

    // The body is borrowed, not copied: some iovec points into it.
    bool borrowed = false;
    for (const iovec& v : out.iovecs())
        borrowed |= v.iov_base >= static_cast<void*>(body.data()) &&
                    v.iov_base < static_cast<void*>(body.data() + body.size());
    EXPECT_TRUE(borrowed);

    const std::string bytes = out.str();
    const auto records = decode(bytes);
    ASSERT_GE(records.size(), 5u);
    std::string stdout_stream;
    for (size_t i = 0; i + 2 < records.size(); ++i) {
        const Record& r = records[i];
        EXPECT_EQ(r.version, 1);
        EXPECT_EQ(r.type, fcgi::kStdout);
        EXPECT_EQ(r.id, 513);
        EXPECT_FALSE(r.content.empty()) << "empty STDOUT before the end, record " << i;
        EXPECT_LE(r.content.size(), 65535u);
        EXPECT_EQ((r.content.size() + r.padding.size()) % 8, 0u);
        EXPECT_LT(r.padding.size(), 8u);
        EXPECT_EQ(r.padding, std::string(r.padding.size(), '\0'));
        stdout_stream += r.content;
    }
    const Record& empty_stdout = records[records.size() - 2];
    EXPECT_EQ(empty_stdout.type, fcgi::kStdout);
    EXPECT_TRUE(empty_stdout.content.empty());
    const Record& end = records.back();
    EXPECT_EQ(end.id, 513);
    EXPECT_EQ(protocol_status(end), fcgi::kRequestComplete);
    EXPECT_EQ(app_status(end), 0u);
    const std::string head = "Status: 201 Created\r\nContent-Type: text/plain\r\nX-Thing: yes\r\n\r\n";
    EXPECT_EQ(stdout_stream.substr(0, head.size()), head);
    EXPECT_TRUE(stdout_stream == head + body) << "STDOUT stream differs from head + body";
    EXPECT_EQ(bytes.size(), out.size());
}

TEST(FastcgiCodec, StatusLineFromTheCodeWhenTheAppGaveNone)
{
    RecordingSink sink;
    auto c = codec();
    ASSERT_EQ(feed_all(*c, sink, post_request(1, "")).status, ParseStatus::more);
    Output out;
    c->write_head(ResponseHead{404, {}, nullptr, -1}, out);
    const auto records = decode(out.str());
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].content, "Status: 404 Not Found\r\n\r\n");
}

TEST(FastcgiCodec, LateStdinAfterAnEarlyResponseIsDropped)
{
    RecordingSink sink;
    auto c = codec();
    ASSERT_EQ(feed_all(*c, sink, begin(1) + params(1, nv("REQUEST_METHOD", "POST"))).status, ParseStatus::more);
    Output out;
    c->write_head(ResponseHead{}, out);
    c->write_end(out);  // the app answered without reading the body
    c->resume();
    const auto r = feed_all(*c, sink, stdin_records(1, "unread") + post_request(2, "next"));
    ASSERT_EQ(r.status, ParseStatus::more) << r.error;
    ASSERT_EQ(sink.requests.size(), 2u);
    EXPECT_EQ(sink.body, "next");
    EXPECT_EQ(sink.body_ends, 1);
}

/// Answers from inside the callbacks, as a connection that runs the app from
/// on_body_end does.
class AnsweringSink : public RecordingSink {
public:
    explicit AnsweringSink(Codec& codec) : codec_(codec) {}
    Output out;
    void on_request(Request&& request) override
    {
        RecordingSink::on_request(std::move(request));
        codec_.write_head(ResponseHead{}, out);
        codec_.write_body("early", out);
        codec_.write_end(out);
    }

private:
    Codec& codec_;
};

TEST(FastcgiCodec, ResponseWrittenFromInsideOnRequest)
{
    auto c = codec();
    AnsweringSink sink(*c);
    const std::string input = post_request(1, "ignored body") + post_request(2, "x");
    const auto r = feed_pieces(*c, sink, input, random_splits(input, 3));
    ASSERT_EQ(r.status, ParseStatus::more) << r.error;
    EXPECT_EQ(sink.requests.size(), 2u);
    EXPECT_TRUE(sink.body.empty());
    EXPECT_EQ(sink.body_ends, 0);
    const auto records = decode(sink.out.str());
    int ends = 0;
    for (const Record& rec : records)
        ends += rec.type == fcgi::kEndRequest;
    EXPECT_EQ(ends, 2);
}

TEST(FastcgiCodec, WriteErrorAfterTheHeadOnlyEndsTheResponse)
{
    RecordingSink sink;
    auto c = codec();
    ASSERT_EQ(feed_all(*c, sink, post_request(1, "")).status, ParseStatus::more);
    Output out;
    c->write_head(ResponseHead{}, out);
    const size_t head_size = out.size();
    c->write_error(500, out);
    const auto records = decode(out.str().substr(head_size));
    ASSERT_EQ(records.size(), 2u);
    EXPECT_TRUE(records[0].content.empty());
    EXPECT_EQ(records[1].type, fcgi::kEndRequest);
    // After the end nothing more is written.
    out.clear();
    c->write_end(out);
    c->write_body("x", out);
    EXPECT_TRUE(out.empty());
}

} // namespace
} // namespace drover

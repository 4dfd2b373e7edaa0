// The WSGI bridge: wsgi.input: reads of every shape over a fake body.
#include "tests/unit/worker/python/bridge_fixture.hpp"

namespace drover {
namespace {

// ---- wsgi.input -----------------------------------------------------------

std::string lines_body()
{
    return "first line\nsecond\n\nfourth is longer than the others\nno newline at the end";
}

TEST_F(BridgeTest, InputReadInOneChunkAndByteByByte)
{
    for (size_t chunk : {size_t(1), size_t(1) << 20}) {
        Exchange ex;
        ex.body.data = lines_body();
        ex.body.chunk = chunk;
        ex.run(bridge(), post("/echo", "read", ex.body.data.size()));
        EXPECT_EQ(ex.writer.body, lines_body()) << "chunk " << chunk;
        EXPECT_EQ(py("last_pieces[1]"), "b''");
        EXPECT_LE(ex.body.reads_at_end, 1) << "read past the end of the body";
        EXPECT_FALSE(ex.body.gil_held) << "BodySource::read must run without the GIL";
    }
}

TEST_F(BridgeTest, InputReadNoneAndAfterTheEnd)
{
    Exchange ex;
    ex.body.data = "payload";
    ex.run(bridge(), post("/echo", "read_none", 7));
    EXPECT_EQ(py("last_pieces"), "[b'payload', b'', b'', b'']");
    EXPECT_LE(ex.body.reads_at_end, 1);
}

TEST_F(BridgeTest, InputReadWithSize)
{
    for (size_t chunk : {size_t(1), size_t(3), size_t(65536)}) {
        Exchange ex;
        ex.body.data = lines_body();
        ex.body.chunk = chunk;
        ex.run(bridge(), post("/echo", "readn", ex.body.data.size()));
        EXPECT_EQ(ex.writer.body, lines_body());
        // read(n) returns n bytes until the end, not whatever one read gave.
        EXPECT_EQ(py("[len(p) for p in last_pieces[:-2]] == [7] * (len(last_pieces) - 2)"), "True")
            << "chunk " << chunk;
        EXPECT_EQ(py("last_pieces[-1]"), "b''");
    }
}

TEST_F(BridgeTest, InputReadline)
{
    for (size_t chunk : {size_t(1), size_t(65536)}) {
        Exchange ex;
        ex.body.data = lines_body();
        ex.body.chunk = chunk;
        ex.run(bridge(), post("/echo", "readline", ex.body.data.size()));
        EXPECT_EQ(py("last_pieces"), "[b'first line\\n', b'second\\n', b'\\n', b'fourth is longer than the "
                                     "others\\n', b'no newline at the end', b'']")
            << "chunk " << chunk;
    }
}

TEST_F(BridgeTest, InputReadlineWithLimit)
{
    Exchange ex;
    ex.body.data = "abcdefgh\nij\n";
    ex.body.chunk = 1;
    ex.run(bridge(), post("/echo", "readline5", ex.body.data.size()));
    EXPECT_EQ(py("last_pieces"), "[b'abcde', b'fgh\\n', b'ij\\n', b'']");
}

TEST_F(BridgeTest, InputReadlinesAndIteration)
{
    Exchange ex;
    ex.body.data = "a\nbb\nccc";
    ex.body.chunk = 1;
    ex.run(bridge(), post("/echo", "readlines", ex.body.data.size()));
    EXPECT_EQ(py("last_pieces"), "[b'a\\n', b'bb\\n', b'ccc']");

    Exchange hinted;
    hinted.body.data = "a\nbb\nccc\ndddd\n";
    hinted.run(bridge(), post("/echo", "readlines_hint", hinted.body.data.size()));
    // Lines up to the one that reaches the hint; the rest stays readable.
    EXPECT_EQ(py("last_pieces"), "[b'a\\n', b'bb\\n', b'ccc\\ndddd\\n']");

    Exchange iterated;
    iterated.body.data = "x\ny\n";
    iterated.body.chunk = 1;
    iterated.run(bridge(), post("/echo", "iter", iterated.body.data.size()));
    EXPECT_EQ(py("last_pieces"), "[b'x\\n', b'y\\n']");

    Exchange mixed;
    mixed.body.data = "line\nabcrest of line\ntail";
    mixed.body.chunk = 2;
    mixed.run(bridge(), post("/echo", "mixed", mixed.body.data.size()));
    EXPECT_EQ(py("last_pieces"), "[b'line\\n', b'abc', b'rest of line\\n', b'tail']");
}

TEST_F(BridgeTest, InputEmptyBody)
{
    for (const char* mode : {"read", "readline", "readlines", "iter"}) {
        Exchange ex;
        ex.run(bridge(), post("/echo", mode, 0));
        EXPECT_EQ(ex.outcome.status, 200) << mode;
        EXPECT_EQ(ex.writer.body, "") << mode;
        EXPECT_LE(ex.body.reads_at_end, 1) << mode;
    }
    EXPECT_EQ(py("last_pieces"), "[]");
}

TEST_F(BridgeTest, InputOneMebibyte)
{
    std::string big;
    for (int i = 0; big.size() < (1u << 20); ++i)
        big += "line " + std::to_string(i) + " " + std::string(static_cast<size_t>(i % 97), 'x') + "\n";
    big.resize(1u << 20);

    Exchange whole;
    whole.body.data = big;
    whole.body.chunk = 1;
    whole.run(bridge(), post("/echo", "read", big.size()));
    EXPECT_EQ(whole.writer.body.size(), big.size());
    EXPECT_TRUE(whole.writer.body == big);
    EXPECT_EQ(whole.writer.content_length, static_cast<int64_t>(big.size()));

    Exchange lines;
    lines.body.data = big;
    lines.body.chunk = 1000;
    lines.run(bridge(), post("/echo", "iter", big.size()));
    EXPECT_TRUE(lines.writer.body == big);
    EXPECT_EQ(py("len(last_pieces)"), std::to_string(std::count(big.begin(), big.end(), '\n') + 1));
}

TEST_F(BridgeTest, InputReadFailureIsAnOSErrorForTheApp)
{
    Exchange ex;
    ex.body.data = "0123456789";
    ex.body.chunk = 4;
    ex.body.fail_at = 4;
    ex.run(bridge(), post("/input_error", "", 10));
    EXPECT_EQ(ex.outcome.status, 400);
    EXPECT_EQ(py("last_error"), "OSError: client closed the connection mid-body");
}

// A chunked body that grows over max_body_size fails while the app reads it:
// the client is answered 413, as for a Content-Length over the limit, not
// 500 with an error-level traceback.
TEST_F(BridgeTest, BodyOverTheLimitThatTheAppLetsOutIs413)
{
    StderrCapture log;
    Exchange ex;
    ex.body.data = "0123456789";
    ex.body.chunk = 4;
    ex.body.fail_at = 4;
    ex.body.failure = std::string(kBodyTooLarge);
    ex.run(bridge(), post("/echo", "read", 10));
    std::string text = log.finish();
    EXPECT_EQ(ex.outcome.status, 413);
    EXPECT_EQ(ex.writer.status_line, "413 Content Too Large");
    EXPECT_EQ(ex.writer.body, "Content Too Large\n");
    EXPECT_EQ(ex.writer.count("finish"), 1);
    EXPECT_TRUE(ex.outcome.close_connection) << "the rest of the body is unread";
    EXPECT_TRUE(contains(text, "info: ")) << text;
    EXPECT_FALSE(contains(text, "Traceback")) << text;

    // Any other read failure the app lets out is still the app's 500.
    Exchange other;
    other.body.data = "0123456789";
    other.body.chunk = 4;
    other.body.fail_at = 4;
    other.run(bridge(), post("/echo", "read", 10));
    EXPECT_EQ(other.outcome.status, 500);

    // An app that handles the error answers as it likes.
    Exchange handled;
    handled.body.data = "0123456789";
    handled.body.fail_at = 0;
    handled.body.failure = std::string(kBodyTooLarge);
    handled.run(bridge(), post("/input_error", "", 10));
    EXPECT_EQ(handled.outcome.status, 400);
}

TEST_F(BridgeTest, LeakedObjectsAreDeadAfterTheRequest)
{
    Exchange ex;
    ex.body.data = "unread body";
    ex.run(bridge(), post("/keep", "", 11));
    EXPECT_EQ(ex.writer.body, "kept");
    EXPECT_TRUE(contains(py("stale['input'].read()"), "ValueError")) << py("stale['input'].read()");
    EXPECT_TRUE(contains(py("stale['write'](b'x')"), "ValueError"));
    EXPECT_TRUE(contains(py("stale['start_response']('200 OK', [])"), "ValueError"));
}

} // namespace
} // namespace drover

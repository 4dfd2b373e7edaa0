// The WSGI bridge: start_response, write() and the response iterable.
#include "tests/unit/worker/python/bridge_fixture.hpp"

namespace drover {
namespace {

// ---- start_response -------------------------------------------------------

TEST_F(BridgeTest, ValidStartResponsePassesStatusAndHeaders)
{
    Exchange ex;
    ex.run(bridge(), get("/sr", "valid"));
    EXPECT_EQ(py("last_error"), "None");
    EXPECT_EQ(ex.outcome.status, 299);
    EXPECT_EQ(ex.writer.status, 299);
    EXPECT_EQ(ex.writer.status_line, "299 Fine Thanks");
    ASSERT_EQ(ex.writer.headers.size(), 2u);
    EXPECT_EQ(ex.writer.header("X-Test"), "a b\tc");
    EXPECT_EQ(ex.writer.header("Set-Cookie"), "k=v");
    EXPECT_EQ(ex.writer.body, "accepted");
}

TEST_F(BridgeTest, InvalidStartResponseRaisesAndBecomes500)
{
    const std::pair<const char*, const char*> cases[] = {
        {"bad_status", "ValueError"},   {"short_status", "ValueError"}, {"bytes_status", "TypeError"},
        {"crlf_value", "ValueError"},   {"lf_name", "ValueError"},      {"nul_value", "ValueError"},
        {"space_name", "ValueError"},   {"non_latin1", "ValueError"},   {"tuple_headers", "TypeError"},
        {"hop_by_hop", "AssertionError"}, {"bad_length", "ValueError"}, {"second_call", "AssertionError"},
    };
    for (auto [name, error] : cases) {
        StderrCapture log;
        Exchange ex;
        ex.run(bridge(), get("/sr", name));
        std::string text = log.finish();
        EXPECT_EQ(py("last_error"), error) << name;
        EXPECT_EQ(ex.outcome.status, 500) << name;
        EXPECT_EQ(ex.writer.status_line, "500 Internal Server Error") << name;
        EXPECT_EQ(ex.writer.count("start"), 1) << name << ": the head is sent once";
        EXPECT_EQ(ex.writer.count("finish"), 1) << name;
        EXPECT_FALSE(ex.outcome.close_connection) << name;
        EXPECT_TRUE(contains(text, "Traceback")) << name << ": " << text;
        EXPECT_FALSE(contains(ex.writer.body, "Injected")) << name;
    }
}

TEST_F(BridgeTest, ExcInfoBeforeTheHeadReplacesStatusAndHeaders)
{
    Exchange ex;
    ex.run(bridge(), get("/exc_before"));
    EXPECT_EQ(ex.outcome.status, 503);
    EXPECT_EQ(ex.writer.status_line, "503 Service Unavailable");
    EXPECT_EQ(ex.writer.header("X-Old"), "<none>");
    EXPECT_EQ(ex.writer.header("Content-Type"), "text/plain");
    EXPECT_EQ(ex.writer.body, "replaced");
}

TEST_F(BridgeTest, ExcInfoAfterTheHeadReraisesAndCutsTheResponse)
{
    StderrCapture log;
    Exchange ex;
    ex.run(bridge(), get("/exc_after"));
    std::string text = log.finish();
    EXPECT_EQ(py("last_error"), "reraised-same");
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(ex.writer.body, "partial");
    EXPECT_TRUE(ex.outcome.close_connection);
    EXPECT_EQ(ex.writer.count("finish"), 0) << "a cut response must not look complete";
    EXPECT_TRUE(contains(text, "KeyError: 'original'")) << text;
}

TEST_F(BridgeTest, WriteCallableSendsTheHeadThenBytes)
{
    Exchange ex;
    ex.run(bridge(), get("/write"));
    EXPECT_EQ(ex.writer.body, "hello world");
    EXPECT_EQ(ex.writer.writes, 2);
    EXPECT_EQ((std::vector<std::string>{"start", "write", "write", "finish"}), ex.writer.events);
    EXPECT_EQ(ex.writer.content_length, -1);
    EXPECT_EQ(ex.outcome.response_bytes, 11u);
    EXPECT_FALSE(ex.writer.gil_held) << "ResponseWriter calls must run without the GIL";
}

// ---- the response iterable ------------------------------------------------

TEST_F(BridgeTest, OneItemListIsSentWithItsLength)
{
    Exchange ex;
    ex.run(bridge(), get("/one"));
    EXPECT_EQ(ex.writer.content_length, 5);
    EXPECT_EQ(ex.writer.writes, 1);
    EXPECT_EQ(ex.writer.body, "hello");
    EXPECT_EQ(ex.outcome.response_bytes, 5u);
    EXPECT_FALSE(ex.outcome.close_connection);
    EXPECT_EQ(ex.writer.count("finish"), 1);

    Exchange tuple;
    tuple.run(bridge(), get("/tuple"));
    EXPECT_EQ(tuple.writer.content_length, 4);
    EXPECT_EQ(tuple.writer.body, "abcd");
}

TEST_F(BridgeTest, GeneratorStreamsSeveralWrites)
{
    Exchange ex;
    ex.run(bridge(), get("/gen"));
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(ex.writer.content_length, -1);
    EXPECT_EQ(ex.writer.writes, 3);  // the empty item is skipped
    EXPECT_EQ(ex.writer.body, "one two three");
    EXPECT_EQ((std::vector<std::string>{"start", "write", "write", "write", "finish"}), ex.writer.events);
    EXPECT_FALSE(ex.writer.gil_held);
}

TEST_F(BridgeTest, StartResponseInsideTheGenerator)
{
    Exchange ex;
    ex.run(bridge(), get("/lazy_gen"));
    EXPECT_EQ(ex.outcome.status, 201);
    EXPECT_EQ(ex.writer.body, "late");
}

TEST_F(BridgeTest, EmptyBodyHasLengthZero)
{
    Exchange ex;
    ex.run(bridge(), get("/empty_gen"));
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(ex.writer.content_length, 0);
    EXPECT_EQ((std::vector<std::string>{"start", "finish"}), ex.writer.events);
}

TEST_F(BridgeTest, HeadRequestSendsNoBody)
{
    Request r = get("/gen");
    r.params[0].second = "HEAD";
    r.head = true;
    Exchange ex;
    ex.run(bridge(), r);
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(ex.writer.writes, 0);
    EXPECT_EQ(ex.writer.count("start"), 1);
    EXPECT_EQ(ex.writer.count("finish"), 1);
    EXPECT_EQ(ex.outcome.response_bytes, 0u);

    Request one = get("/one");
    one.params[0].second = "HEAD";
    one.head = true;
    Exchange known;
    known.run(bridge(), one);
    EXPECT_EQ(known.writer.content_length, 5) << "HEAD announces the length GET would send";
    EXPECT_EQ(known.writer.writes, 0);
    EXPECT_EQ(known.writer.count("finish"), 1);
}

TEST_F(BridgeTest, DeclaredContentLengthIsPassedAndEnforced)
{
    Exchange exact;
    exact.run(bridge(), get("/length", "5,hello"));
    EXPECT_EQ(exact.writer.content_length, 5);
    EXPECT_EQ(exact.writer.body, "hello");
    EXPECT_FALSE(exact.outcome.close_connection);
    EXPECT_EQ(exact.writer.count("finish"), 1);

    StderrCapture log;
    Exchange longer;
    longer.run(bridge(), get("/length", "3,abcdef"));
    std::string text = log.finish();
    EXPECT_EQ(longer.writer.body, "abc");
    EXPECT_EQ(longer.outcome.response_bytes, 3u);
    EXPECT_TRUE(longer.outcome.close_connection);
    EXPECT_TRUE(contains(text, "longer than its Content-Length")) << text;

    Exchange shorter;
    shorter.run(bridge(), get("/length", "10,abc"));
    EXPECT_EQ(shorter.writer.body, "abc");
    EXPECT_TRUE(shorter.outcome.close_connection);
    EXPECT_EQ(shorter.writer.count("finish"), 0);
}

// Issue 9, defect 4: a Content-Length on a bodyless answer used to read as a
// body "shorter than its Content-Length": the head was never sent.
TEST_F(BridgeTest, NotModifiedWithContentLengthSendsItsHeadAndNoBody)
{
    Exchange ex;
    ex.run(bridge(), get("/bodyless/", "304,120"));
    EXPECT_EQ(ex.writer.events, (std::vector<std::string>{"start", "finish"}));
    EXPECT_EQ(ex.writer.status, 304);
    EXPECT_EQ(ex.writer.header("Content-Length"), "120");  // RFC 9110 8.6: the selected representation's
    EXPECT_EQ(ex.writer.header("ETag"), "\"v1\"");
    EXPECT_EQ(ex.outcome.status, 304);
    EXPECT_FALSE(ex.outcome.close_connection);
}

TEST_F(BridgeTest, NoContentDropsAContentLengthItMustNotCarry)
{
    for (const char* length : {"0", "5"}) {
        Exchange ex;
        ex.run(bridge(), get("/bodyless/", std::string("204,") + length));
        EXPECT_EQ(ex.writer.events, (std::vector<std::string>{"start", "finish"})) << length;
        EXPECT_EQ(ex.writer.status, 204);
        EXPECT_EQ(ex.writer.header("Content-Length"), "<none>") << "RFC 9110 8.6: MUST NOT send";
        EXPECT_FALSE(ex.outcome.close_connection);
    }
}

TEST_F(BridgeTest, AnInformationalFinalStatusIsAnApplicationError)
{
    for (const char* query : {"103,", "100,0"}) {
        StderrCapture log;
        Exchange ex;
        ex.run(bridge(), get("/bodyless/", query));
        std::string text = log.finish();
        EXPECT_EQ(ex.writer.status, 500) << query;
        EXPECT_EQ(ex.outcome.status, 500);
        EXPECT_TRUE(contains(text, "1xx status is not a final status")) << text;
    }
}

TEST_F(BridgeTest, CloseIsCalledAfterANormalEnd)
{
    py("closes.clear()");
    Exchange ex;
    ex.run(bridge(), get("/close", "normal"));
    EXPECT_EQ(ex.writer.body, "ab");
    EXPECT_EQ(py("closes"), "['normal']");
}

TEST_F(BridgeTest, CloseIsCalledWhenIterationRaises)
{
    py("closes.clear()");
    StderrCapture log;
    Exchange ex;
    ex.run(bridge(), get("/close", "raise"));
    std::string text = log.finish();
    EXPECT_EQ(py("closes"), "['raise']");
    EXPECT_EQ(ex.writer.body, "a");
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_TRUE(ex.outcome.close_connection);
    EXPECT_EQ(ex.writer.count("finish"), 0);
    EXPECT_TRUE(contains(text, "RuntimeError: failed mid-iteration")) << text;

    Exchange first;
    first.run(bridge(), get("/close", "raise_first"));
    EXPECT_EQ(py("closes"), "['raise', 'raise_first']");
    EXPECT_EQ(first.outcome.status, 500);
    EXPECT_FALSE(first.outcome.close_connection);
}

TEST_F(BridgeTest, CloseIsCalledWhenTheClientGoes)
{
    py("closes.clear()");
    Exchange ex;
    ex.writer.gone_after = 1;
    ex.run(bridge(), get("/close", "gone"));
    EXPECT_EQ(py("closes"), "['gone']");
    EXPECT_TRUE(ex.outcome.client_gone);
    EXPECT_TRUE(ex.outcome.close_connection);
    EXPECT_EQ(ex.writer.writes, 1);
    EXPECT_EQ(ex.writer.count("write-gone"), 1) << "iteration stops at the first failed write";
    EXPECT_EQ(ex.outcome.response_bytes, 1u);
    EXPECT_EQ(ex.writer.count("finish"), 0);
}

TEST_F(BridgeTest, CloseThatRaisesIsLoggedAndSurvived)
{
    py("closes.clear()");
    StderrCapture log;
    Exchange ex;
    ex.run(bridge(), get("/close", "close_raises"));
    std::string text = log.finish();
    EXPECT_EQ(py("closes"), "['close_raises']");
    EXPECT_TRUE(contains(text, "RuntimeError: close failed")) << text;
    EXPECT_TRUE(ex.outcome.close_connection);

    Exchange next;
    next.run(bridge(), get("/one"));
    EXPECT_EQ(next.writer.body, "hello");
}

TEST_F(BridgeTest, AppExceptionIs500AndTheNextRequestWorks)
{
    StderrCapture log;
    Exchange ex;
    ex.run(bridge(), get("/boom"));
    std::string text = log.finish();
    EXPECT_EQ(ex.outcome.status, 500);
    EXPECT_EQ(ex.writer.status_line, "500 Internal Server Error");
    EXPECT_EQ(ex.writer.header("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(ex.writer.content_length, static_cast<int64_t>(ex.writer.body.size()));
    EXPECT_FALSE(ex.writer.body.empty());
    EXPECT_EQ(ex.outcome.response_bytes, ex.writer.body.size());
    EXPECT_TRUE(contains(text, "app: Traceback (most recent call last):")) << text;
    EXPECT_TRUE(contains(text, "app: RuntimeError: boom from the app")) << text;
    EXPECT_TRUE(contains(text, "GET /boom")) << text;

    Exchange next;
    next.run(bridge(), get("/one"));
    EXPECT_EQ(next.outcome.status, 200);
    EXPECT_EQ(next.writer.body, "hello");
    EXPECT_EQ(py("'ok'"), "ok") << "no exception may be left pending";
}

TEST_F(BridgeTest, BadReturnValuesAre500)
{
    for (const char* path : {"/returns_none", "/not_iterable", "/str_items", "/no_start_response"}) {
        StderrCapture log;
        Exchange ex;
        ex.run(bridge(), get(path));
        std::string text = log.finish();
        EXPECT_EQ(ex.outcome.status, 500) << path;
        EXPECT_EQ(ex.writer.count("start"), 1) << path;
        EXPECT_FALSE(ex.outcome.close_connection) << path;
        EXPECT_TRUE(contains(text, "Error")) << path << ": " << text;
    }
}

TEST_F(BridgeTest, FailureAfterTheHeadCutsTheConnection)
{
    for (auto [path, logged] : {std::pair{"/str_after_head", "TypeError: response body items must be bytes"},
                                std::pair{"/raise_after_head", "ValueError: after the head"}}) {
        StderrCapture log;
        Exchange ex;
        ex.run(bridge(), get(path));
        std::string text = log.finish();
        EXPECT_EQ(ex.outcome.status, 200) << path;
        EXPECT_EQ(ex.writer.body, "a") << path;
        EXPECT_TRUE(ex.outcome.close_connection) << path;
        EXPECT_EQ(ex.writer.count("finish"), 0) << path;
        EXPECT_TRUE(contains(text, logged)) << path << ": " << text;
    }
}

TEST_F(BridgeTest, WritesFromAppThreadsNeverOverlap)
{
    Exchange ex;
    ex.writer.slow = true;
    ex.run(bridge(), get("/threads"));
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(ex.writer.body.size(), 200000u);
    EXPECT_EQ(ex.writer.writes, 200);
    EXPECT_FALSE(ex.writer.overlapped) << "two ResponseWriter calls ran at once";
    EXPECT_EQ(ex.writer.count("finish"), 1);
}

// Issue 9, defect 2: a thread waiting for the writer when the response was
// torn down used to run on a freed state: bytes after the end of the
// response (after a chunked terminator, or on the next request).
TEST_F(BridgeTest, AppThreadsThatOutliveTheResponseCannotWriteAfterIt)
{
    for (int round = 0; round < 30; ++round) {
        auto ex = std::make_unique<Exchange>();
        ex->writer.slow = true;
        ex->run(bridge(), get("/unjoined"));
        EXPECT_EQ(ex->outcome.status, 200);
        ASSERT_EQ(py("join_unjoined()"), "0");
        const std::vector<std::string>& events = ex->writer.events;
        auto finish = std::find(events.begin(), events.end(), "finish");
        ASSERT_NE(finish, events.end());
        EXPECT_EQ(std::count(finish, events.end(), "write"), 0) << "a write after the end, round " << round;
        EXPECT_FALSE(ex->writer.overlapped);
        // Every late write was refused with a clear error, none crashed.
        std::string errors = py("sorted(set(e.split(':')[0] for e in unjoined_errors))");
        EXPECT_TRUE(errors == "[]" || errors == "['ValueError']") << errors;
        py("unjoined_errors.clear()");
    }
}

TEST_F(BridgeTest, ThrowingConnectionObjectsDoNotEscape)
{
    StderrCapture log;
    Exchange ex;
    ex.writer.throws = true;
    ex.run(bridge(), get("/gen"));
    EXPECT_TRUE(ex.outcome.client_gone);
    EXPECT_TRUE(ex.outcome.close_connection);
    EXPECT_TRUE(contains(log.finish(), "the writer threw"));

    Exchange reader;
    reader.body.data = "abc";
    reader.body.throws = true;
    reader.run(bridge(), post("/input_error", "", 3));
    EXPECT_EQ(reader.outcome.status, 400);
    EXPECT_EQ(py("last_error"), "OSError: the body source threw");
}

} // namespace
} // namespace drover

#include "worker/fastcgi.hpp"

#include <gtest/gtest.h>

#include "tests/unit/worker/fastcgi_codec_fixture.hpp"

namespace drover {
namespace {

using namespace test::fastcgi;

TEST(FastcgiCodec, SplitsGiveIdenticalEventsAndReplies)
{
    // A management query, an unknown management type, and a request whose
    // params are split mid-pair across two records, with odd padding.
    const std::string stream = nv("REQUEST_METHOD", "POST") + nv("CONTENT_LENGTH", "11") + nv("QUERY_STRING", "a=1") +
                               nv(std::string(130, 'N'), std::string(300, 'v'));
    const std::string input =
        record(fcgi::kGetValues, 0, nv(fcgi::kMaxConns, "") + nv(fcgi::kMpxsConns, "")) +
        record(42, 0, "xy") + begin(1) + record(fcgi::kParams, 1, stream.substr(0, 20), 3, 'p') +
        record(fcgi::kParams, 1, stream.substr(20), 0) + record(fcgi::kParams, 1, "", 255, 'q') +
        record(fcgi::kStdin, 1, "hello ", 2) + record(fcgi::kStdin, 1, "world") + record(fcgi::kStdin, 1, "");

    RecordingSink s1;
    auto c1 = codec();
    const FeedOutcome one_block = feed_all(*c1, s1, input);
    ASSERT_EQ(one_block.status, ParseStatus::more) << one_block.error;
    EXPECT_EQ(one_block.consumed, input.size());
    ASSERT_EQ(one_block.events.size(), 5u);  // 2 replies, request, body, body_end
    EXPECT_EQ(s1.body, "hello world");
    EXPECT_EQ(s1.body_ends, 1);
    EXPECT_EQ(s1.replies.size(), 2u);

    RecordingSink s2;
    auto c2 = codec();
    EXPECT_EQ(feed_pieces(*c2, s2, input, bytewise(input)), one_block);
    EXPECT_EQ(s2.replies, s1.replies);

    for (uint32_t seed = 1; seed <= 50; ++seed) {
        RecordingSink s;
        auto c = codec();
        EXPECT_EQ(feed_pieces(*c, s, input, random_splits(input, seed)), one_block) << "seed " << seed;
    }
}

TEST(FastcgiCodec, HeaderSplitThreeFive)
{
    const std::string input = post_request(1, "abc");
    RecordingSink sink;
    auto c = codec();
    EXPECT_EQ(feed_pieces(*c, sink, input, {3, 5}).status, ParseStatus::more);
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_EQ(sink.body, "abc");
}

TEST(FastcgiCodec, RequestCarriesParamsAsReceived)
{
    RecordingSink sink;
    auto c = codec();
    const auto r = feed_all(*c, sink, post_request(1, "body!"));
    ASSERT_EQ(r.status, ParseStatus::more) << r.error;
    ASSERT_EQ(sink.requests.size(), 1u);
    const Request& req = sink.requests[0];
    EXPECT_EQ(req.protocol, Protocol::fastcgi);
    EXPECT_EQ(req.content_length, 5);
    EXPECT_FALSE(req.head);
    const std::vector<Param> expected = {{"REQUEST_METHOD", "POST"}, {"CONTENT_LENGTH", "5"}, {"SCRIPT_NAME", "/app"}};
    EXPECT_EQ(req.params, expected);
    EXPECT_EQ(sink.events.back(), "body_end");
    EXPECT_EQ(sink.body, "body!");
}

TEST(FastcgiCodec, OneAndFourByteLengths)
{
    const std::string n127(127, 'a');
    const std::string v128(128, 'b');
    const std::string v70000(70000, 'c');  // the stream spans two PARAMS records
    const std::string stream = nv(n127, "x") + nv("Y", v128) + nv4("SHORT", "in four bytes") + nv("BIG", v70000) +
                               nv("EMPTY", "");
    std::string input = begin(1);
    input += record(fcgi::kParams, 1, stream.substr(0, 65535));
    input += record(fcgi::kParams, 1, stream.substr(65535));
    input += record(fcgi::kParams, 1, "");
    CodecLimits limits;
    limits.max_header_size = 128 * 1024;
    RecordingSink sink;
    auto c = codec(limits);
    const auto r = feed_pieces(*c, sink, input, random_splits(input, 7));
    ASSERT_EQ(r.status, ParseStatus::more) << r.error;
    ASSERT_EQ(sink.requests.size(), 1u);
    const std::vector<Param> expected = {
        {n127, "x"}, {"Y", v128}, {"SHORT", "in four bytes"}, {"BIG", v70000}, {"EMPTY", ""}};
    EXPECT_TRUE(sink.requests[0].params == expected);
    EXPECT_EQ(sink.requests[0].content_length, -1);
}

TEST(FastcgiCodec, ParamsSplitMidPairAcrossRecords)
{
    const std::string stream = nv4("REQUEST_METHOD", "GET") + nv("PATH_INFO", "/x");
    // Cut inside the 4-byte name length, then inside the value.
    const std::string input = begin(9) + record(fcgi::kParams, 9, stream.substr(0, 2)) +
                              record(fcgi::kParams, 9, stream.substr(2, 20)) + record(fcgi::kParams, 9, stream.substr(22)) +
                              record(fcgi::kParams, 9, "") + stdin_records(9, "");
    RecordingSink sink;
    auto c = codec();
    ASSERT_EQ(feed_all(*c, sink, input).status, ParseStatus::more);
    ASSERT_EQ(sink.requests.size(), 1u);
    const std::vector<Param> expected = {{"REQUEST_METHOD", "GET"}, {"PATH_INFO", "/x"}};
    EXPECT_EQ(sink.requests[0].params, expected);
    EXPECT_EQ(sink.body_ends, 1);
}

TEST(FastcgiCodec, PaddingIsSkippedWhateverItHolds)
{
    const std::string input = begin(1) + record(fcgi::kParams, 1, nv("A", "1"), 255, '\x7f') +
                              record(fcgi::kParams, 1, "", 8, 'z') + record(fcgi::kStdin, 1, "data", 1, '\x01') +
                              record(fcgi::kStdin, 1, "", 0);
    RecordingSink sink;
    auto c = codec();
    const auto r = feed_pieces(*c, sink, input, bytewise(input));
    ASSERT_EQ(r.status, ParseStatus::more) << r.error;
    EXPECT_EQ(r.consumed, input.size());
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_EQ(sink.requests[0].params, (std::vector<Param>{{"A", "1"}}));
    EXPECT_EQ(sink.body, "data");
    EXPECT_EQ(sink.body_ends, 1);
}

TEST(FastcgiCodec, StdinIsStreamedBeforeTheBodyEnds)
{
    const std::string head = begin(1) + params(1, nv("REQUEST_METHOD", "PUT"));
    RecordingSink sink;
    auto c = codec();
    ASSERT_EQ(c->feed(head, sink).status, ParseStatus::more);
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_EQ(sink.requests[0].content_length, -1);

    const std::string first = record(fcgi::kStdin, 1, "part one,");
    // Half of a record: the bytes that arrived are already delivered.
    ASSERT_EQ(c->feed(first.substr(0, 12), sink).status, ParseStatus::more);
    EXPECT_EQ(sink.body, "part");
    EXPECT_EQ(sink.body_ends, 0);
    ASSERT_EQ(c->feed(first.substr(12), sink).status, ParseStatus::more);
    EXPECT_EQ(sink.body, "part one,");
    ASSERT_EQ(c->feed(record(fcgi::kStdin, 1, " part two") + record(fcgi::kStdin, 1, ""), sink).status,
              ParseStatus::more);
    EXPECT_EQ(sink.body, "part one, part two");
    EXPECT_EQ(sink.body_ends, 1);
    EXPECT_EQ(sink.events.back(), "body_end");
}

TEST(FastcgiCodec, KeepConnFlag)
{
    for (uint8_t flags : {uint8_t{0}, fcgi::kKeepConn}) {
        RecordingSink sink;
        auto c = codec();
        ASSERT_EQ(feed_all(*c, sink, post_request(1, "", flags)).status, ParseStatus::more);
        Output out;
        c->write_head(ResponseHead{}, out);
        c->write_end(out);
        EXPECT_EQ(c->keep_alive(), flags == fcgi::kKeepConn) << int(flags);
        EXPECT_FALSE(c->raw_body());
        EXPECT_EQ(c->protocol(), Protocol::fastcgi);
    }
}

TEST(FastcgiCodec, TwoRequestsInSequenceOnAKeptConnection)
{
    RecordingSink sink;
    auto c = codec();
    ASSERT_EQ(feed_all(*c, sink, post_request(1, "first")).status, ParseStatus::more);
    ASSERT_EQ(sink.requests.size(), 1u);
    Output out;
    c->write_head(ResponseHead{}, out);
    c->write_body("one", out);
    c->write_end(out);
    EXPECT_TRUE(c->keep_alive());
    c->resume();
    auto records = decode(out.str());
    ASSERT_FALSE(records.empty());
    EXPECT_EQ(records.back().id, 1);

    // The second request reuses id 1, the third uses another id.
    ASSERT_EQ(feed_all(*c, sink, post_request(1, "second", 0)).status, ParseStatus::more);
    ASSERT_EQ(sink.requests.size(), 2u);
    out.clear();
    c->write_head(ResponseHead{}, out);
    c->write_end(out);
    EXPECT_FALSE(c->keep_alive());
    c->resume();
    ASSERT_EQ(feed_all(*c, sink, post_request(2, "third")).status, ParseStatus::more);
    ASSERT_EQ(sink.requests.size(), 3u);
    EXPECT_EQ(sink.body, "firstsecondthird");
    EXPECT_EQ(sink.body_ends, 3);
    EXPECT_TRUE(sink.replies.empty());
    out.clear();
    c->write_head(ResponseHead{}, out);
    c->write_end(out);
    records = decode(out.str());
    ASSERT_FALSE(records.empty());
    EXPECT_EQ(records.back().id, 2);
}

TEST(FastcgiCodec, GetValuesAnswersOnlyAskedKnownNames)
{
    RecordingSink sink;
    auto c = codec({}, 17);
    const std::string query = nv(fcgi::kMaxConns, "") + nv("FCGI_UNHEARD_OF", "") + nv(fcgi::kMpxsConns, "");
    ASSERT_EQ(feed_all(*c, sink, record(fcgi::kGetValues, 0, query)).status, ParseStatus::more);
    ASSERT_EQ(sink.replies.size(), 1u);
    const auto records = decode(sink.replies[0]);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].version, 1);
    EXPECT_EQ(records[0].type, fcgi::kGetValuesResult);
    EXPECT_EQ(records[0].id, 0);
    EXPECT_EQ((records[0].content.size() + records[0].padding.size()) % 8, 0u);
    const std::map<std::string, std::string> expected = {{"FCGI_MAX_CONNS", "17"}, {"FCGI_MPXS_CONNS", "0"}};
    EXPECT_EQ(decode_pairs(records[0].content), expected);

    ASSERT_EQ(feed_all(*c, sink, record(fcgi::kGetValues, 0, nv(fcgi::kMaxReqs, ""))).status, ParseStatus::more);
    ASSERT_EQ(sink.replies.size(), 2u);
    const auto second = decode(sink.replies[1]);
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(decode_pairs(second[0].content), (std::map<std::string, std::string>{{"FCGI_MAX_REQS", "17"}}));
    EXPECT_TRUE(sink.requests.empty());
}

TEST(FastcgiCodec, SecondBeginWhileActiveIsRefusedWithCantMpx)
{
    RecordingSink sink;
    auto c = codec();
    std::string input = begin(1) + params(1, nv("CONTENT_LENGTH", "6"));
    input += begin(2) + params(2, nv("REQUEST_METHOD", "GET")) + stdin_records(2, "ignored");
    input += stdin_records(1, "stdin1");
    const auto r = feed_all(*c, sink, input);
    ASSERT_EQ(r.status, ParseStatus::more) << r.error;
    ASSERT_EQ(sink.replies.size(), 1u);
    const auto records = decode(sink.replies[0]);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].id, 2);
    EXPECT_EQ(protocol_status(records[0]), fcgi::kCantMpxConn);
    // The current request is untouched and id 2's records are dropped.
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_EQ(sink.body, "stdin1");
    EXPECT_EQ(sink.body_ends, 1);

    // Also while the response is being written, after the body ended.
    ASSERT_EQ(feed_all(*c, sink, begin(3)).status, ParseStatus::more);
    ASSERT_EQ(sink.replies.size(), 2u);
    EXPECT_EQ(decode(sink.replies[1]).at(0).id, 3);
    EXPECT_EQ(protocol_status(decode(sink.replies[1]).at(0)), fcgi::kCantMpxConn);
}

TEST(FastcgiCodec, BeginForTheActiveIdIsAProtocolError)
{
    RecordingSink sink;
    auto c = codec();
    const auto r = feed_all(*c, sink, begin(1) + begin(1));
    EXPECT_EQ(r.status, ParseStatus::error);
    EXPECT_EQ(r.error_status, 0);
    EXPECT_NE(r.error.find("already active"), std::string::npos) << r.error;
}

TEST(FastcgiCodec, UnknownRoleIsRefusedAndItsRecordsIgnored)
{
    RecordingSink sink;
    auto c = codec();
    std::string input = begin(3, fcgi::kAuthorizer) + params(3, nv("A", "b")) + stdin_records(3, "zzz");
    input += post_request(4, "ok");
    const auto r = feed_all(*c, sink, input);
    ASSERT_EQ(r.status, ParseStatus::more) << r.error;
    ASSERT_EQ(sink.replies.size(), 1u);
    const auto records = decode(sink.replies[0]);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].type, fcgi::kEndRequest);
    EXPECT_EQ(records[0].id, 3);
    EXPECT_EQ(protocol_status(records[0]), fcgi::kUnknownRole);
    EXPECT_EQ(app_status(records[0]), 0u);
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_EQ(sink.body, "ok");
}

TEST(FastcgiCodec, UnknownTypeIsAnswered)
{
    RecordingSink sink;
    auto c = codec();
    // A management record of an unknown type, an application-only type sent as
    // management record, and an unknown type on a request id.
    const auto r = feed_all(*c, sink, record(200, 0, "whatever") + record(fcgi::kStdin, 0, "") + record(77, 5, "x"));
    ASSERT_EQ(r.status, ParseStatus::more) << r.error;
    ASSERT_EQ(sink.replies.size(), 3u);
    const uint8_t types[] = {200, fcgi::kStdin, 77};
    for (size_t i = 0; i < 3; ++i) {
        const auto records = decode(sink.replies[i]);
        ASSERT_EQ(records.size(), 1u);
        EXPECT_EQ(records[0].type, fcgi::kUnknownType);
        EXPECT_EQ(records[0].id, 0);
        ASSERT_EQ(records[0].content.size(), 8u);
        EXPECT_EQ(static_cast<uint8_t>(records[0].content[0]), types[i]);
        EXPECT_EQ(records[0].content.substr(1), std::string(7, '\0'));
    }
}

TEST(FastcgiCodec, AbortOfTheCurrentRequest)
{
    RecordingSink sink;
    auto c = codec();
    ASSERT_EQ(feed_all(*c, sink, begin(1) + params(1, nv("REQUEST_METHOD", "GET"))).status, ParseStatus::more);
    Output out;
    c->write_head(ResponseHead{}, out);  // a response in progress
    ASSERT_EQ(feed_all(*c, sink, record(fcgi::kAbortRequest, 1, "") + record(fcgi::kAbortRequest, 1, "")).status,
              ParseStatus::more);
    EXPECT_EQ(sink.aborts, 1);
    EXPECT_EQ(sink.events.back(), "abort");
    c->write_end(out);
    const auto records = decode(out.str());
    ASSERT_FALSE(records.empty());
    EXPECT_EQ(protocol_status(records.back()), fcgi::kRequestComplete);
    // An abort racing with the end of the response is dropped.
    ASSERT_EQ(feed_all(*c, sink, record(fcgi::kAbortRequest, 1, "")).status, ParseStatus::more);
    EXPECT_EQ(sink.aborts, 1);
}

TEST(FastcgiCodec, AbortBeforeTheParamsEndedIsAnsweredByTheCodec)
{
    RecordingSink sink;
    auto c = codec();
    const std::string input = begin(5) + record(fcgi::kParams, 5, nv("A", "b")) + record(fcgi::kAbortRequest, 5, "") +
                              record(fcgi::kParams, 5, "") + stdin_records(5, "late") + post_request(6, "next");
    const auto r = feed_all(*c, sink, input);
    ASSERT_EQ(r.status, ParseStatus::more) << r.error;
    EXPECT_EQ(sink.aborts, 0);  // the sink never saw request 5
    ASSERT_EQ(sink.replies.size(), 1u);
    const auto records = decode(sink.replies[0]);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].id, 5);
    EXPECT_EQ(protocol_status(records[0]), fcgi::kRequestComplete);
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_EQ(sink.body, "next");
}

TEST(FastcgiCodec, BadVersionCloses)
{
    RecordingSink sink;
    auto c = codec();
    std::string input = begin(1);
    input[0] = 2;
    const auto r = feed_all(*c, sink, input);
    EXPECT_EQ(r.status, ParseStatus::error);
    EXPECT_EQ(r.error_status, 0);
    EXPECT_NE(r.error.find("version 2"), std::string::npos) << r.error;
    EXPECT_TRUE(sink.events.empty());
    // A failed codec stays failed.
    EXPECT_EQ(c->feed(begin(1), sink).status, ParseStatus::error);
}

TEST(FastcgiCodec, TruncatedRecordThenMoreInput)
{
    RecordingSink sink;
    auto c = codec();
    const std::string input = post_request(1, "payload");
    const size_t cut = input.size() - 12;  // inside the last STDIN record
    auto r = c->feed(input.substr(0, cut), sink);
    EXPECT_EQ(r.status, ParseStatus::more);
    EXPECT_EQ(r.consumed, cut);
    EXPECT_EQ(sink.body_ends, 0);
    r = c->feed(input.substr(cut), sink);
    EXPECT_EQ(r.status, ParseStatus::more);
    EXPECT_EQ(r.consumed, 12u);
    EXPECT_EQ(sink.body, "payload");
    EXPECT_EQ(sink.body_ends, 1);
}

TEST(FastcgiCodec, StdinBeforeParamsEndedCloses)
{
    RecordingSink sink;
    auto c = codec();
    const auto r = feed_all(*c, sink, begin(1) + record(fcgi::kParams, 1, nv("A", "b")) + record(fcgi::kStdin, 1, "x"));
    EXPECT_EQ(r.status, ParseStatus::error);
    EXPECT_EQ(r.error_status, 0);
    EXPECT_NE(r.error.find("before the end of FCGI_PARAMS"), std::string::npos) << r.error;
    EXPECT_TRUE(sink.requests.empty());
}

TEST(FastcgiCodec, MalformedRecordsClose)
{
    const std::string bad_begin = record(fcgi::kBeginRequest, 1, "short");
    const std::string truncated_pair = begin(1) + params(1, std::string("\x05\x01" "AB", 4));
    const std::string stdout_from_server = record(fcgi::kStdout, 1, "x");
    for (const std::string& input : {bad_begin, truncated_pair, stdout_from_server}) {
        RecordingSink sink;
        auto c = codec();
        const auto r = feed_all(*c, sink, input);
        EXPECT_EQ(r.status, ParseStatus::error) << test::hex(input);
        EXPECT_EQ(r.error_status, 0);
        EXPECT_FALSE(r.error.empty());
        EXPECT_TRUE(sink.requests.empty());
    }
}

} // namespace
} // namespace drover

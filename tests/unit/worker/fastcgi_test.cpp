#include "worker/fastcgi.hpp"

#include <gtest/gtest.h>

#include <map>

#include "tests/unit/worker/fastcgi_records.hpp"
#include "tests/unit/worker/recording_sink.hpp"
#include "worker/codec.hpp"

namespace drover {
namespace {

using test::bytewise;
using test::feed_pieces;
using test::FeedOutcome;
using test::random_splits;
using test::RecordingSink;
using test::whole;
using namespace test::fcgi_records;

std::map<std::string, std::string> decode_pairs(std::string_view s)
{
    std::map<std::string, std::string> out;
    auto read_len = [&](size_t& pos) -> size_t {
        const auto b0 = static_cast<unsigned char>(s.at(pos));
        if (!(b0 & 0x80)) {
            pos += 1;
            return b0;
        }
        const size_t n = static_cast<size_t>(b0 & 0x7f) << 24 | static_cast<size_t>(static_cast<unsigned char>(s.at(pos + 1))) << 16 |
                         static_cast<size_t>(static_cast<unsigned char>(s.at(pos + 2))) << 8 |
                         static_cast<unsigned char>(s.at(pos + 3));
        pos += 4;
        return n;
    };
    size_t pos = 0;
    while (pos < s.size()) {
        const size_t nl = read_len(pos);
        const size_t vl = read_len(pos);
        out[std::string(s.substr(pos, nl))] = std::string(s.substr(pos + nl, vl));
        pos += nl + vl;
    }
    return out;
}

/// protocolStatus of an END_REQUEST record.
int protocol_status(const Record& r)
{
    EXPECT_EQ(r.type, fcgi::kEndRequest);
    EXPECT_EQ(r.content.size(), 8u);
    return r.content.size() == 8 ? static_cast<unsigned char>(r.content[4]) : -1;
}

uint32_t app_status(const Record& r)
{
    const auto* b = reinterpret_cast<const unsigned char*>(r.content.data());
    return static_cast<uint32_t>(b[0]) << 24 | static_cast<uint32_t>(b[1]) << 16 | static_cast<uint32_t>(b[2]) << 8 |
           b[3];
}

std::unique_ptr<Codec> codec(CodecLimits limits = {}, uint32_t max_conns = 4)
{
    return make_fastcgi_codec(limits, max_conns);
}

FeedOutcome feed_all(Codec& c, RecordingSink& sink, std::string_view input)
{
    return feed_pieces(c, sink, input, whole(input));
}

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

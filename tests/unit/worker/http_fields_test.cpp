// Header fields (RFC 9112 §5, RFC 9110 §5): names, values, repeats, limits;
// and the pieces of worker/http_fields.cpp on their own. Codec cases are fed
// whole and a byte at a time (http_rfc9112.hpp).
#include <gtest/gtest.h>

#include "tests/unit/worker/http_rfc9112.hpp"
#include "worker/http_fields.hpp"

namespace drover {
namespace {

using test::accepted;
using test::http_limits;
using test::refused;

std::string get(std::string_view fields)
{
    return "GET / HTTP/1.1\r\n" + std::string(fields) + "\r\n";
}

TEST(HttpFields, WhitespaceBetweenNameAndColonIs400)
{
    refused(get("Host: h\r\nX-A : 1\r\n"), 400);
    refused(get("Host: h\r\nX-A\t: 1\r\n"), 400);
    refused(get("Host : h\r\n"), 400);
}

TEST(HttpFields, NamesAreTokens)
{
    for (const char* name : {"X(y)", "X y", "X\"y", "X/y", "X@y", "X{y}", "X\x01y", "X\xe9y", ""})
        refused(get("Host: h\r\n" + std::string(name) + ": 1\r\n"), 400);
    Request r = accepted(get("Host: h\r\nX!#$%&'*+.^`|~-9: 1\r\n"));
    EXPECT_EQ(r.param("HTTP_X!#$%&'*+.^`|~_9"), "1");
}

TEST(HttpFields, ValuesHaveNoControlBytes)
{
    for (const char* value : {"a\x01b", "a\x7f", "\x1b[0m"})
        refused(get("Host: h\r\nX: " + std::string(value) + "\r\n"), 400);
    refused(get(std::string("Host: h\r\nX: a\0b\r\n", 17)), 400);
    // obs-text is taken (RFC 9110 §5.5) and passed on as is.
    EXPECT_EQ(accepted(get("Host: h\r\nX: caf\xe9\r\n")).param("HTTP_X"), "caf\xe9");
}

// RFC 9110 §5.5: leading and trailing whitespace is not part of the value.
TEST(HttpFields, SurroundingWhitespaceIsStripped)
{
    Request r = accepted(get("Host:h\r\nX-A: \t a b \t \r\nX-B:\t\r\nX-C:  \r\nAccept: x \r\naccept:\ty\t\r\n"));
    EXPECT_EQ(r.param("HTTP_X_A"), "a b");
    EXPECT_TRUE(r.has_param("HTTP_X_B"));
    EXPECT_EQ(r.param("HTTP_X_B"), "");
    EXPECT_EQ(r.param("HTTP_X_C"), "");
    EXPECT_EQ(r.param("HTTP_ACCEPT"), "x, y");
    EXPECT_EQ(r.param("HTTP_HOST"), "h");
}

TEST(HttpFields, HostIsRequiredInHttp11AndOnlyOnce)
{
    refused(get(""), 400);
    refused(get("X: 1\r\n"), 400);
    refused(get("Host: a\r\nHost: b\r\n"), 400);
    refused(get("Host: a\r\nHost: a\r\n"), 400);
    refused("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400);
    Request r = accepted("GET / HTTP/1.0\r\n\r\n");
    EXPECT_FALSE(r.has_param("HTTP_HOST"));
    // Empty: a target without authority (RFC 9112 §3.2).
    r = accepted(get("Host:\r\n"));
    EXPECT_EQ(r.param("HTTP_HOST"), "");
    EXPECT_FALSE(r.has_param("SERVER_NAME"));
}

TEST(HttpFields, HostMustBeValid)
{
    for (const char* host : {"a b", "a/b", "a@b", "a:b:c", "a:8o", "[::1", "[::g]", "[]", "a%zz", "caf\xe9", "a\"b"})
        refused(get("Host: " + std::string(host) + "\r\n"), 400);
    for (const char* host : {"example.org", "EXAMPLE.org:80", "10.0.0.1:1", "[::1]", "[::ffff:1.2.3.4]:8", "a-b_c~d",
                             "%41", "h:", ":8"})
        EXPECT_EQ(accepted(get("Host: " + std::string(host) + "\r\n")).param("HTTP_HOST"), host);
}

// Fields whose value is one item, not a list, cannot be joined: a repeat is
// refused, equal or not (see worker/http_fields.cpp for the set).
TEST(HttpFields, RepeatedSingletonFieldsAre400)
{
    for (const char* name : {"Content-Type", "Authorization", "Proxy-Authorization", "User-Agent", "Referer",
                             "If-Modified-Since", "If-Unmodified-Since", "If-Range", "Range", "Max-Forwards", "From",
                             "Date", "Content-Location", "Content-Range"}) {
        std::string line = std::string(name) + ": v\r\n";
        refused(get("Host: h\r\n" + line + line), 400);
        accepted(get("Host: h\r\n" + line));
    }
    refused(get("Host: h\r\nContent-Type: a\r\ncontent-type: b\r\n"), 400);
}

TEST(HttpFields, ListFieldsAreJoined)
{
    Request r = accepted(get("Host: h\r\nAccept: a\r\nCookie: c=1\r\nAccept: b\r\nCookie: d=2\r\nVia: 1\r\nvia: 2\r\n"));
    EXPECT_EQ(r.param("HTTP_ACCEPT"), "a, b");
    EXPECT_EQ(r.param("HTTP_COOKIE"), "c=1; d=2");
    EXPECT_EQ(r.param("HTTP_VIA"), "1, 2");
}

TEST(HttpFields, UnderscoreNamesAreDroppedButCounted)
{
    Request r = accepted(get("Host: h\r\nX_Forwarded_For: evil\r\nX-Forwarded-For: good\r\n"));
    EXPECT_EQ(r.param("HTTP_X_FORWARDED_FOR"), "good");
    std::string many = "Host: h\r\n";
    for (uint32_t i = 1; i <= http_limits().max_header_count; ++i)
        many += "A_" + std::to_string(i) + ": 1\r\n";
    refused(get(many), 431);
}

TEST(HttpFields, CountAboveMaxHeaderCountIs431)
{
    std::string fields = "Host: h\r\n";
    for (uint32_t i = 1; i < http_limits().max_header_count; ++i)
        fields += "X-" + std::to_string(i) + ": v\r\n";
    accepted(get(fields));
    refused(get(fields + "X-last: v\r\n"), 431);
}

// max_header_size holds for any value: no compiled-in cap under it.
TEST(HttpFields, MaxHeaderSizeIsTheCodecsOnlyLimit)
{
    CodecLimits l = http_limits();
    l.max_header_size = 256 * 1024;
    const std::string big(200 * 1024, 'v');
    EXPECT_EQ(accepted(get("Host: h\r\nX: " + big + "\r\n"), l).param("HTTP_X").size(), big.size());
    refused(get("Host: h\r\nX: " + big + "\r\nY: " + std::string(60 * 1024, 'w') + "\r\n"), 431, l);
    // The whole head counts, separators and leading empty lines too.
    l.max_header_size = 100;
    std::string head = get("Host: h\r\nX: " + std::string(100 - 32, 'v') + "\r\n");
    ASSERT_EQ(head.size(), 100u);
    accepted(head, l);
    refused(head.substr(0, 27) + "v" + head.substr(27), 431, l);
    refused("\r\n" + head, 431, l);
}

// ---------------------------------------------------------------- the pieces

TEST(HttpFields, TransferCodingLists)
{
    EXPECT_EQ(classify_transfer_coding("chunked"), TransferCoding::chunked);
    EXPECT_EQ(classify_transfer_coding(" , CHUNKED ,"), TransferCoding::chunked);
    EXPECT_EQ(classify_transfer_coding("gzip, chunked"), TransferCoding::unimplemented);
    EXPECT_EQ(classify_transfer_coding("gzip,deflate,chunked"), TransferCoding::unimplemented);
    for (const char* te : {"", ",", "gzip", "chunked, gzip", "chunked, chunked", "chunked;a=b", "chunk"})
        EXPECT_EQ(classify_transfer_coding(te), TransferCoding::not_chunked) << te;
}

TEST(HttpFields, TrimOws)
{
    EXPECT_EQ(trim_ows(" \t a \t b\t "), "a \t b");
    EXPECT_EQ(trim_ows(" \t "), "");
    EXPECT_EQ(trim_ows("a"), "a");
}

TEST(HttpFields, HeaderIndexFindsWhatWasInsertedAcrossGrowthAndClears)
{
    std::vector<Param> params;
    HeaderIndex index;
    for (int i = 0; i < 1000; ++i) {
        params.emplace_back("HTTP_X_" + std::to_string(i), "");
        index.insert(HeaderIndex::hash(params.back().first), params.size() - 1);
    }
    for (int i = 0; i < 1000; ++i) {
        const std::string name = "HTTP_X_" + std::to_string(i);
        EXPECT_EQ(index.find(params, name, HeaderIndex::hash(name)), static_cast<size_t>(i));
    }
    EXPECT_EQ(index.find(params, "HTTP_Y", HeaderIndex::hash("HTTP_Y")), HeaderIndex::npos);
    index.clear();
    EXPECT_EQ(index.find(params, "HTTP_X_1", HeaderIndex::hash("HTTP_X_1")), HeaderIndex::npos);
}

} // namespace
} // namespace drover

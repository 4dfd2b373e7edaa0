#include <gtest/gtest.h>

#include "worker/cgi_response.hpp"

namespace drover {
namespace {

std::string head(int status, const char* line, HeaderList headers, int64_t length)
{
    return cgi_head(ResponseHead{status, line, &headers, length});
}

TEST(CgiResponse, HeadCarriesStatusHeadersAndAKnownLength)
{
    EXPECT_EQ(head(200, "200 OK", {{"Content-Type", "text/html"}}, 5),
              "Status: 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\n");
    EXPECT_EQ(head(200, "200 OK", {{"content-length", "5"}}, 5), "Status: 200 OK\r\ncontent-length: 5\r\n\r\n");
    EXPECT_EQ(head(200, "200 OK", {}, -1), "Status: 200 OK\r\n\r\n");
    EXPECT_EQ(head(204, "204 No Content", {}, 0), "Status: 204 No Content\r\n\r\n");
    EXPECT_EQ(head(404, "", {}, -1), "Status: 404 Not Found\r\n\r\n");
}

TEST(CgiResponse, ErrorAnswerIsCompleteAndHeadHasNoBody)
{
    EXPECT_EQ(cgi_error_response(413, false),
              "Status: 413 Content Too Large\r\nContent-Type: text/plain\r\nContent-Length: 22\r\n\r\n"
              "413 Content Too Large\n");
    EXPECT_EQ(cgi_error_response(400, true),
              "Status: 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n\r\n");
}

TEST(CgiResponse, LengthIsDigitsOnlyAndFits)
{
    EXPECT_EQ(parse_cgi_length("0"), 0);
    EXPECT_EQ(parse_cgi_length("8388608"), 8388608);
    EXPECT_EQ(parse_cgi_length("9223372036854775807"), INT64_MAX);
    EXPECT_FALSE(parse_cgi_length("9223372036854775808"));
    EXPECT_FALSE(parse_cgi_length(""));
    EXPECT_FALSE(parse_cgi_length("-1"));
    EXPECT_FALSE(parse_cgi_length("12 "));
    EXPECT_FALSE(parse_cgi_length("0x10"));
}

} // namespace
} // namespace drover

#include "worker/access_line.hpp"

#include <gtest/gtest.h>

namespace drover {
namespace {

Request request(std::vector<Param> params, Protocol protocol = Protocol::http)
{
    Request r;
    r.protocol = protocol;
    r.params = std::move(params);
    return r;
}

AccessRecord record(const Request& r)
{
    AccessRecord a;
    a.request = &r;
    a.client = "192.0.2.9";
    a.status = 200;
    a.response_bytes = 153;
    a.duration_us = 919;
    a.time_ns = 1795602531452000000LL;  // 2026-11-25T10:28:51.452Z
    a.worker_pid = 15752;
    return a;
}

TEST(AccessLine, TheCombinedLikeFields)
{
    Request r = request({{"REQUEST_METHOD", "GET"}, {"REQUEST_URI", "/a?b=1"}, {"SERVER_PROTOCOL", "HTTP/1.1"},
                         {"HTTP_USER_AGENT", "curl/7.88.1"}});
    EXPECT_EQ(format_access_line(record(r)),
              "192.0.2.9 - - [2026-11-25T10:28:51.452Z] \"GET /a?b=1 HTTP/1.1\" 200 153 \"-\" \"curl/7.88.1\" "
              "0.919 15752 http\n");
}

TEST(AccessLine, WithoutRequestUriThePathIsRebuilt)
{
    Request r = request({{"REQUEST_METHOD", "POST"}, {"SCRIPT_NAME", "/app"}, {"PATH_INFO", "/x"},
                         {"QUERY_STRING", "q=2"}, {"SERVER_PROTOCOL", "HTTP/1.0"}},
                        Protocol::scgi);
    AccessRecord a = record(r);
    a.client = "";
    EXPECT_EQ(format_access_line(a),
              "- - - [2026-11-25T10:28:51.452Z] \"POST /app/x?q=2 HTTP/1.0\" 200 153 \"-\" \"-\" 0.919 15752 scgi\n");
}

TEST(AccessLine, ClientBytesCannotForgeALine)
{
    Request r = request({{"REQUEST_METHOD", "GET"}, {"REQUEST_URI", "/\"\n1.2.3.4 - - [x] \"GET /evil"},
                         {"HTTP_REFERER", "a\\b"}, {"HTTP_USER_AGENT", "\xff\x01"}});
    std::string line = format_access_line(record(r));
    EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
    EXPECT_NE(line.find("/\\x22\\x0a1.2.3.4"), std::string::npos) << line;
    EXPECT_NE(line.find("\"a\\x5cb\""), std::string::npos) << line;
    EXPECT_NE(line.find("\"\\xff\\x01\""), std::string::npos) << line;
}

} // namespace
} // namespace drover

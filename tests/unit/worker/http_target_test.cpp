// worker/http_target.cpp: request-target forms and Host values on their own.
#include <gtest/gtest.h>

#include "worker/http_target.hpp"

namespace drover {
namespace {

TEST(HttpTarget, OriginForm)
{
    RequestTarget t;
    ASSERT_EQ(parse_request_target("/a/b?x=1?y", false, t), nullptr);
    EXPECT_EQ(t.path, "/a/b");
    EXPECT_EQ(t.query, "x=1?y");
    EXPECT_FALSE(t.absolute);
    ASSERT_EQ(parse_request_target("//a", false, t), nullptr);
    EXPECT_EQ(t.path, "//a");
    EXPECT_NE(parse_request_target("/a#b", false, t), nullptr);
}

TEST(HttpTarget, AbsoluteForm)
{
    RequestTarget t;
    ASSERT_EQ(parse_request_target("http://h:1/p?q", false, t), nullptr);
    EXPECT_EQ(t.authority, "h:1");
    EXPECT_EQ(t.path, "/p");
    EXPECT_EQ(t.query, "q");
    EXPECT_TRUE(t.absolute);
    EXPECT_FALSE(t.https);
    EXPECT_EQ(t.origin, "/p?q");
    ASSERT_EQ(parse_request_target("http://h", false, t), nullptr);
    EXPECT_EQ(t.path, "");
    EXPECT_EQ(t.origin, "");
    EXPECT_NE(t.path.data(), nullptr);
    ASSERT_EQ(parse_request_target("HtTpS://h?q", false, t), nullptr);
    EXPECT_TRUE(t.https);
    EXPECT_EQ(t.path, "");
    for (const char* bad : {"ftp://h/", "http://", "http:///p", "http://:80/", "http://u@h/", "http://h h/", "h:80",
                            "http:/h", "*", ""})
        EXPECT_NE(parse_request_target(bad, false, t), nullptr) << bad;
}

TEST(HttpTarget, AsteriskOnlyForOptions)
{
    RequestTarget t;
    EXPECT_EQ(parse_request_target("*", true, t), nullptr);
    EXPECT_EQ(t.path, "*");
    EXPECT_NE(parse_request_target("*", false, t), nullptr);
}

TEST(HttpTarget, Hosts)
{
    for (const char* ok : {"", "h", "h:", ":1", "h:80", "1.2.3.4", "[::1]", "[::1]:8", "a-b.c_d~e", "%41b", "!$&'()*+,;="})
        EXPECT_TRUE(valid_host(ok)) << ok;
    for (const char* bad : {"a b", "a/b", "a@b", "a:b:c", "h:x", "[::1", "[]", "[x]", "[::1]x", "%4", "%zz", "\xe9"})
        EXPECT_FALSE(valid_host(bad)) << bad;
    std::string_view name, port;
    EXPECT_TRUE(split_host("[::1]:8", name, port));
    EXPECT_EQ(name, "[::1]");
    EXPECT_EQ(port, "8");
    EXPECT_FALSE(split_host("[::1]", name, port));
    EXPECT_EQ(name, "[::1]");
}

} // namespace
} // namespace drover

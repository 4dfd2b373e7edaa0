#include <gtest/gtest.h>

#include "worker/codec.hpp"

namespace drover {
namespace {

std::string iov_string(const iovec& v)
{
    return std::string(static_cast<const char*>(v.iov_base), v.iov_len);
}

TEST(Output, StartsEmpty)
{
    Output out;
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(out.size(), 0u);
    EXPECT_TRUE(out.iovecs().empty());
    EXPECT_EQ(out.str(), "");
}

TEST(Output, AdjacentCopiesMergeIntoOneIovec)
{
    Output out;
    out.copy("Status: ");
    out.copy("200 OK\r\n");
    out.copy("\r\n");
    const auto iov = out.iovecs();
    ASSERT_EQ(iov.size(), 1u);
    EXPECT_EQ(iov_string(iov[0]), "Status: 200 OK\r\n\r\n");
    EXPECT_EQ(out.size(), 18u);
}

TEST(Output, BorrowPointsAtTheCallersBytes)
{
    const std::string body = "a body that is not copied";
    Output out;
    out.borrow(body);
    out.borrow(body);
    const auto iov = out.iovecs();
    ASSERT_EQ(iov.size(), 2u);  // borrowed views never merge
    EXPECT_EQ(iov[0].iov_base, body.data());
    EXPECT_EQ(iov[0].iov_len, body.size());
    EXPECT_EQ(iov[1].iov_base, body.data());
    EXPECT_EQ(out.size(), 2 * body.size());
}

TEST(Output, InterleavedPiecesKeepTheirOrder)
{
    const std::string b1 = "BODY1";
    const std::string b2 = "BODY2";
    Output out;
    out.copy("h1");
    out.borrow(b1);
    out.copy("p1");
    out.copy("h2");
    out.borrow(b2);
    out.copy("end");
    const auto iov = out.iovecs();
    ASSERT_EQ(iov.size(), 5u);
    EXPECT_EQ(iov_string(iov[0]), "h1");
    EXPECT_EQ(iov[1].iov_base, b1.data());
    EXPECT_EQ(iov_string(iov[2]), "p1h2");  // merged across the borrowed piece's end
    EXPECT_EQ(iov[3].iov_base, b2.data());
    EXPECT_EQ(iov_string(iov[4]), "end");
    EXPECT_EQ(out.str(), "h1BODY1p1h2BODY2end");
    EXPECT_EQ(out.size(), out.str().size());
}

TEST(Output, OwnedBytesSurviveGrowth)
{
    // Many copies separated by borrows force the owned buffer to reallocate;
    // iovecs must still point at the right bytes.
    const std::string sep = "|";
    Output out;
    std::string expected;
    for (int i = 0; i < 1000; ++i) {
        const std::string piece = std::to_string(i) + std::string(static_cast<size_t>(i % 7), 'x');
        out.copy(piece);
        out.borrow(sep);
        expected += piece + sep;
    }
    std::string gathered;
    for (const iovec& v : out.iovecs())
        gathered += iov_string(v);
    EXPECT_EQ(gathered, expected);
    EXPECT_EQ(out.str(), expected);
    EXPECT_EQ(out.iovecs().size(), 2000u);
}

TEST(Output, EmptyPiecesAreIgnored)
{
    Output out;
    out.copy("");
    out.borrow("");
    EXPECT_TRUE(out.empty());
    out.copy("a");
    out.borrow(std::string_view());
    out.copy("b");
    ASSERT_EQ(out.iovecs().size(), 1u);
    EXPECT_EQ(out.str(), "ab");
}

TEST(Output, ClearResets)
{
    const std::string body = "xyz";
    Output out;
    out.copy("abc");
    out.borrow(body);
    out.clear();
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(out.size(), 0u);
    EXPECT_TRUE(out.iovecs().empty());
    out.copy("new");
    ASSERT_EQ(out.iovecs().size(), 1u);
    EXPECT_EQ(out.str(), "new");
}

} // namespace
} // namespace drover

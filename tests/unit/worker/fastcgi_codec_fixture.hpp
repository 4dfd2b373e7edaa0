// What the FastCGI codec tests share: the codec under test, feeding it, and
// decoding what it answers.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "tests/unit/worker/fastcgi_records.hpp"
#include "tests/unit/worker/recording_sink.hpp"
#include "worker/codec.hpp"

namespace drover::test::fastcgi {

using test::bytewise;
using test::feed_pieces;
using test::FeedOutcome;
using test::random_splits;
using test::RecordingSink;
using test::whole;
using namespace test::fcgi_records;

inline std::map<std::string, std::string> decode_pairs(std::string_view s)
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
inline int protocol_status(const Record& r)
{
    EXPECT_EQ(r.type, fcgi::kEndRequest);
    EXPECT_EQ(r.content.size(), 8u);
    return r.content.size() == 8 ? static_cast<unsigned char>(r.content[4]) : -1;
}

inline uint32_t app_status(const Record& r)
{
    const auto* b = reinterpret_cast<const unsigned char*>(r.content.data());
    return static_cast<uint32_t>(b[0]) << 24 | static_cast<uint32_t>(b[1]) << 16 | static_cast<uint32_t>(b[2]) << 8 |
           b[3];
}

inline std::unique_ptr<Codec> codec(CodecLimits limits = {}, uint32_t max_conns = 4)
{
    return make_fastcgi_codec(limits, max_conns);
}

inline FeedOutcome feed_all(Codec& c, RecordingSink& sink, std::string_view input)
{
    return feed_pieces(c, sink, input, whole(input));
}

} // namespace drover::test::fastcgi

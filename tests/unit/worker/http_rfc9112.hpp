// Test support for the RFC 9112 rule tests of the HTTP codec: every input is
// fed whole and a byte at a time to fresh codecs, and both must tell the same
// story (events, status, error status and text).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "tests/unit/worker/recording_sink.hpp"
#include "worker/codec.hpp"

namespace drover::test {

inline CodecLimits http_limits()
{
    CodecLimits l;
    l.max_header_size = 4096;
    l.max_body_size = 1000;
    l.max_header_count = 20;
    return l;
}

struct Fed {
    FeedOutcome outcome;
    std::vector<Request> requests;
    std::string body;
};

/// Feeds input whole and byte by byte; expects both to agree, returns the first.
inline Fed feed_both_ways(std::string_view input, const CodecLimits& limits = http_limits())
{
    RecordingSink a, b;
    auto whole_codec = make_http_codec(limits);
    auto byte_codec = make_http_codec(limits);
    const FeedOutcome w = feed_pieces(*whole_codec, a, input, whole(input));
    const FeedOutcome s = feed_pieces(*byte_codec, b, input, bytewise(input));
    EXPECT_EQ(w.events, s.events) << "byte by byte differs: " << input;
    EXPECT_EQ(w.status, s.status) << input;
    EXPECT_EQ(w.error_status, s.error_status) << input;
    EXPECT_EQ(w.error, s.error) << input;
    if (w.status != ParseStatus::error) {
        EXPECT_EQ(w.consumed, s.consumed) << input;
    }
    return Fed{w, std::move(a.requests), a.body};
}

/// The input must be refused with status, whole and byte by byte; no request
/// reaches the app unless refused_after_request.
inline Fed refused(std::string_view input, int status, const CodecLimits& limits = http_limits(),
                   bool refused_after_request = false)
{
    Fed f = feed_both_ways(input, limits);
    EXPECT_EQ(f.outcome.status, ParseStatus::error) << input;
    EXPECT_EQ(f.outcome.error_status, status) << input << " -> " << f.outcome.error;
    EXPECT_FALSE(f.outcome.error.empty());
    if (!refused_after_request) {
        EXPECT_TRUE(f.requests.empty()) << input;
    }
    return f;
}

/// The input must be one complete request, whole and byte by byte.
inline Request accepted(std::string_view input, const CodecLimits& limits = http_limits())
{
    Fed f = feed_both_ways(input, limits);
    EXPECT_EQ(f.outcome.status, ParseStatus::paused) << input << " -> " << f.outcome.error;
    EXPECT_EQ(f.requests.size(), 1u) << input;
    return f.requests.empty() ? Request{} : std::move(f.requests[0]);
}

/// A POST with the given extra field lines and body bytes.
inline std::string post(std::string_view fields, std::string_view body)
{
    return "POST /p HTTP/1.1\r\nHost: h\r\n" + std::string(fields) + "\r\n" + std::string(body);
}

inline std::string chunked(std::string_view body)
{
    return post("Transfer-Encoding: chunked\r\n", body);
}

} // namespace drover::test

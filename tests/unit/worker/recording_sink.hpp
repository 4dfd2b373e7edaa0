// Test support for codec tests: a RequestSink that records events as a
// comparable list, and a feeder that splits input the way reads would.
#pragma once

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "worker/codec.hpp"

namespace drover::test {

inline std::string hex(std::string_view bytes)
{
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        out += kHex[u >> 4];
        out += kHex[u & 0xf];
    }
    return out;
}

inline std::string describe(const Request& r)
{
    std::string out = "request proto=" + std::to_string(static_cast<int>(r.protocol)) +
                      " cl=" + std::to_string(r.content_length) + " head=" + (r.head ? "1" : "0") + " [";
    for (const auto& [k, v] : r.params)
        out += hex(k) + "=" + hex(v) + ";";
    return out + "]";
}

/// Records every event. Consecutive on_body chunks merge into one "body:"
/// event: a stream's value does not depend on how it was cut.
class RecordingSink : public RequestSink {
public:
    std::vector<std::string> events;
    std::vector<Request> requests;
    std::vector<std::string> replies;
    std::string body;
    int body_ends = 0;
    int aborts = 0;

    void on_request(Request&& request) override
    {
        events.push_back(describe(request));
        requests.push_back(std::move(request));
    }
    void on_body(std::string_view chunk) override
    {
        body.append(chunk);
        if (!events.empty() && events.back().rfind("body:", 0) == 0)
            events.back().append(chunk);
        else
            events.push_back("body:" + std::string(chunk));
    }
    void on_body_end() override
    {
        ++body_ends;
        events.push_back("body_end");
    }
    void on_abort() override
    {
        ++aborts;
        events.push_back("abort");
    }
    void on_reply(std::string_view bytes) override
    {
        replies.emplace_back(bytes);
        events.push_back("reply:" + hex(bytes));
    }
};

struct FeedOutcome {
    std::vector<std::string> events;
    ParseStatus status = ParseStatus::more;
    size_t consumed = 0;  ///< of the whole input
    int error_status = 0;
    std::string error;

    bool operator==(const FeedOutcome&) const = default;
};

/// Feeds input in pieces of the given sizes (the rest as one last piece), as
/// a connection does: unconsumed bytes are kept and fed again with the next
/// piece. Stops at the first paused or error.
inline FeedOutcome feed_pieces(Codec& codec, RecordingSink& sink, std::string_view input,
                               const std::vector<size_t>& sizes)
{
    FeedOutcome out;
    std::string pending;
    size_t offset = 0;
    size_t piece = 0;
    while (offset < input.size()) {
        size_t n = piece < sizes.size() ? sizes[piece++] : input.size() - offset;
        n = std::min(n, input.size() - offset);
        pending.append(input.substr(offset, n));
        offset += n;
        ParseResult r = codec.feed(pending, sink);
        out.consumed += r.consumed;
        pending.erase(0, r.consumed);
        out.status = r.status;
        if (r.status != ParseStatus::more) {
            out.error_status = r.error_status;
            out.error = r.error;
            break;
        }
    }
    out.events = sink.events;
    return out;
}

inline std::vector<size_t> whole(std::string_view input)
{
    return {input.size()};
}

inline std::vector<size_t> bytewise(std::string_view input)
{
    return std::vector<size_t>(input.size(), 1);
}

inline std::vector<size_t> random_splits(std::string_view input, uint32_t seed)
{
    std::mt19937 rng(seed);
    std::uniform_int_distribution<size_t> dist(1, 13);
    std::vector<size_t> sizes;
    for (size_t total = 0; total < input.size();) {
        sizes.push_back(dist(rng));
        total += sizes.back();
    }
    return sizes;
}

} // namespace drover::test

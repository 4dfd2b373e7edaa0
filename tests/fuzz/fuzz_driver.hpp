// Shared libFuzzer driver for the codecs: feeds arbitrary bytes to a fresh
// codec the way a connection does (pieces, keeping unconsumed bytes, resuming
// after paused), answers every request through write_head/write_body/
// write_end, and reads every output byte so ASan sees dangling borrows.
//
// Input layout: byte 0 picks when the response is written (inside
// on_request, inside on_body_end, or after feed returns) and whether the body
// is large; byte 1 is the feed piece size (0: all at once); the rest is the
// protocol stream. Interface contracts are checked with abort(), so a broken
// contract is a crash like any other.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "worker/codec.hpp"

namespace drover::fuzz {

#define DROVER_FUZZ_CHECK(cond)                                                                                       \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            std::abort();                                                                                              \
    } while (0)

enum class Respond { in_on_request, in_on_body_end, after_feed };

/// What a codec promises beyond the common interface.
struct Contract {
    bool may_pause = true;         ///< FastCGI never returns paused
    int max_requests = 1 << 30;    ///< SCGI: one per connection
};

inline const std::string& large_body()
{
    static const std::string body(70000, 'b');  // more than one FastCGI record
    return body;
}

class FuzzSink final : public RequestSink {
public:
    FuzzSink(Codec& codec, Respond respond, bool large) : codec_(codec), respond_(respond), large_(large) {}

    void on_request(Request&& request) override
    {
        DROVER_FUZZ_CHECK(request.protocol == codec_.protocol());
        for (const auto& [name, value] : request.params)
            checksum_ += name.size() + value.size() + (value.empty() ? 0 : static_cast<unsigned char>(value[0]));
        ++requests_;
        unanswered_ = true;
        if (respond_ == Respond::in_on_request)
            answer();
    }
    void on_body(std::string_view chunk) override
    {
        DROVER_FUZZ_CHECK(requests_ > 0);
        if (!chunk.empty())
            checksum_ += static_cast<unsigned char>(chunk.front()) + static_cast<unsigned char>(chunk.back());
    }
    void on_body_end() override
    {
        DROVER_FUZZ_CHECK(requests_ > 0);
        if (respond_ == Respond::in_on_body_end)
            answer();
    }
    void on_abort() override
    {
        DROVER_FUZZ_CHECK(requests_ > 0);
        answer();
    }
    void on_reply(std::string_view bytes) override { consume(bytes); }

    /// The response to the current request, if it has none yet.
    void answer()
    {
        if (!unanswered_)
            return;
        unanswered_ = false;
        HeaderList headers = {{"Content-Type", "text/plain"}, {"X-Fuzz", "1"}};
        codec_.write_head(ResponseHead{200, "200 OK", &headers, -1}, out_);
        codec_.write_body("hello", out_);
        if (large_)
            codec_.write_body(large_body(), out_);
        codec_.write_body({}, out_);
        codec_.write_end(out_);
        flush();
        (void)codec_.keep_alive();
        (void)codec_.raw_body();
    }

    void error(int status)
    {
        codec_.write_error(status, out_);
        flush();
    }

    int requests() const { return requests_; }

private:
    void flush()
    {
        size_t total = 0;
        for (const iovec& v : out_.iovecs()) {
            consume(std::string_view(static_cast<const char*>(v.iov_base), v.iov_len));
            total += v.iov_len;
        }
        DROVER_FUZZ_CHECK(total == out_.size());
        out_.clear();
    }
    void consume(std::string_view bytes)
    {
        // Touch every byte (memcpy through a small buffer): ASan flags a view
        // into freed memory.
        char buf[4096];
        while (!bytes.empty()) {
            const size_t n = std::min(bytes.size(), sizeof buf);
            std::memcpy(buf, bytes.data(), n);
            checksum_ += static_cast<unsigned char>(buf[n - 1]);
            bytes.remove_prefix(n);
        }
    }

    Codec& codec_;
    const Respond respond_;
    const bool large_;
    Output out_;
    int requests_ = 0;
    bool unanswered_ = false;
    uint64_t checksum_ = 0;
};

inline void drive(Codec& codec, const uint8_t* data, size_t size, const Contract& contract)
{
    if (size < 2)
        return;
    const auto respond = static_cast<Respond>(data[0] % 3);
    const bool large = (data[0] & 0x8) != 0;
    const size_t piece = data[1] == 0 ? size : data[1];
    const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);

    FuzzSink sink(codec, respond, large);
    std::string pending;
    size_t offset = 0;
    int stalls = 0;
    for (;;) {
        if (offset < input.size()) {
            const size_t n = std::min(piece, input.size() - offset);
            pending.append(input.substr(offset, n));
            offset += n;
        } else if (pending.empty()) {
            break;
        }
        const ParseResult r = codec.feed(pending, sink);
        DROVER_FUZZ_CHECK(r.consumed <= pending.size());
        pending.erase(0, r.consumed);
        DROVER_FUZZ_CHECK(sink.requests() <= contract.max_requests);
        if (r.status == ParseStatus::error) {
            DROVER_FUZZ_CHECK(!r.error.empty());
            DROVER_FUZZ_CHECK(r.error_status == 0 || (r.error_status >= 400 && r.error_status < 600));
            if (r.error_status != 0)
                sink.error(r.error_status);
            return;
        }
        if (respond == Respond::after_feed)
            sink.answer();
        if (r.status == ParseStatus::paused) {
            DROVER_FUZZ_CHECK(contract.may_pause);
            sink.answer();
            codec.resume();
            if (r.consumed == 0 && ++stalls > 2)
                return;
            continue;
        }
        // ParseStatus::more: everything was consumed.
        DROVER_FUZZ_CHECK(pending.empty());
        if (offset >= input.size())
            break;
    }
    sink.answer();
}

} // namespace drover::fuzz

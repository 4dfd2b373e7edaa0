// libFuzzer target: the HTTP/1.1 codec on arbitrary bytes (see fuzz_driver.hpp).
// Pipelined requests are answered one by one: paused, respond, resume, feed on.
//
// Then a differential check: the same stream fed whole and in pieces of
// data[1] bytes (1 when 0) must give the same events and the same outcome.
// The codec's rules run in llhttp callbacks and at the ends of feeds; where a
// read happens to end must never change what a request means or how it is
// refused.
#include "tests/fuzz/fuzz_driver.hpp"

namespace {

class Trace final : public drover::RequestSink {
public:
    std::string log;

    void on_request(drover::Request&& r) override
    {
        log += "\nrequest " + std::to_string(r.content_length) + (r.head ? " head" : "");
        for (const auto& [name, value] : r.params)
            log.append(" ").append(name).append("=").append(value);
        in_body_ = false;
    }
    void on_body(std::string_view chunk) override
    {
        if (!in_body_)
            log += "\nbody ";
        log.append(chunk);  // chunks merge: their cut is the input's, not the request's
        in_body_ = true;
    }
    void on_body_end() override { event("body_end"); }
    void on_reply(std::string_view bytes) override { event("reply " + std::string(bytes)); }

    void event(const std::string& e)
    {
        log += "\n" + e;
        in_body_ = false;
    }

private:
    bool in_body_ = false;
};

std::string trace(const drover::CodecLimits& limits, std::string_view input, size_t piece)
{
    auto codec = drover::make_http_codec(limits);
    Trace t;
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
        const drover::ParseResult r = codec->feed(pending, t);
        pending.erase(0, r.consumed);
        if (r.status == drover::ParseStatus::error) {
            t.event("error " + std::to_string(r.error_status) + " " + r.error);
            break;
        }
        if (r.status == drover::ParseStatus::paused) {
            t.event("paused");
            codec->resume();
            if (r.consumed == 0 && ++stalls > 2)
                break;
            continue;
        }
        if (offset >= input.size())
            break;
    }
    return t.log;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    drover::CodecLimits limits;
    limits.max_header_size = 4096;
    limits.max_body_size = 8192;
    limits.max_header_count = 20;
    auto codec = drover::make_http_codec(limits);
    drover::fuzz::drive(*codec, data, size, drover::fuzz::Contract{});

    if (size < 2)
        return 0;
    const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
    const size_t piece = data[1] == 0 ? 1 : data[1];
    DROVER_FUZZ_CHECK(trace(limits, input, input.size() + 1) == trace(limits, input, piece));
    return 0;
}

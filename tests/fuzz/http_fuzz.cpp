// libFuzzer target: the HTTP/1.1 codec on arbitrary bytes (see fuzz_driver.hpp).
// Pipelined requests are answered one by one: paused, respond, resume, feed on.
#include "tests/fuzz/fuzz_driver.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    drover::CodecLimits limits;
    limits.max_header_size = 4096;
    limits.max_body_size = 8192;
    auto codec = drover::make_http_codec(limits);
    drover::fuzz::drive(*codec, data, size, drover::fuzz::Contract{});
    return 0;
}

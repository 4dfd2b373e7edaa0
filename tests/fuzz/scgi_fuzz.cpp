// libFuzzer target: the SCGI codec on arbitrary bytes (see fuzz_driver.hpp).
#include "tests/fuzz/fuzz_driver.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    drover::CodecLimits limits;
    limits.max_header_size = 4096;
    limits.max_body_size = 8192;
    auto codec = drover::make_scgi_codec(limits);
    drover::fuzz::drive(*codec, data, size, drover::fuzz::Contract{true, 1});
    return 0;
}

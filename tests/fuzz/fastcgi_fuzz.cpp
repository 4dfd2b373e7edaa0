// libFuzzer target: the FastCGI codec on arbitrary bytes (see fuzz_driver.hpp).
#include "tests/fuzz/fuzz_driver.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    drover::CodecLimits limits;
    limits.max_header_size = 4096;  // small limits reach the 431/413 paths
    limits.max_body_size = 8192;
    auto codec = drover::make_fastcgi_codec(limits, 8);
    drover::fuzz::drive(*codec, data, size, drover::fuzz::Contract{false, 1 << 30});
    return 0;
}

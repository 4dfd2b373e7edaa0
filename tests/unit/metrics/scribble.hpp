// What a worker running broken or hostile code can do to the scoreboard:
// write anything anywhere in the shared mapping, header included.
#pragma once

#include <cstdint>
#include <random>

#include "ipc/scoreboard.hpp"

namespace drover::test {

/// Fills the whole shared mapping with random bytes from `seed`.
inline void scribble(const Scoreboard& sb, uint64_t seed)
{
    std::mt19937_64 random(seed);
    auto* bytes = static_cast<unsigned char*>(const_cast<void*>(sb.mapping()));
    for (size_t i = 0; i < sb.mapping_size(); ++i)
        bytes[i] = static_cast<unsigned char>(random());
}

} // namespace drover::test

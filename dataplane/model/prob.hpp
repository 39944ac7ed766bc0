// Probabilities as 64-bit thresholds: an event of probability p happens when a uniform draw < threshold.
#pragma once

#include <cstdint>

namespace stasis::dataplane::model {

__extension__ typedef unsigned __int128 u128;
__extension__ typedef __int128 i128;

// round(p * 2^64), 0 for p <= 0 (or NaN), saturated to UINT64_MAX for p >= 1.
uint64_t threshold_of(double p) noexcept;

// UINT64_MAX means certain, so p = 1 always happens (a plain `<` would miss once in 2^64).
inline bool happens(uint64_t draw, uint64_t threshold) noexcept
{
    return draw < threshold || threshold == UINT64_MAX;
}

}  // namespace stasis::dataplane::model

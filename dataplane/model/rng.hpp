// The pipe's random source: xoshiro256** seeded through splitmix64 (Vigna), small, fast, reproducible.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace stasis::dataplane::model {

using rng_state = std::array<uint64_t, 4>;

constexpr uint64_t splitmix64(uint64_t &x) noexcept
{
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// splitmix64 spreads any seed (0 included) over the 256-bit state, never all zeros in practice.
constexpr rng_state seed_rng(uint64_t seed) noexcept
{
    rng_state s{};
    for (auto &w : s)
        w = splitmix64(seed);
    return s;
}

// One uniform 64-bit draw (xoshiro256**).
constexpr uint64_t next(rng_state &s) noexcept
{
    const uint64_t result = std::rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = std::rotl(s[3], 45);
    return result;
}

}  // namespace stasis::dataplane::model

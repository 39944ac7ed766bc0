// Jitter samples: netem's distributions (uniform, normal, pareto, paretonormal). The non-uniform ones
// use integer inverse-CDF tables built once with double math; per packet it is a lookup and a multiply.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "prob.hpp"
#include "stasis/dataplane/pipe_params.hpp"

namespace stasis::dataplane::model {

inline constexpr int jitter_table_bits = 12;
inline constexpr size_t jitter_table_size = size_t(1) << jitter_table_bits;
inline constexpr int jitter_scale_bits = 16;  // an entry is value * 2^16, value in units of jitter_ns

using jitter_table = std::array<int32_t, jitter_table_size>;

// The table of a distribution (nullptr for uniform, which needs none); built on the first call.
const int32_t *jitter_table_of(jitter_dist d) noexcept;

struct jitter_consts {
    int64_t scale_ns = 0;            // 0: no jitter, no draw
    const int32_t *table = nullptr;  // nullptr: uniform
};

jitter_consts compile_jitter(const pipe_params &p) noexcept;

// One sample for one 64-bit draw: uniform on the integers of [-j, +j], else table[top 12 bits] * j.
inline int64_t jitter_sample(const jitter_consts &c, uint64_t draw) noexcept
{
    const int64_t j = c.scale_ns;
    if (c.table == nullptr)
        return int64_t((u128(draw) * (2 * uint64_t(j) + 1)) >> 64) - j;
    const i128 v = i128(c.table[draw >> (64 - jitter_table_bits)]) * j;
    return int64_t((v + (i128(1) << (jitter_scale_bits - 1))) >> jitter_scale_bits);  // rounded
}

}  // namespace stasis::dataplane::model

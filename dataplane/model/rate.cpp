// Bandwidth server constants and the 128-bit fallback.
#include "rate.hpp"

#include <algorithm>

namespace stasis::dataplane::model {

namespace {
constexpr uint64_t end_max_step = uint64_t(1) << 62;  // keeps int64 instants far from overflow
}

rate_consts compile_rate(uint64_t rate_bps) noexcept
{
    rate_consts c;
    c.rate_bps = rate_bps;
    if (rate_bps == 0)
        return c;
    c.byte_ns = bits_ns_per_byte / rate_bps;
    c.byte_rem = bits_ns_per_byte % rate_bps;
    c.inv = UINT64_MAX / rate_bps;
    // rem + len*byte_rem must fit in 64 bits (rem < rate), len*byte_ns must stay below 2^62.
    uint64_t len_max = UINT32_MAX;
    if (c.byte_rem != 0)
        len_max = std::min(len_max, (UINT64_MAX - (rate_bps - 1)) / c.byte_rem);
    if (c.byte_ns != 0)
        len_max = std::min(len_max, end_max_step / c.byte_ns);
    c.fast_len_max = uint32_t(len_max);
    return c;
}

void serve_slow(const rate_consts &c, uint32_t len, int64_t &end_ns, uint64_t &rem) noexcept
{
    const u128 total = u128(rem) + u128(len) * bits_ns_per_byte;
    const u128 q = total / c.rate_bps;
    rem = uint64_t(total % c.rate_bps);
    end_ns += int64_t(q < end_max_step ? uint64_t(q) : end_max_step);
}

}  // namespace stasis::dataplane::model

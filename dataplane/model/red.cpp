// RED constants from Emulab's parameters, and the idle decay of the average.
#include "red.hpp"

#include <cmath>

#include "rate.hpp"

namespace stasis::dataplane::model {

namespace {

constexpr uint64_t one_q32 = uint64_t(1) << 32;

uint64_t q32_of(double x) noexcept
{
    if (!(x > 0))
        return 0;
    const double v = std::round(std::ldexp(x, 32));
    return v >= 18446744073709551616.0 ? UINT64_MAX : uint64_t(v);
}

uint64_t q64_of(double x) noexcept
{
    if (!(x > 0))
        return 0;
    const double v = std::round(std::ldexp(x, 64));
    return v >= 18446744073709551616.0 ? UINT64_MAX : uint64_t(v);
}

uint64_t mul_q32(uint64_t a, uint64_t b) noexcept
{
    const u128 v = (u128(a) * b) >> 32;
    return v > UINT64_MAX ? UINT64_MAX : uint64_t(v);
}

}  // namespace

red_consts compile_red(const pipe_params &p) noexcept
{
    red_consts c;
    c.kind = p.aqm;
    c.bytes = p.queue_bytes != 0;
    const double w = p.red.q_weight < 0 ? 0 : p.red.q_weight > 1 ? 1 : p.red.q_weight;
    c.w_q32 = q32_of(w);
    const double max_p = 1.0 / (p.red.linterm ? p.red.linterm : 1);  // linterm 0 read as 1
    c.min_q32 = q32_of(p.red.thresh);
    c.max_q32 = q32_of(p.red.maxthresh);
    c.max2_q32 = q32_of(2 * p.red.maxthresh);
    c.max_p_q32 = q32_of(max_p);
    const double range = p.red.maxthresh - p.red.thresh;
    c.slope_q64 = range > 0 ? q64_of(max_p / range) : UINT64_MAX;
    c.gslope_q64 = p.red.maxthresh > 0 ? q64_of((1 - max_p) / p.red.maxthresh) : UINT64_MAX;
    c.rate_bps = p.rate_bps;
    return c;
}

uint64_t red_decay(const red_consts &c, uint64_t avg_q32, int64_t idle_ns) noexcept
{
    if (c.rate_bps == 0)
        return 0;  // unlimited rate: a typical packet takes no time, any idle period empties avg
    if (idle_ns <= 0)
        return avg_q32;
    // m = idle / (512 B * 8e9 / rate) = idle * rate / (512 * 8e9)
    const u128 m128 = u128(uint64_t(idle_ns)) * c.rate_bps / (red_typical_bytes * bits_ns_per_byte);
    if (m128 > UINT64_MAX)  // (1-w)^m underflowed to 0 long before
        return c.w_q32 == 0 ? avg_q32 : 0;
    uint64_t m = uint64_t(m128);
    uint64_t factor = one_q32, base = one_q32 - c.w_q32;
    while (m != 0 && factor != 0) {  // at most 64 turns
        if (m & 1)
            factor = mul_q32(factor, base);
        m >>= 1;
        base = mul_q32(base, base);
    }
    return mul_q32(avg_q32, factor);
}

}  // namespace stasis::dataplane::model

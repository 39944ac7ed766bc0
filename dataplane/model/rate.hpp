// The bandwidth server's exact arithmetic. Serializing len bytes takes len*8e9/rate_bps ns; the server's
// end is kept as whole ns plus a remainder in units of 1/rate_bps ns, so no rounding ever accumulates.
#pragma once

#include <cstdint>

#include "prob.hpp"

namespace stasis::dataplane::model {

inline constexpr uint64_t bits_ns_per_byte = 8'000'000'000;  // 8 bits * 1e9 ns/s

struct rate_consts {
    uint64_t rate_bps = 0;      // 0 = unlimited
    uint64_t byte_ns = 0;       // 8e9 / rate: whole ns per byte
    uint64_t byte_rem = 0;      // 8e9 % rate
    uint64_t inv = 0;           // floor((2^64 - 1) / rate): division by the rate as a multiplication
    uint32_t fast_len_max = 0;  // longest packet the 64-bit path serves without overflow
};

rate_consts compile_rate(uint64_t rate_bps) noexcept;

// x / rate and x % rate without a division instruction: the estimate from the reciprocal is at most
// one short (inv*rate > 2^64 - 1 - rate), so one correction step suffices.
inline uint64_t divmod(const rate_consts &c, uint64_t x, uint64_t &rem) noexcept
{
    uint64_t q = uint64_t((u128(x) * c.inv) >> 64);
    uint64_t r = x - q * c.rate_bps;
    if (r >= c.rate_bps) {
        r -= c.rate_bps;
        q++;
    }
    rem = r;
    return q;
}

// Rare path: huge packets or very low rates, exact in 128 bits.
void serve_slow(const rate_consts &c, uint32_t len, int64_t &end_ns, uint64_t &rem) noexcept;

// A packet of len bytes arrives at t behind a server busy until end_ns + rem/rate; moves the end to the
// end of this packet's serialization.
inline void serve(const rate_consts &c, int64_t t, uint32_t len, int64_t &end_ns, uint64_t &rem) noexcept
{
    if (t > end_ns) {  // rem < rate: the exact end is before end_ns + 1 <= t, the server is idle
        end_ns = t;
        rem = 0;
    }
    if (c.rate_bps == 0) {
        rem = 0;
        return;
    }
    if (len > c.fast_len_max) [[unlikely]] {
        serve_slow(c, len, end_ns, rem);
        return;
    }
    const uint64_t q = divmod(c, rem + uint64_t(len) * c.byte_rem, rem);
    end_ns += int64_t(uint64_t(len) * c.byte_ns + q);
}

// serve() for runs of packets of one length: the step that len bytes add (whole ns and the remainder
// in 1/rate ns) is computed when the length changes, then each packet is two additions and a carry.
// The same ends as serve() (Determinism.BurstsEqualOneByOne checks the loop that uses it).
struct rate_step {
    uint32_t len = UINT32_MAX;
    uint64_t ns = 0, rem = 0;
};

inline void serve_stepped(const rate_consts &c, int64_t t, uint32_t len, int64_t &end_ns, uint64_t &rem,
                          rate_step &step) noexcept
{
    if (t > end_ns) {
        end_ns = t;
        rem = 0;
    }
    if (c.rate_bps == 0) {
        rem = 0;  // unlimited: served at once
        return;
    }
    if (len > c.fast_len_max) [[unlikely]] {
        serve_slow(c, len, end_ns, rem);
        return;
    }
    if (len != step.len) [[unlikely]] {
        step.len = len;
        const uint64_t q = divmod(c, uint64_t(len) * c.byte_rem, step.rem);
        step.ns = uint64_t(len) * c.byte_ns + q;
    }
    rem += step.rem;
    end_ns += int64_t(step.ns);
    if (rem >= c.rate_bps) {
        rem -= c.rate_bps;
        end_ns++;
    }
}

}  // namespace stasis::dataplane::model

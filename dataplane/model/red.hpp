// RED and Gentle RED (Floyd-Jacobson, with Dummynet's/Emulab's parameters) in fixed point.
//
// avg is Q32 (value * 2^32), thresholds likewise, in packets for a slot queue and bytes for a byte queue.
// p_b is Q32; the drop test p_a = p_b / (1 - count*p_b) > draw/2^64 is done by cross-multiplication,
// so there is no division and no floating point per packet.
#pragma once

#include <cstdint>

#include "prob.hpp"
#include "rng.hpp"
#include "stasis/dataplane/pipe_params.hpp"

namespace stasis::dataplane::model {

// Idle decay: an empty queue ages avg by (1-w_q)^m, m = idle time / transmission time of a typical
// packet; 512 bytes is Dummynet's default (net.inet.ip.dummynet.red_avg_pkt_size).
inline constexpr uint64_t red_typical_bytes = 512;

struct red_consts {
    aqm_kind kind = aqm_kind::droptail;
    bool bytes = false;       // thresholds in bytes (byte-limited queue)
    uint64_t w_q32 = 0;       // q_weight * 2^32
    uint64_t min_q32 = 0;     // thresh * 2^32
    uint64_t max_q32 = 0;     // maxthresh * 2^32
    uint64_t max2_q32 = 0;    // 2 * maxthresh * 2^32 (gentle: drop all above)
    uint64_t max_p_q32 = 0;   // 1/linterm * 2^32
    uint64_t slope_q64 = 0;   // max_p / (max - min) per unit of avg, * 2^64 (saturated)
    uint64_t gslope_q64 = 0;  // (1 - max_p) / max per unit of avg, * 2^64 (saturated)
    uint64_t rate_bps = 0;    // for the idle decay; 0 = unlimited: an empty queue resets avg to 0
};

red_consts compile_red(const pipe_params &p) noexcept;

// avg * (1-w_q)^m for an idle period of idle_ns (exponentiation by squaring, Q32, floor at each step).
uint64_t red_decay(const red_consts &c, uint64_t avg_q32, int64_t idle_ns) noexcept;

// draw/2^64 < p_b/denom (both Q32), cross-multiplied: no division.
inline bool happens_red(uint64_t draw, uint64_t p_b_q32, i128 denom_q32) noexcept
{
    return u128(draw) * u128(denom_q32) < (u128(p_b_q32) << 64);
}

// The AQM decision for an arriving packet seeing q (packets or bytes) queued; `empty` says whether the
// queue holds no packet, idle_ns how long it has been empty. Updates avg and count; true: drop.
// One draw, only in the probabilistic region.
inline bool red_drop(const red_consts &c, uint64_t &avg, int64_t &count, uint64_t q, bool empty,
                     int64_t idle_ns, rng_state &rng) noexcept
{
    if (!empty) {
        if (q > UINT32_MAX)
            q = UINT32_MAX;  // keeps avg (Q32) within 64 bits
        avg = uint64_t((u128(avg) * ((uint64_t(1) << 32) - c.w_q32) + (u128(q) << 32) * c.w_q32) >> 32);
    } else if (avg != 0) {
        avg = red_decay(c, avg, idle_ns);
    }

    if (avg < c.min_q32) {
        count = -1;
        return false;
    }
    uint64_t p_b;
    if (avg < c.max_q32) {
        p_b = uint64_t((u128(avg - c.min_q32) * c.slope_q64) >> 64);
    } else if (c.kind == aqm_kind::gred && avg < c.max2_q32) {
        p_b = c.max_p_q32 + uint64_t((u128(avg - c.max_q32) * c.gslope_q64) >> 64);
    } else {
        count = 0;
        return true;
    }
    if (p_b > (uint64_t(1) << 32))
        p_b = uint64_t(1) << 32;

    count++;
    const i128 denom = (i128(1) << 32) - i128(count) * p_b;  // (1 - count*p_b) in Q32
    if (denom <= 0 || happens_red(next(rng), p_b, denom)) {
        count = 0;
        return true;
    }
    return false;
}

}  // namespace stasis::dataplane::model

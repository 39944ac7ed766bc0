// Helpers of the model tests: arrival traces from an RNG independent of the model's, and runs.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "stasis/dataplane/pipe_model.hpp"

namespace stasis::dataplane::test {

__extension__ typedef unsigned __int128 u128;

struct arrival {
    int64_t t;
    uint32_t len;
};

inline constexpr int64_t ms = 1'000'000;
inline constexpr int64_t us = 1'000;

// Bursty traffic: exponential gaps around mean_gap_ns, now and then a burst at one instant or a long
// idle period; lengths 40..1500 bytes with some jumbo frames.
inline std::vector<arrival> random_trace(uint64_t seed, size_t n, int64_t mean_gap_ns, int64_t start_ns = ms)
{
    std::mt19937_64 g(seed);
    std::exponential_distribution<double> gap(1.0 / double(mean_gap_ns));
    std::uniform_int_distribution<uint32_t> len(40, 1500);
    std::uniform_int_distribution<int> event(0, 99);
    std::vector<arrival> v;
    v.reserve(n);
    int64_t t = start_ns;
    while (v.size() < n) {
        const int e = event(g);
        if (e == 0)
            t += 200 * mean_gap_ns;  // idle
        else if (e > 5)
            t += int64_t(gap(g));    // else: same instant as the previous one (a burst)
        v.push_back({t, e == 1 ? 9000u : len(g)});
    }
    return v;
}

inline std::vector<verdict> run(pipe_model &m, const std::vector<arrival> &trace, size_t from = 0,
                                size_t to = SIZE_MAX, int64_t shift_ns = 0)
{
    std::vector<verdict> out;
    for (size_t i = from; i < trace.size() && i < to; i++)
        out.push_back(m.arrive(trace[i].t + shift_ns, trace[i].len));
    return out;
}

inline pipe_params rated(uint64_t rate_bps, int64_t delay_ns = 0, uint32_t slots = 50)
{
    pipe_params p;
    p.rate_bps = rate_bps;
    p.delay_ns = delay_ns;
    p.queue_slots = slots;
    return p;
}

}  // namespace stasis::dataplane::test

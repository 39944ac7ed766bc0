// Jitter: the distributions' moments and bounds, and the two guarantees: no reordering, no departure
// before the packet's serialization ends.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "trace.hpp"

namespace stasis::dataplane::test {
namespace {

pipe_params jittery(jitter_dist d, int64_t delay_ns, int64_t jitter_ns, uint64_t seed)
{
    pipe_params p;
    p.delay_ns = delay_ns;
    p.jitter_ns = jitter_ns;
    p.jitter = d;
    p.seed = seed;
    return p;
}

// Samples of the added delay, with arrivals far enough apart that the FIFO clamp never acts.
std::vector<double> samples(jitter_dist d, int64_t j, size_t n, uint64_t seed)
{
    const int64_t delay = 10 * j;
    pipe_model m(jittery(d, delay, j, seed));
    std::vector<double> v;
    for (size_t i = 0; i < n; i++) {
        const int64_t t = int64_t(i) * 20 * j;
        v.push_back(double(m.arrive(t, 100).depart_ns - t - delay) / double(j));
    }
    return v;
}

struct moments {
    double mean, sd, min, max;
};

moments moments_of(const std::vector<double> &v)
{
    double s = 0, sq = 0;
    for (double x : v)
        s += x, sq += x * x;
    const double n = double(v.size()), mean = s / n;
    return {mean, std::sqrt(sq / n - mean * mean), *std::min_element(v.begin(), v.end()),
            *std::max_element(v.begin(), v.end())};
}

double fraction_above(const std::vector<double> &v, double x)
{
    return double(std::count_if(v.begin(), v.end(), [x](double y) { return y > x; })) / double(v.size());
}

constexpr size_t n = 200'000;
constexpr int64_t j = 1 * ms;

TEST(Jitter, Uniform)
{
    const auto v = samples(jitter_dist::uniform, j, n, 41);
    const moments m = moments_of(v);
    const double se = 1 / std::sqrt(3.0 * n);
    EXPECT_NEAR(m.mean, 0, 5 * se);
    EXPECT_NEAR(m.sd, 1 / std::sqrt(3.0), 0.01);
    EXPECT_GE(m.min, -1.0);
    EXPECT_LE(m.max, 1.0);
    EXPECT_LT(m.min, -0.999);
    EXPECT_GT(m.max, 0.999);
}

TEST(Jitter, Normal)
{
    const auto v = samples(jitter_dist::normal, j, n, 42);
    const moments m = moments_of(v);
    EXPECT_NEAR(m.mean, 0, 5 / std::sqrt(double(n)));
    EXPECT_NEAR(m.sd, 1, 0.01);
    EXPECT_NEAR(fraction_above(v, 1), 0.1587, 0.005);  // one-sided tail beyond one sigma
    EXPECT_NEAR(fraction_above(v, 2), 0.0228, 0.002);
    EXPECT_GT(m.min, -3.8);  // the table stops at the 1/8192 quantile
}

TEST(Jitter, Pareto)
{
    const auto v = samples(jitter_dist::pareto, j, n, 43);
    const moments m = moments_of(v);
    // v = (U^(-1/3) - 1.5) * 4/3, clamped at 4: v > 1 iff U < 2.25^-3
    EXPECT_NEAR(fraction_above(v, 1), std::pow(2.25, -3), 0.003);
    EXPECT_GE(m.min, -2.0 / 3.0);
    EXPECT_LE(m.max, 4.0);
    // mean: zero but for the clamp, which cuts E[X - 4.5 | X > 4.5] P(X > 4.5) = 1/(2 4.5^2)
    EXPECT_NEAR(m.mean, -(4.0 / 3.0) / (2 * 4.5 * 4.5), 0.01);
}

TEST(Jitter, ParetoNormal)
{
    const auto v = samples(jitter_dist::paretonormal, j, n, 44);
    const moments m = moments_of(v);
    EXPECT_NEAR(m.mean, 0.75 * -(4.0 / 3.0) / (2 * 4.5 * 4.5), 0.01);
    EXPECT_GE(m.min, 0.25 * -3.8 - 0.75 * 2.0 / 3.0);
    EXPECT_LE(m.max, 0.25 * 3.8 + 0.75 * 4.0);
    EXPECT_GT(m.sd, 0.5);
}

// Dense traffic through a rated queue, jitter much larger than the gaps and than the delay.
void check_order_and_floor(jitter_dist d, uint64_t seed)
{
    pipe_params p = jittery(d, 200 * us, 2 * ms, seed);
    p.rate_bps = 100'000'000;
    p.queue_slots = 100;
    pipe_model m(p);
    const auto trace = random_trace(seed, 100'000, 20 * us);
    int64_t last = 0;
    size_t clamped = 0;
    for (const arrival &a : trace) {
        const verdict v = m.arrive(a.t, a.len);
        if (v.drop != drop_reason::none)
            continue;
        const int64_t service_end = m.save().server_end_ns;
        ASSERT_GE(v.depart_ns, last) << "reordered";
        ASSERT_GE(v.depart_ns, service_end) << "left before its serialization ended";
        ASSERT_GE(v.depart_ns, a.t + int64_t(a.len) * 80);  // 80 ns per byte at 100 Mbit/s
        clamped += v.depart_ns == last;
        last = v.depart_ns;
    }
    EXPECT_GT(clamped, 1000u);  // the clamp really acted
}

TEST(Jitter, NeverReordersNorLeavesEarly)
{
    check_order_and_floor(jitter_dist::uniform, 45);
    check_order_and_floor(jitter_dist::normal, 46);
    check_order_and_floor(jitter_dist::pareto, 47);
    check_order_and_floor(jitter_dist::paretonormal, 48);
}

TEST(Jitter, NegativeTotalDelayIsClampedAtZero)
{
    for (jitter_dist d : {jitter_dist::uniform, jitter_dist::normal, jitter_dist::pareto,
                          jitter_dist::paretonormal}) {
        pipe_model m(jittery(d, 0, 5 * ms, 49));
        size_t at_arrival = 0;
        for (int64_t i = 0; i < 10'000; i++) {
            const int64_t t = i * 100 * ms;
            const int64_t dep = m.arrive(t, 100).depart_ns;
            ASSERT_GE(dep, t);
            at_arrival += dep == t;
        }
        EXPECT_GT(at_arrival, 1000u) << int(d);  // a good share of samples were negative
    }
}

}  // namespace
}  // namespace stasis::dataplane::test

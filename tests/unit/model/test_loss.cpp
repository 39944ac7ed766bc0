// Loss models: Bernoulli within its binomial interval, Gilbert-Elliott against its Markov chain.
#include <gtest/gtest.h>

#include <cmath>

#include "trace.hpp"

namespace stasis::dataplane::test {
namespace {

pipe_params lossy(loss_kind kind, uint64_t seed)
{
    pipe_params p;
    p.loss = kind;
    p.seed = seed;
    return p;
}

// Losses of n packets, and the runs of consecutive losses.
struct loss_stats {
    size_t lost = 0, bursts = 0;
};

loss_stats measure(pipe_model &m, size_t n)
{
    loss_stats s;
    bool prev = false;
    for (size_t i = 0; i < n; i++) {
        const bool lost = m.arrive(int64_t(i) * us, 100).drop == drop_reason::loss;
        s.lost += lost;
        s.bursts += lost && !prev;
        prev = lost;
    }
    return s;
}

TEST(Loss, BernoulliInsideBinomialInterval)
{
    for (uint64_t seed : {1, 2, 3}) {
        pipe_params p = lossy(loss_kind::bernoulli, seed);
        p.plr = 0.05;
        pipe_model m(p);
        const size_t n = 200'000;
        const double mean = n * 0.05, sd = std::sqrt(n * 0.05 * 0.95);
        const double lost = double(measure(m, n).lost);
        EXPECT_LT(std::abs(lost - mean), 3.29 * sd) << "seed " << seed << " lost " << lost;  // 99.9%
    }
}

TEST(Loss, BernoulliExtremes)
{
    pipe_params p = lossy(loss_kind::bernoulli, 9);
    p.plr = 0;
    pipe_model none(p);
    EXPECT_EQ(measure(none, 10'000).lost, 0u);
    p.plr = 1;
    pipe_model all(p);
    EXPECT_EQ(measure(all, 10'000).lost, 10'000u);
}

TEST(Loss, GilbertElliottMovesBeforeDeciding)
{
    // p = r = 1: the state alternates every packet. Moving first, the very first packet is in the bad
    // state already: lost, kept, lost, kept...
    pipe_params p = lossy(loss_kind::gilbert_elliott, 5);
    p.ge = {1, 1, 0, 1};
    pipe_model m(p);
    for (int i = 0; i < 100; i++)
        ASSERT_EQ(m.arrive(i, 100).drop == drop_reason::loss, i % 2 == 0) << i;
}

TEST(Loss, GilbertElliottBurstsAndStationaryRate)
{
    // Loss exactly in the bad state: bursts are bad sojourns, geometric with mean 1/r; the loss rate
    // is the bad state's stationary probability p/(p+r).
    pipe_params p = lossy(loss_kind::gilbert_elliott, 11);
    p.ge = {0.01, 0.25, 0, 1};
    pipe_model m(p);
    const size_t n = 1'000'000;
    const loss_stats s = measure(m, n);
    const double rate = double(s.lost) / n, burst = double(s.lost) / double(s.bursts);
    EXPECT_NEAR(rate, 0.01 / 0.26, 0.0385 * 0.05);
    EXPECT_NEAR(burst, 4.0, 4.0 * 0.04);  // ~9600 bursts of sd 3.5: 0.035 standard error
}

TEST(Loss, GilbertElliottWithLossInBothStates)
{
    pipe_params p = lossy(loss_kind::gilbert_elliott, 12);
    p.ge = {0.05, 0.3, 0.02, 0.6};
    pipe_model m(p);
    const size_t n = 1'000'000;
    const double expect = (0.3 * 0.02 + 0.05 * 0.6) / 0.35;
    EXPECT_NEAR(double(measure(m, n).lost) / n, expect, expect * 0.03);
}

TEST(Loss, GilbertElliottStateIsRemembered)
{
    pipe_params p = lossy(loss_kind::gilbert_elliott, 13);
    p.ge = {1, 0, 0, 1};  // absorbed in the bad state at once
    pipe_model m(p);
    m.arrive(0, 100);
    EXPECT_TRUE(m.save().ge_bad);
    EXPECT_EQ(measure(m, 1000).lost, 1000u);
}

}  // namespace
}  // namespace stasis::dataplane::test

// The model's building blocks: RNG vectors, probability thresholds, exact division by the rate, tables.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "jitter_table.hpp"
#include "prob.hpp"
#include "rate.hpp"
#include "rng.hpp"

namespace stasis::dataplane::model {
namespace {

TEST(Rng, SplitmixKnownVector)
{
    uint64_t x = 0;
    EXPECT_EQ(splitmix64(x), 0xe220a8397b1dcdafULL);
    EXPECT_EQ(splitmix64(x), 0x6e789e6aa1b965f4ULL);
}

TEST(Rng, XoshiroKnownVector)
{
    rng_state s{1, 2, 3, 4};
    EXPECT_EQ(next(s), 11520u);
    EXPECT_EQ(next(s), 0u);
    EXPECT_EQ(next(s), 1509978240u);
    EXPECT_EQ(next(s), 1215971899390074240u);
}

TEST(Rng, SeedsDiffer)
{
    EXPECT_NE(seed_rng(1), seed_rng(2));
    EXPECT_EQ(seed_rng(7), seed_rng(7));
}

TEST(Prob, Thresholds)
{
    EXPECT_EQ(threshold_of(0), 0u);
    EXPECT_EQ(threshold_of(-0.5), 0u);
    EXPECT_EQ(threshold_of(std::nan("")), 0u);
    EXPECT_EQ(threshold_of(0.5), uint64_t(1) << 63);
    EXPECT_EQ(threshold_of(0.25), uint64_t(1) << 62);
    EXPECT_EQ(threshold_of(1), UINT64_MAX);
    EXPECT_EQ(threshold_of(2), UINT64_MAX);
    EXPECT_TRUE(happens(UINT64_MAX, threshold_of(1)));  // p = 1 is certain
    EXPECT_FALSE(happens(0, threshold_of(0)));          // p = 0 never
    EXPECT_TRUE(happens((uint64_t(1) << 63) - 1, threshold_of(0.5)));
    EXPECT_FALSE(happens(uint64_t(1) << 63, threshold_of(0.5)));
}

TEST(Rate, DivmodMatchesDivision)
{
    std::mt19937_64 g(42);
    const uint64_t rates[] = {1, 3, 7'000'000, 12'000'000, 999'999'937, 8'000'000'000, 8'000'000'001,
                              100'000'000'000, UINT64_MAX / 3, UINT64_MAX};
    for (const uint64_t rate : rates) {
        const rate_consts c = compile_rate(rate);
        for (int i = 0; i < 20000; i++) {
            uint64_t x = g();
            if (i % 3 == 0)
                x %= rate * 4 + 1;  // small quotients too
            uint64_t r;
            const uint64_t q = divmod(c, x, r);
            ASSERT_EQ(q, x / rate) << rate << " " << x;
            ASSERT_EQ(r, x % rate) << rate << " " << x;
        }
        uint64_t r;
        EXPECT_EQ(divmod(c, UINT64_MAX, r), UINT64_MAX / rate);
        EXPECT_EQ(r, UINT64_MAX % rate);
    }
}

TEST(JitterTable, NormalHasUnitVarianceAndIsSorted)
{
    const int32_t *t = jitter_table_of(jitter_dist::normal);
    ASSERT_NE(t, nullptr);
    double sum = 0, sq = 0;
    for (size_t k = 0; k < jitter_table_size; k++) {
        if (k > 0) {
            ASSERT_LE(t[k - 1], t[k]);
        }
        const double v = std::ldexp(t[k], -jitter_scale_bits);
        sum += v;
        sq += v * v;
    }
    const double n = double(jitter_table_size);
    EXPECT_NEAR(sum / n, 0, 1e-4);
    EXPECT_NEAR(std::sqrt(sq / n), 1, 1e-4);
    EXPECT_NEAR(std::ldexp(t[0], -jitter_scale_bits), -3.67, 0.02);  // the 1/8192 quantile
    EXPECT_NEAR(t[0], -t[jitter_table_size - 1], 1);
}

TEST(JitterTable, ParetoFollowsNetemDefinition)
{
    const int32_t *t = jitter_table_of(jitter_dist::pareto);
    for (size_t k = 1; k < jitter_table_size; k++)
        ASSERT_LE(t[k - 1], t[k]);
    // smallest: (1 - 1/8192)^(-1/3) - 1.5 ~ -0.5, times 4/3; largest clamped at 4
    EXPECT_NEAR(std::ldexp(t[0], -jitter_scale_bits), -2.0 / 3.0, 1e-3);
    EXPECT_EQ(t[jitter_table_size - 1], 4 << jitter_scale_bits);
    // the median: U = 1/2, (2^(1/3) - 1.5) * 4/3
    EXPECT_NEAR(std::ldexp(t[jitter_table_size / 2], -jitter_scale_bits), (std::cbrt(2.0) - 1.5) * 4 / 3, 1e-3);
    const int32_t *pn = jitter_table_of(jitter_dist::paretonormal);
    const int32_t *nt = jitter_table_of(jitter_dist::normal);
    for (size_t k = 0; k < jitter_table_size; k += 97)
        EXPECT_NEAR(pn[k], 0.25 * nt[k] + 0.75 * t[k], 1.0);
    EXPECT_EQ(jitter_table_of(jitter_dist::uniform), nullptr);
}

TEST(Jitter, UniformSampleCoversExactRange)
{
    const jitter_consts c{1000, nullptr};
    EXPECT_EQ(jitter_sample(c, 0), -1000);
    EXPECT_EQ(jitter_sample(c, UINT64_MAX), 1000);
    EXPECT_EQ(jitter_sample(c, uint64_t(1) << 63), 0);
}

}  // namespace
}  // namespace stasis::dataplane::model

// Loss statistics: the replay's losses follow the configured probability, and the report's 99 % interval
// and verdict are right.
#include <gtest/gtest.h>

#include <cmath>

#include "run_replay.hpp"

namespace stasis::replay::test {
namespace {

std::vector<packet> steady(size_t n)
{
    std::vector<packet> in;
    for (size_t i = 0; i < n; i++)
        in.push_back({epoch + int64_t(i) * 10 * us, 100, 60, uint8_t(i)});
    return in;
}

TEST(Loss, BernoulliRateWithinItsInterval)
{
    auto p = link(0, 1 * ms);
    p.loss = dataplane::loss_kind::bernoulli;
    p.plr = 0.05;
    p.seed = 12345;
    const size_t n = 100'000;
    const auto r = replay_packets(steady(n), p);
    const loss_check l = r.report->loss();
    EXPECT_EQ(l.model, "bernoulli");
    EXPECT_EQ(l.arrivals, n);
    EXPECT_EQ(l.lost + r.out.size(), n);  // every loss is a missing packet, nothing else is
    // Binomial(1e5, 0.05): sd 68.9; 3.9 sd either side holds with probability 0.9999.
    const double sd = std::sqrt(double(n) * 0.05 * 0.95);
    EXPECT_NEAR(double(l.lost), 0.05 * double(n), 3.9 * sd);
    EXPECT_LE(l.ci_low, 0.05);
    EXPECT_GE(l.ci_high, 0.05);
    EXPECT_TRUE(l.consistent);
    EXPECT_TRUE(r.report->exact());  // the packets that passed are exact
}

TEST(Loss, SeedDecidesWhichPacketsAreLost)
{
    auto p = link(0, 1 * ms);
    p.loss = dataplane::loss_kind::bernoulli;
    p.plr = 0.1;
    p.seed = 1;
    const auto a = replay_packets(steady(2'000), p);
    const auto b = replay_packets(steady(2'000), p);
    p.seed = 2;
    const auto c = replay_packets(steady(2'000), p);
    EXPECT_EQ(a.out, b.out);
    EXPECT_NE(a.out, c.out);
}

TEST(Loss, GilbertElliottStationaryRate)
{
    auto p = link(0, 1 * ms);
    p.loss = dataplane::loss_kind::gilbert_elliott;
    p.ge = {0.05, 0.45, 0.0, 1.0};  // bad 10 % of the time, always lost there
    p.seed = 99;
    const auto r = replay_packets(steady(200'000), p);
    const loss_check l = r.report->loss();
    EXPECT_EQ(l.model, "gilbert-elliott");
    EXPECT_DOUBLE_EQ(l.expected, 0.1);
    EXPECT_NEAR(l.observed, 0.1, 0.01);  // bursts of mean 1/r = 2.2: sd of the rate ~ 0.001
}

TEST(Loss, ReportSeesAWrongRate)
{
    // The report compares against the configured plr: a link losing 8 % where 5 % is configured fails.
    auto p = link(0);
    p.loss = dataplane::loss_kind::bernoulli;
    p.plr = 0.05;
    fidelity_report rep(p);
    for (uint64_t i = 0; i < 10'000; i++)
        rep.on_arrival({i + 1, epoch + int64_t(i), 100, 60,
                        i % 25 < 2 ? dataplane::drop_reason::loss : dataplane::drop_reason::none, {}});
    const loss_check l = rep.loss();
    EXPECT_DOUBLE_EQ(l.observed, 0.08);
    EXPECT_FALSE(l.consistent);
    EXPECT_GT(l.ci_low, 0.05);
}

TEST(Loss, WilsonBoundsSolveTheScoreEquation)
{
    // Wilson's bounds are the p with (k/n - p)^2 = z^2 p (1 - p) / n.
    const double z = 2.5758293035489004;
    for (auto [k, n] : {std::pair<uint64_t, uint64_t>{5, 100}, {500, 10'000}, {1, 3}, {99, 100}}) {
        const auto [lo, hi] = wilson_interval(k, n, z);
        const double ph = double(k) / double(n);
        for (double b : {lo, hi})
            EXPECT_NEAR((ph - b) * (ph - b), z * z * b * (1 - b) / double(n), 1e-12) << k << "/" << n;
        EXPECT_LT(lo, ph);
        EXPECT_GT(hi, ph);
    }
    const auto [lo0, hi0] = wilson_interval(0, 50, z);
    EXPECT_EQ(lo0, 0.0);
    EXPECT_NEAR(hi0, z * z / (50 + z * z), 1e-12);  // k = 0: the upper bound is z^2/(n+z^2)
}

}  // namespace
}  // namespace stasis::replay::test

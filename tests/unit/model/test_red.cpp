// RED and GRED: drop probability against the Floyd-Jacobson curve at a held average, the regions,
// Dummynet's order (RED before the tail drop), and the idle decay of the average.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "trace.hpp"

namespace stasis::dataplane::test {
namespace {

constexpr int64_t tick = 1 * ms;  // 1500 B at 12 Mbit/s

pipe_params red_pipe(aqm_kind kind, uint64_t seed, uint64_t queue_bytes = 0)
{
    pipe_params p = rated(12'000'000, 0, 200);
    p.aqm = kind;
    p.seed = seed;
    p.queue_bytes = queue_bytes;
    const double unit = queue_bytes ? 1500 : 1;  // thresholds in packets or bytes
    p.red = {5 * unit, 15 * unit, 0.002, 10};    // max_p = 0.1
    return p;
}

// A model whose queue holds q_packets + 1 packets ending at tick, 2 tick, ... and whose average is
// exactly q_packets: each arrival at a tick then sees q_packets queued, so avg stays put.
pipe_model held_at(const pipe_params &p, uint32_t q_packets)
{
    pipe_state s = pipe_model(p).save();
    for (uint32_t k = 1; k <= q_packets + 1; k++)
        s.queue.push_back({int64_t(k) * tick, 1500});
    s.server_end_ns = int64_t(q_packets + 1) * tick;
    const uint64_t q = p.queue_bytes ? uint64_t(q_packets) * 1500 : q_packets;
    s.red_avg_q32 = q << 32;
    return pipe_model::restore(p, s);
}

// Floyd-Jacobson: after a drop, the n-th packet is dropped with p_b / (1 - n p_b) (1 if that is
// beyond 1); the drop rate is 1 / E[packets between drops].
double theory_drop_rate(double p_b)
{
    double survive = 1, mean = 0;
    for (int n = 1; survive > 0 && n < 100000; n++) {
        mean += survive;
        const double h = 1 - n * p_b <= 0 ? 1 : std::min(1.0, p_b / (1 - n * p_b));
        survive *= 1 - h;
    }
    return 1 / mean;
}

struct measured {
    double rate;
    size_t drops;
};

// At every tick, arrivals until one is admitted: the queue and avg stay where held_at put them.
measured drop_rate_at(const pipe_params &p, uint32_t q_packets, size_t admitted)
{
    pipe_model m = held_at(p, q_packets);
    size_t arrivals = 0, drops = 0;
    for (size_t k = 1; k <= admitted; k++) {
        for (;;) {
            arrivals++;
            const verdict v = m.arrive(int64_t(k) * tick, 1500);
            if (v.drop == drop_reason::none)
                break;
            EXPECT_EQ(v.drop, drop_reason::red);
            drops++;
        }
    }
    const uint64_t q = p.queue_bytes ? uint64_t(q_packets) * 1500 : q_packets;
    EXPECT_NEAR(double(m.save().red_avg_q32) / 4294967296.0, double(q), 1e-6 * double(q));
    return {double(drops) / double(arrivals), drops};
}

void expect_curve(const pipe_params &p, uint32_t q, double p_b)
{
    const double want = theory_drop_rate(p_b);
    const measured got = drop_rate_at(p, q, 60'000);
    // renewal count: relative standard error ~ 0.6 / sqrt(drops); allow 5 of them
    const double tol = want * 5 * 0.6 / std::sqrt(std::max<double>(double(got.drops), 1));
    EXPECT_NEAR(got.rate, want, tol) << "avg " << q << " p_b " << p_b;
}

TEST(Red, DropRateFollowsLinearCurve)
{
    const pipe_params p = red_pipe(aqm_kind::red, 21);
    for (uint32_t q : {6u, 8u, 10u, 12u, 14u})
        expect_curve(p, q, 0.1 * (q - 5.0) / 10.0);
}

TEST(Red, ByteQueueUsesByteThresholds)
{
    const pipe_params p = red_pipe(aqm_kind::red, 22, 300'000);
    for (uint32_t q : {7u, 12u})
        expect_curve(p, q, 0.1 * (q - 5.0) / 10.0);
}

TEST(Red, GentleCurveAboveMaxThreshold)
{
    const pipe_params p = red_pipe(aqm_kind::gred, 23);
    for (uint32_t q : {10u, 16u, 18u, 20u})
        expect_curve(p, q, q < 15 ? 0.1 * (q - 5.0) / 10.0 : 0.1 + 0.9 * (q - 15.0) / 15.0);
}

size_t red_drops_at_one_instant(pipe_model &m, int n)
{
    size_t d = 0;
    for (int i = 0; i < n; i++)
        d += m.arrive(tick / 2, 1500).drop == drop_reason::red;
    return d;
}

TEST(Red, Regions)
{
    pipe_model below = held_at(red_pipe(aqm_kind::red, 24), 4);
    EXPECT_EQ(red_drops_at_one_instant(below, 20), 0u);
    EXPECT_EQ(below.save().red_count, -1);
    pipe_model above = held_at(red_pipe(aqm_kind::red, 25), 16);  // RED: all drop above max
    EXPECT_EQ(red_drops_at_one_instant(above, 1000), 1000u);
    pipe_model gentle = held_at(red_pipe(aqm_kind::gred, 26), 16);  // GRED: not all
    EXPECT_LT(red_drops_at_one_instant(gentle, 1000), 1000u);
    pipe_model beyond = held_at(red_pipe(aqm_kind::gred, 27), 31);  // GRED: all above 2 max
    EXPECT_EQ(red_drops_at_one_instant(beyond, 1000), 1000u);
}

TEST(Red, RunsBeforeTheTailDrop)
{
    // A full droptail queue and avg 0: RED still sees every arrival, so avg climbs and RED drops.
    pipe_params p = red_pipe(aqm_kind::red, 28);
    p.queue_slots = 20;
    p.red.q_weight = 0.1;
    pipe_state s = pipe_model(p).save();
    for (int k = 1; k <= 20; k++)
        s.queue.push_back({k * tick, 1500});
    s.server_end_ns = 20 * tick;
    pipe_model m = pipe_model::restore(p, s);
    size_t red = 0, queue = 0;
    for (int i = 0; i < 200; i++) {
        const drop_reason r = m.arrive(0, 1500).drop;
        red += r == drop_reason::red;
        queue += r == drop_reason::queue;
    }
    EXPECT_EQ(red + queue, 200u);
    EXPECT_EQ(red, 200u - queue);
    EXPECT_GT(red, 150u);  // once avg > 15 everything is a RED drop
    EXPECT_NEAR(double(m.save().red_avg_q32) / 4294967296.0, 20.0, 0.01);
}

TEST(Red, AverageTracksQueueInFixedPoint)
{
    // A steady queue of 8 from empty: avg = 8 (1 - (1-w)^n) after n arrivals.
    pipe_params p = red_pipe(aqm_kind::red, 29);
    p.red.thresh = 100;  // no drops: only the average
    p.red.maxthresh = 200;
    pipe_state s = pipe_model(p).save();
    for (int k = 1; k <= 9; k++)
        s.queue.push_back({k * tick, 1500});
    s.server_end_ns = 9 * tick;
    pipe_model m = pipe_model::restore(p, s);
    for (int k = 1; k <= 1000; k++)
        ASSERT_EQ(m.arrive(k * tick, 1500).drop, drop_reason::none);
    const double want = 8 * (1 - std::pow(1 - 0.002, 1000));
    EXPECT_NEAR(double(m.save().red_avg_q32) / 4294967296.0, want, 1e-5);
}

TEST(Red, IdleDecay)
{
    // Empty queue idle for m typical packets (512 B at 12 Mbit/s = 341333.33 ns): avg * (1-w)^m.
    pipe_params p = red_pipe(aqm_kind::red, 30);
    for (int64_t m_pkts : {0, 1, 100, 2500}) {
        pipe_state s = pipe_model(p).save();
        s.red_avg_q32 = uint64_t(10) << 32;
        s.server_end_ns = 5 * ms;  // the queue emptied then
        pipe_model m = pipe_model::restore(p, s);
        const int64_t idle = (m_pkts * 1'024'000 + 2) / 3;  // ceil(m * 341333.33)
        m.arrive(5 * ms + idle, 1500);
        const double want = 10 * std::pow(1 - 0.002, double(m_pkts));
        EXPECT_NEAR(double(m.save().red_avg_q32) / 4294967296.0, want, 1e-6 + want * 1e-6) << m_pkts;
        // one ns earlier is one typical packet fewer
        if (m_pkts > 0) {
            pipe_model e = pipe_model::restore(p, s);
            e.arrive(5 * ms + idle - 1, 1500);
            EXPECT_NEAR(double(e.save().red_avg_q32) / 4294967296.0, want / (1 - 0.002), 1e-5) << m_pkts;
        }
    }
    pipe_params unlimited = p;
    unlimited.rate_bps = 0;  // no transmission time: any empty queue resets avg
    pipe_state s = pipe_model(unlimited).save();
    s.red_avg_q32 = uint64_t(10) << 32;
    pipe_model m = pipe_model::restore(unlimited, s);
    m.arrive(1, 1500);
    EXPECT_EQ(m.save().red_avg_q32, 0u);
}

}  // namespace
}  // namespace stasis::dataplane::test

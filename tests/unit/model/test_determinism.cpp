// Determinism: the same trace and seed give the same departures; a save mid-trace, restore and shift
// by a pause D give the uninterrupted run's departures + D.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "trace.hpp"

namespace stasis::dataplane::test {
namespace {

struct named_params {
    std::string name;
    pipe_params p;
};

std::vector<named_params> configurations()
{
    std::vector<named_params> v;
    pipe_params base = rated(7'000'000, 4 * ms, 40);
    base.seed = 77;
    v.push_back({"rate", base});
    pipe_params p = base;
    p.loss = loss_kind::bernoulli;
    p.plr = 0.1;
    v.push_back({"bernoulli", p});
    p = base;
    p.loss = loss_kind::gilbert_elliott;
    p.ge = {0.05, 0.3, 0.01, 0.7};
    v.push_back({"gilbert_elliott", p});
    p = base;
    p.aqm = aqm_kind::red;
    p.red = {5, 15, 0.02, 10};
    v.push_back({"red", p});
    p.aqm = aqm_kind::gred;
    p.queue_bytes = 40'000;
    p.red = {8000, 20000, 0.02, 5};
    v.push_back({"gred_bytes", p});
    for (jitter_dist d : {jitter_dist::uniform, jitter_dist::normal, jitter_dist::pareto,
                          jitter_dist::paretonormal}) {
        p = base;
        p.jitter = d;
        p.jitter_ns = 3 * ms;
        v.push_back({"jitter" + std::to_string(int(d)), p});
    }
    p = v[2].p;  // everything at once
    p.aqm = aqm_kind::gred;
    p.red = {5, 15, 0.02, 10};
    p.jitter = jitter_dist::normal;
    p.jitter_ns = 2 * ms;
    v.push_back({"all", p});
    return v;
}

bool same(const verdict &a, const verdict &b, int64_t shift)
{
    return a.drop == b.drop && (a.drop != drop_reason::none || a.depart_ns + shift == b.depart_ns);
}

TEST(Determinism, SameTraceSameSeedSameOutput)
{
    const auto trace = random_trace(5, 50'000, 1 * ms);
    for (const auto &[name, p] : configurations()) {
        pipe_model a(p), b(p);
        const auto va = run(a, trace), vb = run(b, trace);
        for (size_t i = 0; i < trace.size(); i++)
            ASSERT_TRUE(same(va[i], vb[i], 0)) << name << " packet " << i;
        EXPECT_EQ(a.save(), b.save()) << name;
    }
}

// The worker hands the model whole receive bursts (arrive_burst), which has a fast path for pipes with
// neither loss, AQM nor jitter: every burst gets exactly what one arrive() after another would give.
TEST(Determinism, BurstsEqualOneByOne)
{
    auto cases = configurations();
    cases.push_back({"plain", rated(7'000'000, 4 * ms, 40)});
    cases.push_back({"plain_bytes", [] { auto p = rated(7'000'000, 4 * ms, 0); p.queue_bytes = 30'000; return p; }()});
    cases.push_back({"unlimited", rated(0, 4 * ms, 40)});
    // Frames under 125 bytes serialize in less than 1 ns: at an idle server such a frame's service
    // can end at its arrival instant, and the next frame at that instant must find the queue empty.
    cases.push_back({"terabit", rated(1'000'000'000'000, 4 * ms, 1)});
    cases.push_back({"terabit_bytes", [] { auto p = rated(1'000'000'000'000, 4 * ms, 0); p.queue_bytes = 1600; return p; }()});
    const auto trace = random_trace(8, 40'000, 200 * us);
    std::mt19937_64 g(9);
    std::uniform_int_distribution<size_t> burst_len(1, 64);
    for (const auto &[name, p] : cases) {
        pipe_model one(p), burst(p);
        const auto expect = run(one, trace);
        std::vector<verdict> got(trace.size());
        std::vector<uint32_t> len;
        size_t bursts = 0;
        for (size_t i = 0; i < trace.size(); bursts++) {
            // A burst is a run of arrivals at one instant (the trace has those), cut at a random size.
            size_t j = i + 1;
            const size_t most = i + burst_len(g);
            while (j < trace.size() && j < most && trace[j].t == trace[i].t)
                j++;
            len.clear();
            for (size_t k = i; k < j; k++)
                len.push_back(trace[k].len);
            burst.arrive_burst(trace[i].t, len.data(), uint32_t(len.size()), got.data() + i);
            i = j;
        }
        ASSERT_LT(bursts, trace.size()) << name << ": the trace has no burst to test";
        for (size_t i = 0; i < trace.size(); i++)
            ASSERT_TRUE(same(expect[i], got[i], 0)) << name << " packet " << i;
        EXPECT_EQ(one.save(), burst.save()) << name;
    }
}

TEST(Determinism, SeedMatters)
{
    const auto trace = random_trace(6, 20'000, 1 * ms);
    pipe_params p = configurations().back().p;
    pipe_model a(p);
    p.seed++;
    pipe_model b(p);
    const auto va = run(a, trace), vb = run(b, trace);
    size_t differ = 0;
    for (size_t i = 0; i < trace.size(); i++)
        differ += !same(va[i], vb[i], 0);
    EXPECT_GT(differ, trace.size() / 10);
}

TEST(Determinism, SaveRestoreShiftContinuesExactly)
{
    const auto trace = random_trace(7, 60'000, 1 * ms);
    constexpr int64_t pause = 3'600'000'000'123;  // an hour and 123 ns
    for (const auto &[name, p] : configurations()) {
        for (size_t cut : {size_t(1), size_t(12'345), size_t(30'000)}) {
            pipe_model whole(p);
            const auto expect = run(whole, trace);

            pipe_model first(p);
            run(first, trace, 0, cut);
            const pipe_state saved = first.save();
            pipe_model resumed = pipe_model::restore(p, saved);
            EXPECT_EQ(resumed.save(), saved) << name;
            resumed.shift(pause);
            const auto got = run(resumed, trace, cut, SIZE_MAX, pause);

            size_t admitted = 0;
            for (size_t i = 0; i < got.size(); i++) {
                ASSERT_TRUE(same(expect[cut + i], got[i], pause)) << name << " cut " << cut << " packet " << cut + i;
                admitted += got[i].drop == drop_reason::none;
            }
            EXPECT_GT(admitted, got.size() / 3) << name;
            EXPECT_LT(admitted, got.size()) << name;  // something was dropped (queue at least)
        }
    }
}

TEST(Determinism, ShiftMovesEveryInstant)
{
    pipe_model m(rated(12'000'000, 1 * ms, 50));
    for (int k = 0; k < 5; k++)
        m.arrive(0, 1500);
    pipe_state before = m.save();
    m.shift(-250);
    const pipe_state after = m.save();
    EXPECT_EQ(after.server_end_ns, before.server_end_ns - 250);
    EXPECT_EQ(after.last_arrival_ns, before.last_arrival_ns - 250);
    EXPECT_EQ(after.last_depart_ns, before.last_depart_ns - 250);
    ASSERT_EQ(after.queue.size(), 5u);
    for (size_t i = 0; i < 5; i++)
        EXPECT_EQ(after.queue[i].service_end_ns, before.queue[i].service_end_ns - 250);
}

TEST(Determinism, RestoreGrowsItsRingForALargerSavedQueue)
{
    const pipe_params p = rated(12'000'000, 0, 50);  // ring of 64
    pipe_state s = pipe_model(p).save();
    for (int k = 1; k <= 300; k++)
        s.queue.push_back({k * ms, 1500});
    s.server_end_ns = 300 * ms;
    pipe_model m = pipe_model::restore(p, s);
    EXPECT_EQ(m.occupancy_at(0).packets, 300u);
    EXPECT_EQ(m.arrive(250 * ms, 1500).drop, drop_reason::queue);  // 50 still queued
    EXPECT_EQ(m.arrive(251 * ms, 1500).depart_ns, 301 * ms);
}

}  // namespace
}  // namespace stasis::dataplane::test

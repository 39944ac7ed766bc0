// Exact departure instants: pure delay, serialization at a rate, and an independent exact reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <optional>

#include "trace.hpp"

namespace stasis::dataplane::test {
namespace {

TEST(Rate, PureDelay)
{
    pipe_model m(rated(0, 25 * ms));
    for (int64_t t : {int64_t(0), int64_t(1), 7 * us, 7 * us, 3 * ms}) {
        const verdict v = m.arrive(t, 1500);
        EXPECT_EQ(v.drop, drop_reason::none);
        EXPECT_EQ(v.depart_ns, t + 25 * ms);
    }
}

TEST(Rate, BackToBackQueueUpAt12Mbps)
{
    pipe_model m(rated(12'000'000, 10 * ms));  // 1500 B = 12000 bit = 1 ms
    for (int k = 0; k < 10; k++)
        EXPECT_EQ(m.arrive(0, 1500).depart_ns, (k + 1) * ms + 10 * ms) << k;
    // arrives while the 10th is being served: waits for it
    EXPECT_EQ(m.arrive(9 * ms + 500 * us, 1500).depart_ns, 11 * ms + 10 * ms);
    // the server is idle again: served from its own arrival
    EXPECT_EQ(m.arrive(100 * ms, 1500).depart_ns, 101 * ms + 10 * ms);
    EXPECT_EQ(m.arrive(100 * ms, 750).depart_ns, 101 * ms + 500 * us + 10 * ms);
}

TEST(Rate, RemaindersDoNotDrift)
{
    // 1 byte at 7 Mbit/s = 8000/7 ns = 1142.857... ns: 7 back-to-back packets end exactly at 8000 ns
    pipe_model m(rated(7'000'000, 0, 1000));
    const int64_t expect[] = {1142, 2285, 3428, 4571, 5714, 6857, 8000};
    for (int64_t e : expect)
        EXPECT_EQ(m.arrive(0, 1).depart_ns, e);
    // after 999 the end is still exact: 999 * 8000/7 ns, remainder (999 * 8e9) mod 7e6
    for (int i = 7; i < 999; i++)
        m.arrive(0, 1);
    EXPECT_EQ(m.save().server_end_ns, 999 * 8000 / 7);
    EXPECT_EQ(m.save().server_rem, 999 * 8'000'000'000ULL % 7'000'000);
}

// An independent model: exact rational server end (numerator over rate), std::deque queue.
struct reference {
    reference(uint64_t rate_bps, int64_t delay_ns, uint32_t queue_slots)
        : rate(rate_bps), delay(delay_ns), slots(queue_slots) {}

    uint64_t rate;
    int64_t delay;
    uint32_t slots;
    u128 end_num = 0;
    std::deque<int64_t> ends;
    int64_t last_depart = 0;

    std::optional<int64_t> arrive(int64_t t, uint32_t len)
    {
        while (!ends.empty() && ends.front() <= t)
            ends.pop_front();
        if (ends.size() >= slots)
            return std::nullopt;
        end_num = std::max(u128(t) * rate, end_num) + u128(len) * 8'000'000'000u;
        const int64_t end = int64_t(end_num / rate);
        ends.push_back(end);
        last_depart = std::max(end + delay, last_depart);
        return last_depart;
    }
};

void check_against_reference(uint64_t rate, int64_t mean_gap, uint64_t seed)
{
    const auto trace = random_trace(seed, 200'000, mean_gap);
    pipe_model m(rated(rate, 3 * ms, 50));
    reference ref(rate, 3 * ms, 50);
    size_t drops = 0;
    for (size_t i = 0; i < trace.size(); i++) {
        const verdict v = m.arrive(trace[i].t, trace[i].len);
        const auto r = ref.arrive(trace[i].t, trace[i].len);
        ASSERT_EQ(v.drop == drop_reason::none, r.has_value()) << "packet " << i;
        if (r) {
            ASSERT_EQ(v.depart_ns, *r) << "packet " << i;
        } else {
            ASSERT_EQ(v.drop, drop_reason::queue);
            drops++;
        }
    }
    EXPECT_GT(drops, 100u);  // the trace does exercise the limit
    EXPECT_LT(drops, trace.size() / 4);
}

TEST(Rate, AwkwardRateMatchesExactReference)
{
    check_against_reference(7'000'000, 900 * us, 1);
}

TEST(Rate, FastRateMatchesExactReference)
{
    check_against_reference(9'999'999'967, 650, 2);  // over 8 Gbit/s: zero whole ns per byte
}

TEST(Rate, HugePacketsStayExact)
{
    pipe_model slow(rated(1));  // 1 bit/s
    EXPECT_EQ(slow.arrive(0, 3).depart_ns, 24'000'000'000);
    // 64-bit fast path with a large packet
    pipe_model big(rated(7'000'000'000));
    EXPECT_EQ(big.arrive(0, 4'000'000'000u).depart_ns, int64_t(u128(4'000'000'000u) * 8 / 7));
    EXPECT_EQ(big.save().server_rem, uint64_t(u128(4'000'000'000u) * 8'000'000'000u % 7'000'000'000u));
    // len * (8e9 mod rate) overflows 64 bits: the 128-bit path
    pipe_model wide(rated(8'000'000'001));
    const u128 total = u128(4'000'000'000u) * 8'000'000'000u;
    EXPECT_EQ(wide.arrive(0, 4'000'000'000u).depart_ns, int64_t(total / 8'000'000'001u));
    EXPECT_EQ(wide.save().server_rem, uint64_t(total % 8'000'000'001u));
    // beyond 2^62 ns (146 years) a service saturates instead of wrapping
    pipe_model absurd(rated(1));
    EXPECT_EQ(absurd.arrive(0, 600'000'000u).depart_ns, int64_t(1) << 62);
}

}  // namespace
}  // namespace stasis::dataplane::test

// Exact departures: hand-computed instants, and random traces against the independent reference.
#include <gtest/gtest.h>

#include "run_replay.hpp"
#include "stasis/replay/reference.hpp"

namespace stasis::replay::test {
namespace {

std::vector<int64_t> departures(const std::vector<packet> &out)
{
    std::vector<int64_t> v;
    for (const packet &p : out)
        v.push_back(p.ts_ns - epoch);
    return v;
}

TEST(Exact, PureDelayKeepsBytesAndOrder)
{
    std::vector<packet> in;
    for (int k = 0; k < 5; k++)
        in.push_back({epoch + k * 3 * us, 1514, 1514, uint8_t(10 + k)});
    in.push_back({epoch + 12 * us, 60, 60, 99});  // same instant as the one before: FIFO order
    in[5].ts_ns = in[4].ts_ns;
    const auto r = replay_packets(in, link(0, 7 * ms));
    ASSERT_EQ(r.out.size(), in.size());
    for (size_t i = 0; i < in.size(); i++) {
        EXPECT_EQ(r.out[i].ts_ns, in[i].ts_ns + 7 * ms) << i;
        EXPECT_EQ(r.out[i].len, in[i].len) << i;
        EXPECT_EQ(r.out[i].caplen, in[i].caplen) << i;
        EXPECT_EQ(r.out[i].tag, in[i].tag) << i;
    }
    EXPECT_TRUE(r.report->exact());
}

TEST(Exact, RateHandComputed)
{
    // 12 Mbit/s: 1500 B = 12000 bit = 1 ms; 750 B = 0.5 ms.
    std::vector<packet> in;
    for (int k = 0; k < 10; k++)
        in.push_back({epoch, 1500, 64, uint8_t(k)});
    in.push_back({epoch + 9 * ms + 500 * us, 1500, 64, 10});  // waits for the 10th: ends at 11 ms
    in.push_back({epoch + 100 * ms, 1500, 64, 11});           // idle server: 101 ms
    in.push_back({epoch + 100 * ms, 750, 64, 12});            // 101.5 ms
    const auto r = replay_packets(in, link(12'000'000, 10 * ms));
    const std::vector<int64_t> want = {11 * ms, 12 * ms, 13 * ms, 14 * ms, 15 * ms, 16 * ms, 17 * ms,
                                       18 * ms, 19 * ms, 20 * ms, 21 * ms, 111 * ms, 111 * ms + 500 * us};
    EXPECT_EQ(departures(r.out), want);
    EXPECT_TRUE(r.report->exact());
    EXPECT_NEAR(r.report->busy_rate_bps(), 12e6, 1.0);
}

TEST(Exact, SubNanosecondRemaindersDoNotDrift)
{
    // 1 byte at 7 Mbit/s = 8000/7 ns: seven back to back end exactly at 8000 ns.
    std::vector<packet> in(7, packet{epoch, 1, 1, 0});
    const auto r = replay_packets(in, link(7'000'000, 0, 100));
    EXPECT_EQ(departures(r.out), (std::vector<int64_t>{1142, 2285, 3428, 4571, 5714, 6857, 8000}));
    EXPECT_TRUE(r.report->exact());
}

TEST(Exact, SnappedPacketIsServedAtItsWireLength)
{
    // 9000 B at 9 Mbit/s = 8 ms, although only 64 bytes were captured (and are written back).
    const auto r = replay_packets({{epoch, 9000, 64, 7}}, link(9'000'000, 1 * ms));
    ASSERT_EQ(r.out.size(), 1u);
    EXPECT_EQ(r.out[0], (packet{epoch + 9 * ms, 9000, 64, 7}));
}

TEST(Exact, SlotQueueCountsThePacketInService)
{
    std::vector<packet> in;
    for (int k = 0; k < 5; k++)
        in.push_back({epoch, 1500, 64, uint8_t(k)});    // 12 Mbit/s: 3 fit (1, 2, 3 ms), 2 dropped
    in.push_back({epoch + 1 * ms, 1500, 64, 5});         // the first has just left: fits, ends at 4 ms
    in.push_back({epoch + 1 * ms, 1500, 64, 6});         // full again
    const auto r = replay_packets(in, link(12'000'000, 0, 3));
    EXPECT_EQ(departures(r.out), (std::vector<int64_t>{1 * ms, 2 * ms, 3 * ms, 4 * ms}));
    EXPECT_EQ(r.out[3].tag, 5);
    EXPECT_EQ(r.report->drops(dataplane::drop_reason::queue), 3u);
    EXPECT_TRUE(r.report->exact());
}

TEST(Exact, ByteQueueAdmitsWhatFitsWhole)
{
    std::vector<packet> in = {
        {epoch, 1500, 64, 0}, {epoch, 1500, 64, 1},  // 3000 B: full
        {epoch, 60, 60, 2},                          // 3060 > 3000: dropped
        {epoch + 1 * ms, 1000, 64, 3},               // the first left: 2500 B, ends at 2 ms + 2/3 ms
        {epoch + 1 * ms, 500, 64, 4},                // exactly 3000: admitted, ends at 3 ms
        {epoch + 1 * ms, 60, 60, 5},                 // dropped
    };
    const auto r = replay_packets(in, link(12'000'000, 0, 50, 3000));
    EXPECT_EQ(departures(r.out), (std::vector<int64_t>{1 * ms, 2 * ms, 2 * ms + 666'666, 3 * ms}));
    EXPECT_EQ(r.report->drops(dataplane::drop_reason::queue), 2u);
    EXPECT_TRUE(r.report->exact());
}

// The output equals the reference's departures for every admitted packet, in order.
void check_random(const dataplane::pipe_params &p, uint64_t seed, int64_t mean_gap_ns, uint64_t min_drops)
{
    const auto in = random_trace(seed, 30'000, mean_gap_ns);
    reference_link ref(p);
    std::vector<packet> want;
    for (const packet &x : in)
        if (auto d = ref.arrive(x.ts_ns, x.len))
            want.push_back({*d, x.len, x.caplen, x.tag});
    const auto r = replay_packets(in, p);
    ASSERT_EQ(r.out.size(), want.size());
    for (size_t i = 0; i < want.size(); i++)
        ASSERT_EQ(r.out[i], want[i]) << "output packet " << i;
    EXPECT_GE(in.size() - want.size(), min_drops) << "the trace must exercise the queue limit";
    EXPECT_TRUE(r.report->exact());
    EXPECT_EQ(r.report->delay_errors().count(), want.size());
    EXPECT_EQ(r.report->delay_errors().zeros(), want.size());
}

TEST(Exact, RandomTraceAwkwardRateSlots) { check_random(link(7'000'000, 3 * ms, 20), 1, 900 * us, 100); }
TEST(Exact, RandomTraceByteQueue) { check_random(link(12'345'678, 25 * ms, 50, 20'000), 2, 700 * us, 100); }
TEST(Exact, RandomTraceFastRate) { check_random(link(9'999'999'967, 0, 4), 3, 900, 100); }
TEST(Exact, RandomTraceUnlimitedRate) { check_random(link(0, 40 * ms), 4, 100 * us, 0); }

}  // namespace
}  // namespace stasis::replay::test

// Freeze at a scheduled instant and thaw in place: the exact cut of in-flight frames on ring ports.
#include <algorithm>
#include <cstdio>
#include <map>

#include <rte_mbuf.h>

#include "node_fixture.hpp"

namespace stasis::test {
namespace {

using dataplane::pipe_params;
constexpr int64_t ms = 1'000'000, us = 1'000;
// The worker stamps a frame a little after the test sent it and the test sees a frame a little
// after the worker sent it: frames this close to the cut are not judged.
constexpr int64_t edge = 200 * us;

struct stream {
    std::vector<int64_t> sent;  // by sequence number
    std::map<uint32_t, int64_t> got;
};

// Sends a frame every gap_ns until `until`, taking what arrives; returns when `until` is reached
// (when not sending: also as soon as every frame sent has arrived).
void run_stream(ring_port &from, ring_port &to, stream &s, int64_t gap_ns, int64_t until, bool send = true)
{
    int64_t next = s.sent.empty() ? realtime_ns() : s.sent.back() + gap_ns;
    for (int64_t now; (now = realtime_ns()) < until && (send || s.got.size() < s.sent.size());) {
        if (send && now >= next) {
            s.sent.push_back(now);
            EXPECT_TRUE(from.inject(make_frame(100, uint32_t(s.sent.size() - 1))));
            next += gap_ns;
        }
        if (rte_mbuf *m = to.take()) {
            EXPECT_TRUE(s.got.emplace(frame_seq(m), realtime_ns()).second) << "duplicate " << frame_seq(m);
            rte_pktmbuf_free(m);
        }
    }
}

TEST_F(node_test, freeze_holds_every_departure_at_or_after_the_instant_and_thaw_shifts_them)
{
    ring_port &a = add_port("a"), &b = add_port("b");
    pipe_params p;
    p.delay_ns = 5 * ms;
    p.queue_slots = 1000;
    start({make_link("l0", a, b, p)});

    stream s;
    run_stream(a, b, s, 100 * us, realtime_ns() + 10 * ms);
    const int64_t f = realtime_ns() + 3 * ms;
    auto frozen = node->freeze(f);
    ASSERT_TRUE(frozen.has_value());
    EXPECT_EQ(*frozen, f);
    // Keep sending through the drain window: arrivals after F are accepted and held.
    run_stream(a, b, s, 100 * us, f + 4 * ms);
    run_stream(a, b, s, 100 * us, f + 20 * ms, false);

    for (size_t i = 0; i < s.sent.size(); i++) {
        const int64_t depart = s.sent[i] + p.delay_ns;
        if (depart < f - edge) {
            EXPECT_TRUE(s.got.count(uint32_t(i))) << "frame " << i << " departs before F and was not sent";
        }
        if (depart > f + edge) {
            EXPECT_FALSE(s.got.count(uint32_t(i))) << "frame " << i << " departs after F and was sent";
        }
    }
    auto rep = node->freeze_status();
    ASSERT_TRUE(rep.has_value());
    EXPECT_TRUE(rep->reached);
    ASSERT_EQ(rep->workers.size(), 1u);
    EXPECT_GE(rep->workers[0].noticed_ns, f);
    EXPECT_LT(rep->workers[0].noticed_ns, f + 20 * ms) << "the worker noticed the freeze late";
    RecordProperty("notice_delay_ns", std::to_string(rep->workers[0].noticed_ns - f));
    std::printf("notice delay %lld ns\n", (long long)(rep->workers[0].noticed_ns - f));
    ASSERT_EQ(rep->links.size(), 1u);
    EXPECT_EQ(rep->links[0].packets_ab, s.sent.size() - s.got.size()) << "held = sent - received";
    EXPECT_EQ(rep->links[0].bytes_ab, rep->links[0].packets_ab * 100u);

    const std::map<uint32_t, int64_t> before = s.got;
    const int64_t r = realtime_ns() + 5 * ms;
    ASSERT_TRUE(node->thaw(r).has_value());
    EXPECT_FALSE(node->frozen());
    run_stream(a, b, s, 100 * us, r + 500 * ms, false);
    ASSERT_EQ(s.got.size(), s.sent.size()) << "a held frame was lost";
    for (const auto &[seq, at] : s.got) {
        if (before.count(seq))
            continue;
        const int64_t shifted = s.sent[seq] + p.delay_ns - f + r;  // t - F + R
        EXPECT_GE(at, shifted - edge) << "frame " << seq << " left before its shifted departure";
        EXPECT_LE(at, shifted + 20 * ms) << "frame " << seq << " (slack for a busy machine)";
    }
    uint32_t last = 0;
    for (const auto &[seq, at] : s.got)
        last = std::max(last, seq);
    EXPECT_EQ(last + 1, s.sent.size());
}

TEST_F(node_test, freeze_in_the_past_and_double_freeze_are_refused)
{
    ring_port &a = add_port("a"), &b = add_port("b");
    start({make_link("l0", a, b, pipe_params{})});
    auto past = node->freeze(realtime_ns() - 1 * ms);
    ASSERT_FALSE(past.has_value());
    EXPECT_NE(past.error().message.find("in the past"), std::string::npos);
    ASSERT_TRUE(node->freeze(0).has_value());
    EXPECT_FALSE(node->freeze(0).has_value()) << "frozen twice";
    ASSERT_TRUE(node->thaw(0).has_value());
    EXPECT_FALSE(node->thaw(0).has_value()) << "thawed twice";
}

TEST_F(node_test, cancelling_a_scheduled_freeze_holds_nothing)
{
    ring_port &a = add_port("a"), &b = add_port("b");
    pipe_params p;
    p.delay_ns = 1 * ms;
    start({make_link("l0", a, b, p)});
    ASSERT_TRUE(node->freeze(realtime_ns() + 1000 * ms).has_value());
    ASSERT_TRUE(node->thaw(0).has_value());
    stream s;
    run_stream(a, b, s, 100 * us, realtime_ns() + 5 * ms);
    run_stream(a, b, s, 100 * us, realtime_ns() + 500 * ms, false);
    const auto &c = node->counters(*node->find("l0"), true);
    EXPECT_EQ(s.got.size(), s.sent.size()) << "rx " << c.rx_packets.get() << " tx " << c.tx_packets.get()
                                           << " fifo " << c.fifo_packets.get();
}

}  // namespace
}  // namespace stasis::test

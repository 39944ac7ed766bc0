// The delay node on ring ports: delay, rate, queue limits, VLAN multiplexing, runtime changes.
#include <algorithm>
#include <thread>

#include <rte_mbuf.h>

#include "eal.hpp"
#include "node_fixture.hpp"

namespace stasis::test {
namespace {

using dataplane::pipe_params;
constexpr int64_t ms = 1'000'000, us = 1'000;
// The test's thread sees a frame when it polls: never before the worker sent it, but possibly much
// later when the machine is busy. So "early" is checked strictly and "late" with this slack; the
// worker's own lateness histogram checks its timeliness.
constexpr int64_t observe_slack = 20 * ms;

// The fixture with its set-up open to helpers shared by several tests.
struct node_test_access : node_test {
    using node_test::add_port;
    using node_test::make_link;
    using node_test::start;
    using node_test::worker_opts;
};

int64_t median(std::vector<int64_t> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// Sends n frames from `from`, one every gap_ns, while taking what arrives on `to`; returns the send
// instants and what arrived (the test's thread does both, so arrival instants are not delayed by sending).
struct exchange_result {
    std::vector<int64_t> sent;
    std::vector<seen> got;
};

exchange_result exchange(ring_port &from, ring_port &to, uint32_t n, int64_t gap_ns, uint32_t len,
                         std::optional<uint16_t> vlan = std::nullopt, uint32_t first_seq = 0,
                         size_t expect = SIZE_MAX, int64_t linger_ns = 300 * ms)
{
    exchange_result r;
    if (expect == SIZE_MAX)
        expect = n;
    int64_t next = realtime_ns();
    int64_t deadline = INT64_MAX;
    while (r.got.size() < expect || r.sent.size() < n) {
        const int64_t now = realtime_ns();
        if (r.sent.size() < n && now >= next) {
            r.sent.push_back(now);
            EXPECT_TRUE(from.inject(make_frame(len, first_seq + uint32_t(r.sent.size() - 1), vlan)));
            next += gap_ns;
            if (r.sent.size() == n)
                deadline = now + linger_ns;
        }
        if (rte_mbuf *m = to.take()) {
            r.got.push_back({frame_seq(m), frame_vlan(m), rte_pktmbuf_pkt_len(m), realtime_ns()});
            rte_pktmbuf_free(m);
        }
        if (now > deadline)
            break;
    }
    return r;
}

TEST_F(node_test, delay_is_applied_in_both_directions_and_never_early)
{
    ring_port &a = add_port("a"), &b = add_port("b");
    pipe_params p;
    p.delay_ns = 2 * ms;
    start({make_link("l0", a, b, p)});

    const auto [sent, got] = exchange(a, b, 200, 100 * us, 100);
    ASSERT_EQ(got.size(), 200u);
    std::vector<int64_t> delays;
    for (size_t i = 0; i < got.size(); i++) {
        ASSERT_EQ(got[i].seq, i) << "reordered or lost";
        delays.push_back(got[i].at_ns - sent[i]);
        EXPECT_GE(delays.back(), 2 * ms) << "frame " << i << " left early";
    }
    EXPECT_LE(median(delays), 2 * ms + observe_slack);

    const auto [back_sent, back] = exchange(b, a, 50, 100 * us, 100, std::nullopt, 1000);
    ASSERT_EQ(back.size(), 50u);
    EXPECT_GE(back[0].at_ns - back_sent[0], 2 * ms);

    const auto &c = node->counters(*node->find("l0"), true);
    EXPECT_EQ(c.rx_packets.get(), 200u);
    EXPECT_EQ(c.tx_packets.get(), 200u);
    EXPECT_EQ(c.tx_bytes.get(), 200u * 100);
    // The worker's own view of its timeliness (a busy machine may deschedule it now and then).
    EXPECT_LE(c.lateness.quantile(0.5), uint64_t(1 * ms)) << "worker sends late";
}

TEST_F(node_test, rate_serializes_back_to_back_frames)
{
    ring_port &a = add_port("a"), &b = add_port("b");
    pipe_params p;
    p.rate_bps = 10'000'000;  // 1250-byte frames take exactly 1 ms
    start({make_link("l0", a, b, p)});

    const auto [sent, got] = exchange(a, b, 20, 0, 1250);
    ASSERT_EQ(got.size(), 20u);
    // Frame i cannot leave before i + 1 serialization times after the burst was sent.
    for (size_t i = 0; i < got.size(); i++)
        EXPECT_GE(got[i].at_ns - sent.front(), int64_t(i + 1) * ms) << "frame " << i << " beat the rate";
    EXPECT_LE(got.back().at_ns - sent.front(), 20 * ms + observe_slack);
    const auto &c = node->counters(*node->find("l0"), true);
    uint64_t recorded = 0;
    for (unsigned i = 0; i < dataplane::latency_histogram::buckets; i++)
        recorded += c.lateness.count(i);
    EXPECT_EQ(recorded, 20u) << "every departure has its lateness recorded";
}

TEST_F(node_test, queue_limit_in_slots_tail_drops_the_excess)
{
    ring_port &a = add_port("a"), &b = add_port("b");
    pipe_params p;
    p.rate_bps = 1'000'000;  // 1500 bytes = 12 ms: the queue cannot drain during the burst
    p.queue_slots = 5;
    start({make_link("l0", a, b, p)});

    const auto got = exchange(a, b, 20, 0, 1500, std::nullopt, 0, 5, 200 * ms).got;
    const auto &c = node->counters(*node->find("l0"), true);
    EXPECT_EQ(got.size(), 5u);
    EXPECT_EQ(c.drop_queue.get(), 15u);
    for (size_t i = 0; i < got.size(); i++)
        EXPECT_EQ(got[i].seq, i) << "the first five are admitted";
}

TEST_F(node_test, vlans_multiplex_links_with_their_own_delay)
{
    ring_port &a = add_port("a"), &b = add_port("b");
    pipe_params fast, slow;
    fast.delay_ns = 1 * ms;
    slow.delay_ns = 4 * ms;
    start({make_link("v10", a, b, fast, 10, 10), make_link("v20", a, b, slow, 20, 30)});

    const auto [s10, got10] = exchange(a, b, 20, 200 * us, 200, 10, 0);
    const auto [s20, got20] = exchange(a, b, 20, 200 * us, 200, 20, 100);
    exchange(a, b, 5, 0, 200, 99, 500, 0, 10 * ms);  // no link on VLAN 99

    ASSERT_EQ(got10.size(), 20u);
    ASSERT_EQ(got20.size(), 20u);
    std::vector<int64_t> d10, d20;
    for (size_t i = 0; i < 20; i++) {
        EXPECT_EQ(got10[i].vlan, std::optional<uint16_t>(10));
        EXPECT_EQ(got20[i].vlan, std::optional<uint16_t>(30)) << "egress VLAN is the b end's";
        EXPECT_EQ(got20[i].len, 204u) << "still one tag";
        d10.push_back(got10[i].at_ns - s10[i]);
        d20.push_back(got20[i].at_ns - s20[i]);
    }
    EXPECT_GE(*std::min_element(d10.begin(), d10.end()), 1 * ms);
    EXPECT_LE(median(d10), 1 * ms + observe_slack);
    EXPECT_GE(*std::min_element(d20.begin(), d20.end()), 4 * ms);
    EXPECT_LE(median(d20), 4 * ms + observe_slack);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(node->counters_of_port(a.id()).rx_unmatched.get(), 5u);
    EXPECT_EQ(node->counters(*node->find("v10"), true).rx_bytes.get(), 20u * 200) << "tag not counted";
}

TEST_F(node_test, untagged_to_tagged_and_back)
{
    ring_port &a = add_port("a"), &b = add_port("b");
    start({make_link("l0", a, b, pipe_params{}, std::nullopt, 42)});
    const auto got = exchange(a, b, 3, 0, 100).got;
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].vlan, std::optional<uint16_t>(42));
    EXPECT_EQ(got[0].len, 104u);
    const auto back = exchange(b, a, 3, 0, 100, 42, 10).got;
    ASSERT_EQ(back.size(), 3u);
    EXPECT_EQ(back[0].vlan, std::nullopt);
    EXPECT_EQ(back[0].len, 100u);
}

TEST_F(node_test, runtime_change_applies_without_losing_queued_packets)
{
    ring_port &a = add_port("a"), &b = add_port("b");
    pipe_params p;
    p.delay_ns = 1 * ms;
    p.queue_slots = 50;
    start({make_link("l0", a, b, p)});

    std::vector<seen> got;
    std::vector<int64_t> sent;
    pipe_params q = p;
    q.delay_ns = 3 * ms;
    q.rate_bps = 100'000'000;
    q.queue_slots = 2000;  // a larger queue: the worker gets new storage
    for (uint32_t i = 0; i < 2000; i++) {
        sent.push_back(realtime_ns());
        ASSERT_TRUE(a.inject(make_frame(100, i)));
        if (i == 1000) {
            ASSERT_TRUE(node->set_link("l0", dataplane::direction::a_to_b, q, p).has_value());
        }
        for (rte_mbuf *m; (m = b.take());) {
            got.push_back({frame_seq(m), std::nullopt, 0, realtime_ns()});
            rte_pktmbuf_free(m);
        }
        const int64_t until = realtime_ns() + 20 * us;
        while (realtime_ns() < until) {
        }
    }
    auto rest = collect(b, 2000 - got.size(), realtime_ns() + 500 * ms);
    got.insert(got.end(), rest.begin(), rest.end());
    ASSERT_EQ(got.size(), 2000u) << "a packet was lost across the change";
    for (size_t i = 0; i < got.size(); i++)
        ASSERT_EQ(got[i].seq, i);
    EXPECT_GE(got[100].at_ns - sent[100], 1 * ms);
    EXPECT_LE(got[100].at_ns - sent[100], 1 * ms + observe_slack);
    EXPECT_GE(got[1900].at_ns - sent[1900], 3 * ms) << "the new delay applies";
    EXPECT_LE(got[1900].at_ns - sent[1900], 3 * ms + observe_slack);
    EXPECT_EQ(node->find("l0")->applied.a_to_b.delay_ns, 3 * ms);
    EXPECT_EQ(node->find("l0")->applied.b_to_a.delay_ns, 1 * ms) << "only a_to_b changed";
}

// The dataplane benchmark's floors (plain forwarding with every frame held, as mbufs or as copies) are
// only a floor if they forward every frame, intact, in order, no sooner than the hold.
void check_floor(node_test_access &t, dataplane::worker_options::hold_kind kind)
{
    ring_port &a = t.add_port("fa"), &b = t.add_port("fb");
    pipe_params p;
    p.delay_ns = 2 * ms;  // sizes the mempool and the floor's rings as for a 2 ms link
    t.worker_opts.forward_only = true;
    t.worker_opts.hold = kind;
    t.worker_opts.hold_ns = 2 * ms;
    t.start({t.make_link("l0", a, b, p)});
    // The other direction first: it also warms the worker up, so that its first turns' slowness cannot
    // hide a frame leaving early below.
    const auto [back_sent, back] = exchange(b, a, 20, 20 * us, 60, std::nullopt, 1000);
    ASSERT_EQ(back.size(), 20u);
    EXPECT_EQ(back[19].seq, 1019u);
    const auto [sent, got] = exchange(a, b, 300, 20 * us, 60);
    ASSERT_EQ(got.size(), 300u);
    for (size_t i = 0; i < got.size(); i++) {
        ASSERT_EQ(got[i].seq, i) << "reordered, lost or damaged";
        EXPECT_EQ(got[i].len, 60u);
        EXPECT_GE(got[i].at_ns - sent[i], 2 * ms) << "frame " << i << " left early";
    }
}

TEST_F(node_test_access, the_benchmark_floor_holding_mbufs_forwards_every_frame_after_the_hold)
{
    check_floor(*this, dataplane::worker_options::hold_kind::mbufs);
}

TEST_F(node_test_access, the_benchmark_floor_holding_copies_forwards_every_frame_after_the_hold)
{
    check_floor(*this, dataplane::worker_options::hold_kind::copies);
}

TEST_F(node_test, two_workers_each_own_a_port_pair)
{
    ring_port &a = add_port("a"), &b = add_port("b"), &c = add_port("c"), &d = add_port("d");
    pipe_params p1, p2;
    p1.delay_ns = 1 * ms;
    p2.delay_ns = 2 * ms;
    start({make_link("l1", a, b, p1), make_link("l2", c, d, p2)}, {1, 2}, 20 * us);
    ASSERT_EQ(node->workers().size(), 2u);
    EXPECT_NE(node->find("l1")->worker, node->find("l2")->worker);

    const auto [s1, g1] = exchange(a, b, 10, 200 * us, 100);
    const auto [s2, g2] = exchange(c, d, 10, 200 * us, 100);
    ASSERT_EQ(g1.size(), 10u);
    ASSERT_EQ(g2.size(), 10u);
    EXPECT_GE(g1[0].at_ns - s1[0], 1 * ms);
    EXPECT_GE(g2[0].at_ns - s2[0], 2 * ms);
}

TEST_F(node_test, links_sharing_a_port_share_a_worker)
{
    ring_port &a = add_port("a"), &b = add_port("b"), &c = add_port("c");
    start({make_link("l1", a, b, pipe_params{}), make_link("l2", a, c, pipe_params{}, 7, std::nullopt)}, {1, 2},
          20 * us);
    EXPECT_EQ(node->find("l1")->worker, node->find("l2")->worker);
}

TEST(node_config, unknown_port_names_the_endpoint)
{
    dataplane::daemon_config cfg;
    dataplane::link_config l;
    l.name = "l0";
    l.a.port = "no_such_port";
    l.a.where = "x.conf:7: link 'l0' a.port";
    l.b.port = "no_such_port_either";
    l.b.where = "x.conf:8: link 'l0' b.port";
    cfg.links.push_back(l);
    cfg.worker_lcores = {1};
    try {
        dataplane::delay_node n(cfg, dataplane::node_clock::calibrate(), {});
        FAIL() << "started with unknown ports";
    } catch (const dataplane::startup_error &e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("x.conf:7: link 'l0' a.port: unknown port 'no_such_port'"), std::string::npos) << what;
        EXPECT_NE(what.find("x.conf:8"), std::string::npos) << "every error is reported: " << what;
    }
}

}  // namespace
}  // namespace stasis::test

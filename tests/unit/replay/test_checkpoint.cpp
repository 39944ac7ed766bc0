// Checkpoint equivalence: a replay frozen at T and resumed D later equals the uninterrupted replay with
// every departure at or after T moved by exactly D, whatever the link (loss, Gilbert-Elliott, RED, jitter).
#include <gtest/gtest.h>

#include "freeze.hpp"
#include "run_replay.hpp"

namespace stasis::replay::test {
namespace {

using dataplane::pipe_params;

struct named_link {
    const char *name;
    pipe_params p;
};

std::vector<named_link> links()
{
    std::vector<named_link> v;
    pipe_params p = link(10'000'000, 20 * ms, 30);
    v.push_back({"droptail", p});
    p.loss = dataplane::loss_kind::bernoulli;
    p.plr = 0.05;
    p.seed = 7;
    v.push_back({"bernoulli", p});
    p.loss = dataplane::loss_kind::gilbert_elliott;
    p.ge = {0.02, 0.3, 0.01, 0.8};
    p.seed = 8;
    v.push_back({"gilbert-elliott", p});
    pipe_params red = link(10'000'000, 5 * ms, 40);
    red.aqm = dataplane::aqm_kind::red;
    red.red = {5, 15, 0.02, 10};
    red.seed = 9;
    v.push_back({"red", red});
    pipe_params gred = link(8'000'000, 5 * ms, 50, 40'000);
    gred.aqm = dataplane::aqm_kind::gred;
    gred.red = {6000, 20000, 0.01, 5};
    gred.seed = 10;
    v.push_back({"gred-bytes", gred});
    pipe_params jit = link(10'000'000, 20 * ms, 30);
    jit.jitter_ns = 3 * ms;
    jit.jitter = dataplane::jitter_dist::normal;
    jit.seed = 11;
    v.push_back({"jitter-normal", jit});
    jit.jitter = dataplane::jitter_dist::paretonormal;
    jit.loss = dataplane::loss_kind::bernoulli;
    jit.plr = 0.01;
    v.push_back({"jitter-paretonormal-loss", jit});
    return v;
}

void check_equivalent(const named_link &l, const std::vector<packet> &in, int64_t at_ns, int64_t pause_ns,
                      bool expect_held)
{
    SCOPED_TRACE(std::string(l.name) + " T=" + std::to_string(at_ns) + " D=" + std::to_string(pause_ns));
    const auto plain = replay_packets(in, l.p);
    const auto cut = replay_packets(in, l.p, at_ns, pause_ns);
    const int64_t freeze = in.front().ts_ns + at_ns;
    ASSERT_EQ(cut.out.size(), plain.out.size());
    size_t moved = 0;
    for (size_t i = 0; i < plain.out.size(); i++) {
        packet want = plain.out[i];
        if (want.ts_ns >= freeze) {
            want.ts_ns += pause_ns;
            moved++;
        }
        ASSERT_EQ(cut.out[i], want) << "output packet " << i;
    }
    ASSERT_TRUE(cut.summary.checkpoint.has_value());
    if (expect_held) {
        EXPECT_GT(cut.summary.checkpoint->held_packets, 0u) << "the freeze must catch packets in flight";
        EXPECT_GT(moved, 0u);
        EXPECT_LT(moved, plain.out.size());
    }
    // In experiment time (the pause taken out) the checkpointed run reads exactly as the plain one.
    EXPECT_EQ(cut.report->exact(), plain.report->exact());
    if (l.p.jitter_ns == 0) {
        EXPECT_TRUE(cut.report->exact());
    }
    EXPECT_EQ(cut.report->delays().max(), plain.report->delays().max());
}

TEST(Checkpoint, EquivalentToUninterruptedShifted)
{
    const auto in = random_trace(21, 6'000, 800 * us);
    // Just after an arrival: with 5 ms or more of delay, packets are in flight then.
    const auto after = [&](size_t k, int64_t d) { return in[k].ts_ns - in.front().ts_ns + d; };
    for (const named_link &l : links()) {
        check_equivalent(l, in, after(3'000, 1), 10'000 * ms, true);
        check_equivalent(l, in, after(2'000, 123), 1, true);
        check_equivalent(l, in, after(1'500, 2 * ms), 3 * 86'400'000 * ms, true);  // three days
    }
}

TEST(Checkpoint, AtEdges)
{
    const auto in = random_trace(22, 2'000, 800 * us);
    const int64_t span = in.back().ts_ns - in.front().ts_ns;
    const named_link l = links()[1];
    check_equivalent(l, in, 0, 5 * ms, false);                  // at the first arrival
    check_equivalent(l, in, span, 5 * ms, false);               // at the last arrival
    check_equivalent(l, in, span + 1 * ms, 5 * ms, true);       // after it, packets still in flight
    check_equivalent(l, in, span + 3600'000 * ms, 5 * ms, false);  // long after: nothing left
    check_equivalent(l, in, in[1'000].ts_ns - in.front().ts_ns, 0, true);  // thaw in place
}

TEST(Checkpoint, DeparturesAtTheFreezeInstantAreHeld)
{
    // Pure delay: departures at 10 ms and 11 ms; a freeze at exactly 10 ms holds the first as well.
    const std::vector<packet> in = {{epoch, 100, 64, 1}, {epoch + 1 * ms, 100, 64, 2}};
    const auto cut = replay_packets(in, link(0, 10 * ms), 10 * ms, 1 * ms);
    ASSERT_EQ(cut.out.size(), 2u);
    EXPECT_EQ(cut.out[0].ts_ns, epoch + 11 * ms);
    EXPECT_EQ(cut.out[1].ts_ns, epoch + 12 * ms);
    EXPECT_EQ(cut.summary.checkpoint->held_packets, 2u);
    const auto before = replay_packets(in, link(0, 10 * ms), 10 * ms + 1, 1 * ms);
    EXPECT_EQ(before.out[0].ts_ns, epoch + 10 * ms);  // left before the freeze
}

TEST(Checkpoint, ImageRoundTrip)
{
    pipe_params p = link(10'000'000, 20 * ms, 30);
    p.loss = dataplane::loss_kind::gilbert_elliott;
    p.ge = {0.1, 0.2, 0.1, 0.9};
    p.aqm = dataplane::aqm_kind::red;
    p.red = {5, 15, 0.02, 10};
    dataplane::pipe_model m(p);
    std::deque<held_packet> held;
    for (const packet &x : random_trace(23, 500, 300 * us)) {
        const auto v = m.arrive(x.ts_ns, x.len);
        if (v.drop == dataplane::drop_reason::none)
            held.push_back({v.depart_ns, x.ts_ns, x.tag, x.len, std::vector<uint8_t>(x.caplen, x.tag)});
    }
    const dataplane::pipe_state s = m.save();
    ASSERT_FALSE(s.queue.empty());
    const std::vector<uint8_t> image = encode_frozen(s, held);
    dataplane::pipe_state back;
    std::deque<held_packet> held_back;
    decode_frozen(image, back, held_back);
    EXPECT_EQ(back, s);
    EXPECT_EQ(held_back, held);

    std::vector<uint8_t> cut(image.begin(), image.end() - 1);
    EXPECT_THROW(decode_frozen(cut, back, held_back), replay_error);
}

}  // namespace
}  // namespace stasis::replay::test

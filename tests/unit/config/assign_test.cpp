// Run-time changes: `link set` words -> Pipe, and Pipe over applied parameters, with the file's rules.
#include <gtest/gtest.h>

#include "config_test_util.hpp"

namespace stasis::dataplane {
namespace {

namespace pb = stasis::config;
using test::link_with;
using test::only_error;

pb::Pipe words(std::vector<std::string> args) {
    auto p = parse_assignments(args);
    EXPECT_TRUE(p.has_value()) << p.error();
    return p.value_or(pb::Pipe{});
}

std::string word_error(std::vector<std::string> args) {
    auto p = parse_assignments(args);
    if (p) {
        ADD_FAILURE() << "accepted: " << p->ShortDebugString();
        return "";
    }
    return p.error();
}

pipe_params applied(const pipe_params &base, std::vector<std::string> args) {
    auto p = apply_changes(base, words(std::move(args)));
    EXPECT_TRUE(p.has_value()) << p.error();
    return p.value_or(base);
}

TEST(Assignments, EveryKeyAndAlias) {
    const pb::Pipe p = words({"delay=20ms", "jitter=1ms", "jitter_dist=Normal", "bw=10Mbit",
                              "limit=100", "queue_bytes=64KB", "loss=0.01", "aqm=red", "thresh=3",
                              "maxthresh=9", "q_weight=0.5", "linterm=4", "ge_p=0.1", "ge_r=0.2",
                              "ge_loss_good=0.01", "ge_loss_bad=0.9", "seed=7"});
    EXPECT_EQ(p.delay(), "20ms");
    EXPECT_EQ(p.jitter(), "1ms");
    EXPECT_EQ(p.jitter_dist(), pb::NORMAL);
    EXPECT_EQ(p.rate(), "10Mbit");
    EXPECT_EQ(p.queue_slots(), 100u);
    EXPECT_EQ(p.queue_bytes(), "64KB");
    EXPECT_EQ(p.plr(), 0.01);
    EXPECT_EQ(p.aqm(), pb::RED);
    EXPECT_EQ(p.red().thresh(), 3);
    EXPECT_EQ(p.red().maxthresh(), 9);
    EXPECT_EQ(p.red().q_weight(), 0.5);
    EXPECT_EQ(p.red().linterm(), 4u);
    EXPECT_EQ(p.gilbert_elliott().p(), 0.1);
    EXPECT_EQ(p.gilbert_elliott().r(), 0.2);
    EXPECT_EQ(p.gilbert_elliott().loss_good(), 0.01);
    EXPECT_EQ(p.gilbert_elliott().loss_bad(), 0.9);
    EXPECT_EQ(p.seed(), 7u);
    EXPECT_EQ(words({"rate=1Gbit"}).rate(), "1Gbit");
    EXPECT_EQ(words({"bandwidth=0"}).rate(), "0");
    EXPECT_EQ(words({"queue=5"}).queue_slots(), 5u);
    EXPECT_EQ(words({"queue_slots=6"}).queue_slots(), 6u);
    EXPECT_EQ(words({"plr=0"}).has_plr(), true);
    EXPECT_EQ(words({}).ByteSizeLong(), 0u);
}

TEST(Assignments, ErrorsNameTheWord) {
    EXPECT_EQ(word_error({"delay"}), "'delay': expected key=value (e.g. delay=10ms)");
    EXPECT_EQ(word_error({"delay="}), "'delay=': expected key=value (e.g. delay=10ms)");
    EXPECT_EQ(word_error({"=5"}), "'=5': expected key=value (e.g. delay=10ms)");
    EXPECT_EQ(word_error({"delay=1ms", "dealy=2ms"}).substr(0, 35), "'dealy=2ms': unknown key 'dealy' (k");
    EXPECT_EQ(word_error({"delay=abc"}), "'delay=abc': malformed duration 'abc' (write e.g. '10ms')");
    EXPECT_EQ(word_error({"delay=-5ms"}), "'delay=-5ms': negative duration '-5ms'");
    EXPECT_EQ(word_error({"plr=lots"}), "'plr=lots': 'lots' is not a number");
    EXPECT_EQ(word_error({"plr=0.1x"}), "'plr=0.1x': '0.1x' is not a number");
    EXPECT_EQ(word_error({"queue=-1"}), "'queue=-1': '-1' is not a number");
    EXPECT_EQ(word_error({"seed=18446744073709551616"}),
              "'seed=18446744073709551616': '18446744073709551616' is not a number");
    EXPECT_EQ(word_error({"rate=1000"}),
              "'rate=1000': rate '1000' needs a unit here (e.g. '1000kbit' or '1000Mbit')");
    EXPECT_EQ(word_error({"bw=1MBps"}),
              "'bw=1MBps': rate '1MBps': a capital B means bytes; rates are in bits per second "
              "(write e.g. '80Mbit' for 10 MB/s)");
    EXPECT_EQ(word_error({"aqm=codel"}), "'aqm=codel': unknown aqm 'codel' (droptail, red or gred)");
    EXPECT_EQ(word_error({"jitter_dist=gauss"}),
              "'jitter_dist=gauss': unknown jitter_dist 'gauss' (uniform, normal, pareto or paretonormal)");
    EXPECT_EQ(word_error({"rate=1Mbit", "bw=2Mbit"}), "'bw=2Mbit': rate is set twice");
    EXPECT_EQ(word_error({"queue_bytes=64kb"}),
              "'queue_bytes=64kb': size '64kb': a lowercase b means bits; write B for bytes (e.g. '64KB')");
}

TEST(ApplyChanges, ChangesOnlyWhatIsSet) {
    pipe_params base;
    base.delay_ns = 10'000'000;
    base.rate_bps = 1'000'000;
    base.seed = 99;
    base.fifo_slots = 256;
    pipe_params want = base;
    want.delay_ns = 20'000'000;
    EXPECT_EQ(applied(base, {"delay=20ms"}), want);
    EXPECT_EQ(applied(base, {}), base);
}

TEST(ApplyChanges, SameRulesAndMessagesAsTheFile) {
    const pipe_params base;
    pb::Pipe bad_plr;
    bad_plr.set_plr(1.5);
    EXPECT_EQ(apply_changes(base, bad_plr).error(), "plr: 1.5 is not in [0, 1]");
    pb::Pipe bad_delay;  // as it may arrive on the control socket, unchecked by the CLI
    bad_delay.set_delay("-5ms");
    EXPECT_EQ(apply_changes(base, bad_delay).error(), "delay: negative duration '-5ms'");
    // The file says the same after its location.
    EXPECT_EQ(only_error(link_with("  a_to_b { plr: 1.5 }\n")),
              "t.conf:5: link 'l' a_to_b.plr: 1.5 is not in [0, 1]");
    EXPECT_EQ(apply_changes(base, words({"queue=10", "aqm=red"})).error(),
              "red.maxthresh: RED maxthresh 15 is above the queue limit of 10 packets (queue_slots)");
    EXPECT_EQ(apply_changes(base, words({"plr=2", "q_weight=0"})).error(),
              "plr: 2 is not in [0, 1]; red.q_weight: 0 is not in (0, 1]");
}

TEST(ApplyChanges, LossModelFollowsTheLastSetting) {
    pipe_params ge;
    ge.loss = loss_kind::gilbert_elliott;
    ge.ge = {0.1, 0.2, 0, 1};
    const pipe_params bern = applied(ge, {"plr=0.05"});
    EXPECT_EQ(bern.loss, loss_kind::bernoulli);
    EXPECT_EQ(bern.plr, 0.05);
    EXPECT_EQ(applied(bern, {"plr=0"}).loss, loss_kind::none);
    const pipe_params back = applied(bern, {"ge_p=0.3"});
    EXPECT_EQ(back.loss, loss_kind::gilbert_elliott);
    EXPECT_EQ(back.ge.p, 0.3);
    EXPECT_EQ(back.ge.r, 1);  // a fresh model: the defaults for the rest
    EXPECT_EQ(applied(ge, {"ge_r=0.5"}).ge.p, 0.1);  // an existing model keeps the rest
}

TEST(ApplyChanges, QueueLimitFollowsTheLastSetting) {
    pipe_params base;
    const pipe_params bytes = applied(base, {"queue_bytes=64KB"});
    EXPECT_EQ(bytes.queue_bytes, 64'000u);
    const pipe_params slots = applied(bytes, {"queue=20"});
    EXPECT_EQ(slots.queue_bytes, 0u);
    EXPECT_EQ(slots.queue_slots, 20u);
}

TEST(ApplyChanges, KeepsSeedAndFifoUnlessChanged) {
    pipe_params base;
    base.seed = 12345;
    base.fifo_slots = 1024;
    const pipe_params p = applied(base, {"rate=5Mbit", "aqm=gred"});
    EXPECT_EQ(p.seed, 12345u);
    EXPECT_EQ(p.fifo_slots, 1024u);
    EXPECT_EQ(p.rate_bps, 5'000'000u);
    EXPECT_EQ(p.aqm, aqm_kind::gred);
    EXPECT_EQ(applied(base, {"seed=1"}).seed, 1u);
}

}  // namespace
}  // namespace stasis::dataplane

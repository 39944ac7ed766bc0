// Command-line link options: config units and rules, errors naming the option.
#include <gtest/gtest.h>

#include "stasis/replay/link_options.hpp"

namespace stasis::replay::test {
namespace {

TEST(Options, UnitsAndDefaults)
{
    link_options o;
    o.delay = "7ms";
    o.rate = "12Mbit";
    o.queue = "50";
    const auto p = link_from_options(o);
    ASSERT_TRUE(p) << p.error();
    EXPECT_EQ(p->delay_ns, 7'000'000);
    EXPECT_EQ(p->rate_bps, 12'000'000u);
    EXPECT_EQ(p->queue_slots, 50u);
    EXPECT_EQ(p->queue_bytes, 0u);
    EXPECT_EQ(p->loss, dataplane::loss_kind::none);
    EXPECT_EQ(p->seed, 1u);
}

TEST(Options, EveryOption)
{
    link_options o;
    o.queue_bytes = "64KB";
    o.queue = "10";  // the byte limit wins, as in a file block that sets both
    o.jitter = "1.5ms";
    o.jitter_dist = "paretonormal";
    o.ge = "0.01,0.3,0.001,0.9";
    o.aqm = "gred";
    o.red = "8000,32000,0.004,5";
    o.seed = "42";
    const auto p = link_from_options(o);
    ASSERT_TRUE(p) << p.error();
    EXPECT_EQ(p->queue_bytes, 64'000u);
    EXPECT_EQ(p->jitter_ns, 1'500'000);
    EXPECT_EQ(p->jitter, dataplane::jitter_dist::paretonormal);
    EXPECT_EQ(p->loss, dataplane::loss_kind::gilbert_elliott);
    EXPECT_EQ(p->ge, (dataplane::gilbert_elliott_params{0.01, 0.3, 0.001, 0.9}));
    EXPECT_EQ(p->aqm, dataplane::aqm_kind::gred);
    EXPECT_EQ(p->red, (dataplane::red_params{8000, 32000, 0.004, 5}));
    EXPECT_EQ(p->seed, 42u);

    link_options two;
    two.ge = "0.02,0.5";  // netem's simple Gilbert: loss_good 0, loss_bad 1
    const auto q = link_from_options(two);
    ASSERT_TRUE(q) << q.error();
    EXPECT_EQ(q->ge, (dataplane::gilbert_elliott_params{0.02, 0.5, 0, 1}));
}

TEST(Options, ErrorsReadAsTheConfigFile)
{
    auto error = [](link_options o) {
        const auto p = link_from_options(o);
        return p ? std::string("(accepted)") : p.error();
    };
    link_options o;
    o.plr = "1.5";
    EXPECT_EQ(error(o), "plr: 1.5 is not in [0, 1]");
    o = {};
    o.rate = "12";
    EXPECT_NE(error(o).find("--rate 12: 'rate=12': rate '12' needs a unit"), std::string::npos) << error(o);
    o = {};
    o.delay = "1.5ns";
    EXPECT_EQ(error(o).rfind("--delay 1.5ns: ", 0), 0u) << error(o);
    o = {};
    o.red = "5,15";
    EXPECT_EQ(error(o), "--red 5,15: RED parameters need --aqm red or --aqm gred");
    o = {};
    o.ge = "0.1";
    EXPECT_EQ(error(o),
              "--ge 0.1: expected 2 to 4 comma-separated values: ge_p,ge_r,ge_loss_good,ge_loss_bad");
    o = {};
    o.plr = "0.1";
    o.ge = "0.1,0.2";
    EXPECT_EQ(error(o), "--plr and --ge: choose one loss model");
    o = {};
    o.queue = "10";
    o.aqm = "red";
    EXPECT_NE(error(o).find("maxthresh"), std::string::npos) << error(o);
}

}  // namespace
}  // namespace stasis::replay::test

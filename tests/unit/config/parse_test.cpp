// Parsing: the shipped example, defaults, merging of `shape` and direction blocks, locations.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "config_test_util.hpp"

namespace stasis::dataplane {
namespace {

using test::link_with;

const std::string example_path = STASIS_SOURCE_ROOT "/dataplane/config/example.conf";

daemon_config expected_example() {
    daemon_config c;
    c.worker_lcores = {1, 2};
    c.idle_sleep_ns = 50'000;

    link_config wan;
    wan.name = "wan0";
    wan.a = {"net_af_packet0", 101, ""};
    wan.b = {"net_af_packet1", 101, ""};
    wan.a_to_b.delay_ns = 25'000'000;
    wan.a_to_b.rate_bps = 100'000'000;
    wan.a_to_b.queue_slots = 50;
    wan.b_to_a = wan.a_to_b;
    wan.a_to_b.plr = 0.001;
    wan.a_to_b.loss = loss_kind::bernoulli;
    wan.a_to_b.seed = 0x4253c40240fb0a80;  // FNV-1a 64 of "wan0/a_to_b"
    wan.b_to_a.jitter_ns = 2'000'000;
    wan.b_to_a.jitter = jitter_dist::normal;
    wan.b_to_a.seed = 0x1cd169a38ac41f92;  // "wan0/b_to_a"

    link_config dsl;
    dsl.name = "dsl0";
    dsl.a = {"net_af_packet0", 102, ""};
    dsl.b = {"net_af_packet1", 102, ""};
    dsl.a_to_b.delay_ns = dsl.b_to_a.delay_ns = 10'000'000;
    dsl.a_to_b.rate_bps = 16'000'000;
    dsl.a_to_b.queue_bytes = 65'536;
    dsl.a_to_b.aqm = aqm_kind::red;
    dsl.a_to_b.red = {6000, 48000, 0.002, 10};
    dsl.a_to_b.seed = 0x676b2bf633d6ff39;  // "dsl0/a_to_b"
    dsl.b_to_a.rate_bps = 1'000'000;
    dsl.b_to_a.loss = loss_kind::gilbert_elliott;
    dsl.b_to_a.ge = {0.01, 0.3, 0, 1};  // loss_good and loss_bad default to 0 and 1
    dsl.b_to_a.seed = 42;
    c.links = {wan, dsl};
    return c;
}

TEST(ParseConfig, ExampleFileGivesTheExpectedStructs) {
    const daemon_config c = load_config_file(example_path);
    EXPECT_EQ(c, expected_example());
    ASSERT_EQ(c.links.size(), 2u);
    EXPECT_EQ(c.links[0].where, example_path + ":13: link 'wan0'");
    EXPECT_EQ(c.links[0].a.where, example_path + ":15: link 'wan0' a.port");
    EXPECT_EQ(c.links[1].b.where, example_path + ":31: link 'dsl0' b.port");
}

TEST(ParseConfig, EmptyFileIsTheDefaults) {
    EXPECT_EQ(parse_config("", "t.conf"), daemon_config{});
    EXPECT_EQ(parse_config("# nothing\n", "t.conf"), daemon_config{});
}

TEST(ParseConfig, UnsetPipeFieldsTakeTheModelDefaults) {
    const daemon_config c = parse_config(link_with(""), "t.conf");
    ASSERT_EQ(c.links.size(), 1u);
    pipe_params want;
    want.seed = default_seed("l", true);
    EXPECT_EQ(c.links[0].a_to_b, want);
    EXPECT_EQ(c.links[0].a_to_b.queue_slots, 50u);
    EXPECT_EQ(c.links[0].a_to_b.loss, loss_kind::none);
    EXPECT_NE(c.links[0].a_to_b.seed, c.links[0].b_to_a.seed);
}

TEST(ParseConfig, DefaultSeedIsFnv1aOfNameAndDirection) {
    EXPECT_EQ(default_seed("x", true), 0x6b21bf1ada5398e4u);
    EXPECT_NE(default_seed("x", true), default_seed("x", false));
    EXPECT_NE(default_seed("x", true), default_seed("y", true));
}

TEST(ParseConfig, DirectionBlocksMergeFieldWiseOverShape) {
    const daemon_config c = parse_config(link_with(R"(
  shape { delay: "5ms" rate: "10Mbit" red { thresh: 2 maxthresh: 8 } gilbert_elliott { p: 0.1 } }
  a_to_b { delay: "7ms" red { maxthresh: 9 } gilbert_elliott { loss_bad: 0.5 } }
)"), "t.conf");
    const pipe_params &ab = c.links[0].a_to_b, &ba = c.links[0].b_to_a;
    EXPECT_EQ(ab.delay_ns, 7'000'000);
    EXPECT_EQ(ba.delay_ns, 5'000'000);
    EXPECT_EQ(ab.rate_bps, 10'000'000u);
    EXPECT_EQ(ab.red.thresh, 2);
    EXPECT_EQ(ab.red.maxthresh, 9);
    EXPECT_EQ(ba.red.maxthresh, 8);
    EXPECT_EQ(ab.red.q_weight, 0.002);  // neither level set it: the default
    EXPECT_EQ(ab.loss, loss_kind::gilbert_elliott);
    EXPECT_EQ(ab.ge.p, 0.1);
    EXPECT_EQ(ab.ge.loss_bad, 0.5);
    EXPECT_EQ(ba.ge.loss_bad, 1);
}

TEST(ParseConfig, LossKindFollowsTheBlocks) {
    const daemon_config c = parse_config(link_with(R"(
  shape { gilbert_elliott { p: 0.1 r: 0.2 } }
  a_to_b { plr: 0.05 }
)") + R"(
link {
  name: "m" a { port: "p2" } b { port: "p3" }
  a_to_b { plr: 0 }
  b_to_a { plr: 0.5 }
})", "t.conf");
    // plr in a direction block replaces the Gilbert-Elliott model of `shape` there.
    EXPECT_EQ(c.links[0].a_to_b.loss, loss_kind::bernoulli);
    EXPECT_EQ(c.links[0].a_to_b.plr, 0.05);
    EXPECT_EQ(c.links[0].b_to_a.loss, loss_kind::gilbert_elliott);
    EXPECT_EQ(c.links[1].a_to_b.loss, loss_kind::none);
    EXPECT_EQ(c.links[1].b_to_a.loss, loss_kind::bernoulli);
}

TEST(ParseConfig, QueueSlotsInADirectionReplaceShapesByteLimit) {
    const daemon_config c = parse_config(link_with(R"(
  shape { queue_bytes: "64KB" }
  a_to_b { queue_slots: 100 }
)"), "t.conf");
    EXPECT_EQ(c.links[0].a_to_b.queue_bytes, 0u);
    EXPECT_EQ(c.links[0].a_to_b.queue_slots, 100u);
    EXPECT_EQ(c.links[0].b_to_a.queue_bytes, 64'000u);
}

TEST(ParseConfig, FifoSlotsRoundUpToAPowerOfTwo) {
    const daemon_config c =
        parse_config(link_with("  a_to_b { fifo_slots: 1000 }\n  b_to_a { fifo_slots: 0 }\n"), "t.conf");
    EXPECT_EQ(c.links[0].a_to_b.fifo_slots, 1024u);
    EXPECT_EQ(c.links[0].b_to_a.fifo_slots, 0u);
}

TEST(ParseConfig, RedWithoutABlockUsesEmulabDefaults) {
    const daemon_config c = parse_config(link_with("  shape { aqm: GRED }\n"), "t.conf");
    EXPECT_EQ(c.links[0].a_to_b.aqm, aqm_kind::gred);
    EXPECT_EQ(c.links[0].a_to_b.red.thresh, 5);
    EXPECT_EQ(c.links[0].a_to_b.red.maxthresh, 15);
    EXPECT_EQ(c.links[0].a_to_b.red.linterm, 10u);
}

TEST(ParseConfig, OnePortCarriesTaggedAndUntaggedLinks) {
    const std::string text = R"(
link { name: "u" a { port: "p0" } b { port: "p1" } }
link { name: "t1" a { port: "p0" vlan: 10 } b { port: "p1" vlan: 10 } }
link { name: "t2" a { port: "p0" vlan: 11 } b { port: "p0" vlan: 12 } }
)";
    const daemon_config c = parse_config(text, "t.conf");
    ASSERT_EQ(c.links.size(), 3u);
    EXPECT_EQ(c.links[0].a.vlan, std::nullopt);
    EXPECT_EQ(c.links[2].b.vlan, 12);
}

TEST(ParseConfig, MissingFileIsAConfigError) {
    try {
        load_config_file("/nonexistent/delayd.conf");
        FAIL() << "no error";
    } catch (const config_error &e) {
        EXPECT_EQ(std::string(e.what()), "/nonexistent/delayd.conf: cannot open: No such file or directory");
    }
}

// Every ```conf block of the reference parses, so the documentation cannot drift from the parser.
TEST(ParseConfig, DocumentationExamplesParse) {
    std::ifstream in(STASIS_SOURCE_ROOT "/docs/CONFIG.md");
    ASSERT_TRUE(in) << "docs/CONFIG.md";
    std::string line, block;
    bool inside = false;
    int blocks = 0, start = 0, n = 0;
    while (std::getline(in, line)) {
        ++n;
        if (!inside && line == "```conf") {
            inside = true;
            block.clear();
            start = n + 1;
        } else if (inside && line == "```") {
            inside = false;
            ++blocks;
            SCOPED_TRACE("docs/CONFIG.md block at line " + std::to_string(start));
            EXPECT_NO_THROW(parse_config(block, "CONFIG.md")) << block;
        } else if (inside) {
            block += line + "\n";
        }
    }
    EXPECT_GE(blocks, 2);
}

// The full example in the reference is the shipped example file.
TEST(ParseConfig, DocumentationCarriesTheExampleFile) {
    std::ifstream doc(STASIS_SOURCE_ROOT "/docs/CONFIG.md"), ex(example_path);
    std::stringstream d, e;
    d << doc.rdbuf();
    e << ex.rdbuf();
    EXPECT_NE(d.str().find("```conf\n" + e.str() + "```"), std::string::npos);
}

}  // namespace
}  // namespace stasis::dataplane

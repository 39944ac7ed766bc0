// Every rule names the file, the line the user wrote and the field; all errors come at once.
#include <gtest/gtest.h>

#include "config_test_util.hpp"

namespace stasis::dataplane {
namespace {

using test::errors_of;
using test::link_with;
using test::only_error;

// link_with() puts the pipe blocks from line 5 on.
struct rule_case {
    const char *name;
    std::string text;
    std::string error;
};

// Failures name the case instead of dumping its bytes.
void PrintTo(const rule_case &c, std::ostream *os) { *os << c.name; }

class Rule : public ::testing::TestWithParam<rule_case> {};

TEST_P(Rule, NamesFileLineAndField) { EXPECT_EQ(only_error(GetParam().text), GetParam().error); }

INSTANTIATE_TEST_SUITE_P(Pipe, Rule, ::testing::Values(
    rule_case{"negative_delay", link_with("  a_to_b { delay: \"-5ms\" }\n"),
              "t.conf:5: link 'l' a_to_b.delay: negative duration '-5ms'"},
    rule_case{"delay_too_long", link_with("  b_to_a { delay: \"7200s\" }\n"),
              "t.conf:5: link 'l' b_to_a.delay: 7200s is above the maximum of 3600s"},
    // A bad value in `shape` breaks both directions but is reported once, at shape.
    rule_case{"negative_jitter_in_shape", link_with("  shape { jitter: \"-1ms\" }\n"),
              "t.conf:5: link 'l' shape.jitter: negative duration '-1ms'"},
    rule_case{"bad_rate", link_with("  a_to_b { rate: \"fast\" }\n"),
              "t.conf:5: link 'l' a_to_b.rate: malformed rate 'fast' (write e.g. '100Mbit')"},
    rule_case{"plr_above_one", link_with("  b_to_a { plr: 1.5 }\n"),
              "t.conf:5: link 'l' b_to_a.plr: 1.5 is not in [0, 1]"},
    rule_case{"ge_probability", link_with("  a_to_b {\n    gilbert_elliott {\n      p: 0.1\n"
                                          "      r: -0.5\n    }\n  }\n"),
              "t.conf:8: link 'l' a_to_b.gilbert_elliott.r: -0.5 is not in [0, 1]"},
    rule_case{"queue_slots_zero", link_with("  a_to_b { queue_slots: 0 }\n"),
              "t.conf:5: link 'l' a_to_b.queue_slots: 0 is not in 1..1048576"},
    rule_case{"queue_bytes_small", link_with("  a_to_b { queue_bytes: \"10B\" }\n"),
              "t.conf:5: link 'l' a_to_b.queue_bytes: 10B is below the minimum of 64B "
              "(or 0: limit in slots)"},
    rule_case{"queue_bytes_bits", link_with("  a_to_b { queue_bytes: \"64kb\" }\n"),
              "t.conf:5: link 'l' a_to_b.queue_bytes: size '64kb': a lowercase b means bits; "
              "write B for bytes (e.g. '64KB')"},
    rule_case{"red_order", link_with("  shape {\n    aqm: RED\n    red { thresh: 10 maxthresh: 5 }\n  }\n"),
              "t.conf:7: link 'l' shape.red.maxthresh: maxthresh 5 is not above thresh 10"},
    rule_case{"red_thresh_zero", link_with("  a_to_b { red { thresh: 0 } }\n"),
              "t.conf:5: link 'l' a_to_b.red.thresh: 0 is not above 0"},
    rule_case{"red_q_weight_zero", link_with("  a_to_b { red { q_weight: 0 } }\n"),
              "t.conf:5: link 'l' a_to_b.red.q_weight: 0 is not in (0, 1]"},
    rule_case{"red_q_weight_big", link_with("  a_to_b { red { q_weight: 1.5 } }\n"),
              "t.conf:5: link 'l' a_to_b.red.q_weight: 1.5 is not in (0, 1]"},
    rule_case{"red_linterm_zero", link_with("  a_to_b { red { linterm: 0 } }\n"),
              "t.conf:5: link 'l' a_to_b.red.linterm: 0 is not at least 1 (max_p = 1/linterm)"},
    // maxthresh is the default here: the message is placed at the queue limit the user wrote.
    rule_case{"red_above_slot_limit", link_with("  shape {\n    aqm: RED\n    queue_slots: 10\n  }\n"),
              "t.conf:7: link 'l' shape.queue_slots: RED maxthresh 15 is above the queue limit of "
              "10 packets (queue_slots)"},
    rule_case{"red_above_byte_limit",
              link_with("  a_to_b {\n    queue_bytes: \"1KB\"\n    aqm: GRED\n"
                        "    red { thresh: 100 maxthresh: 2000 }\n  }\n"),
              "t.conf:8: link 'l' a_to_b.red.maxthresh: RED maxthresh 2000 is above the queue "
              "limit of 1000 bytes (queue_bytes)"},
    rule_case{"red_defaults_on_byte_queue", link_with("  a_to_b { queue_bytes: \"64KB\" aqm: RED }\n"),
              "t.conf:5: link 'l' a_to_b.queue_bytes: RED thresh 5 is below one 64-byte packet: "
              "thresholds are in bytes when queue_bytes limits the queue"},
    rule_case{"fifo_too_big", link_with("  a_to_b { fifo_slots: 33554432 }\n"),
              "t.conf:5: link 'l' a_to_b.fifo_slots: 33554432 is above the maximum of 16777216"}),
    [](const auto &info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(Link, Rule, ::testing::Values(
    rule_case{"missing_name", "link {\n  a { port: \"p0\" }\n  b { port: \"p1\" }\n}\n",
              "t.conf:1: link #1 name: missing name"},
    rule_case{"odd_name", link_with("", "lan 0"),
              "t.conf:2: link 'lan 0' name: names have at most 64 letters, digits, '_', '-' or '.'"},
    rule_case{"duplicate_name",
              link_with("") + "link {\n  name: \"l\"\n  a { port: \"p2\" }\n  b { port: \"p3\" }\n}\n",
              "t.conf:7: link 'l' name: duplicate name (first used at line 1)"},
    rule_case{"missing_port", "link {\n  name: \"l\"\n  a { }\n  b { port: \"p1\" }\n}\n",
              "t.conf:3: link 'l' a.port: missing port"},
    rule_case{"vlan_range", "link {\n  name: \"l\"\n  a { port: \"p0\" vlan: 4095 }\n  b { port: \"p1\" }\n}\n",
              "t.conf:3: link 'l' a.vlan: 4095 is not in 1..4094"},
    rule_case{"vlan_zero", "link {\n  name: \"l\"\n  a { port: \"p0\" }\n  b { port: \"p1\" vlan: 0 }\n}\n",
              "t.conf:4: link 'l' b.vlan: 0 is not in 1..4094"},
    rule_case{"same_endpoints",
              "link {\n  name: \"l\"\n  a { port: \"p0\" vlan: 5 }\n  b {\n    port: \"p0\"\n    vlan: 5\n  }\n}\n",
              "t.conf:5: link 'l' b: same endpoint as a (port 'p0' vlan 5)"},
    rule_case{"endpoint_reused",
              link_with("") + "link {\n  name: \"m\"\n  a { port: \"p0\" }\n  b { port: \"p3\" }\n}\n",
              "t.conf:8: link 'm' a: port 'p0' untagged is already used by link 'l' a (line 3)"},
    rule_case{"tagged_endpoint_reused",
              "link { name: \"l\" a { port: \"p0\" vlan: 7 } b { port: \"p1\" } }\n"
              "link { name: \"m\" a { port: \"p2\" } b { port: \"p0\" vlan: 7 } }\n",
              "t.conf:2: link 'm' b: port 'p0' vlan 7 is already used by link 'l' a (line 1)"}),
    [](const auto &info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(Daemon, Rule, ::testing::Values(
    rule_case{"burst_zero", "daemon {\n  burst: 0\n}\n", "t.conf:2: daemon.burst: 0 is not in 1..512"},
    rule_case{"burst_big", "daemon { burst: 513 }\n", "t.conf:1: daemon.burst: 513 is not in 1..512"},
    rule_case{"control", "daemon {\n\n  control: \"localhost:6001\"\n}\n",
              "t.conf:3: daemon.control: 'localhost:6001' is not a ZeroMQ endpoint (tcp://host:port, "
              "ipc://path or inproc://name)"},
    rule_case{"idle_sleep_unit", "daemon { idle_sleep: \"50\" }\n",
              "t.conf:1: daemon.idle_sleep: duration '50' needs a unit (ns, us, ms or s)"},
    rule_case{"idle_sleep_long", "daemon { idle_sleep: \"2s\" }\n",
              "t.conf:1: daemon.idle_sleep: '2s' is above the maximum of 1s"},
    rule_case{"lcore_twice", "daemon {\n  worker_lcores: 1\n  worker_lcores: 2\n  worker_lcores: 1\n}\n",
              "t.conf:4: daemon.worker_lcores: lcore 1 is listed twice"},
    rule_case{"mbufs", "daemon { mbufs: 100 }\n",
              "t.conf:1: daemon.mbufs: 100 is below the minimum of 1024 (or 0: derive)"},
    rule_case{"command_poll_turns", "daemon { command_poll_turns: 0 }\n",
              "t.conf:1: daemon.command_poll_turns: 0 would never poll commands"}),
    [](const auto &info) { return std::string(info.param.name); });

// Syntax errors come from protobuf's parser with 1-based line:col; it places them at the token
// after the one it rejects (the ':' after an unknown field name, the '}' after a bad enum value).
INSTANTIATE_TEST_SUITE_P(Syntax, Rule, ::testing::Values(
    rule_case{"unknown_field", link_with("  a_to_b { dealy: \"5ms\" }\n"),
              "t.conf:5:17: Message type \"stasis.config.Pipe\" has no field named \"dealy\"."},
    rule_case{"unknown_enum", link_with("  a_to_b { aqm: CODEL }\n"),
              "t.conf:5:23: Unknown enumeration value of \"CODEL\" for field \"aqm\"."},
    rule_case{"field_twice", link_with("  a_to_b {\n    delay: \"1ms\"\n    delay: \"2ms\"\n  }\n"),
              "t.conf:7:10: Non-repeated field \"delay\" is specified multiple times."},
    rule_case{"unclosed", "link {\n  name: \"l\"\n", "t.conf:3:1: Expected identifier, got: "}),
    [](const auto &info) { return std::string(info.param.name); });

TEST(Errors, ARuleBrokenByDefaultsIsPlacedAtTheDirection) {
    // b_to_a sets the limit; shape sets RED; maxthresh is a default: the limit is what to change.
    EXPECT_EQ(only_error(link_with("  shape { aqm: RED }\n  b_to_a { queue_slots: 10 }\n")),
              "t.conf:6: link 'l' b_to_a.queue_slots: RED maxthresh 15 is above the queue limit of "
              "10 packets (queue_slots)");
}

TEST(Errors, AllErrorsAreReportedTogetherInFileOrder) {
    const std::string text = "daemon { burst: 0 }\n" +                          // line 1
                             link_with("  a_to_b { plr: 2 delay: \"1.5ns\" }\n") +  // lines 2-7
                             "link {\n  name: \"l\"\n  a { port: \"p0\" }\n  b { port: \"p1\" }\n}\n";  // 8-12
    const std::vector<std::string> errors = errors_of(text);
    const std::vector<std::string> want = {
        "t.conf:1: daemon.burst: 0 is not in 1..512",
        "t.conf:6: link 'l' a_to_b.delay: duration '1.5ns' is not a whole number of nanoseconds",
        "t.conf:9: link 'l' name: duplicate name (first used at line 2)",
        "t.conf:10: link 'l' a: port 'p0' untagged is already used by link 'l' a (line 4)",
        "t.conf:11: link 'l' b: port 'p1' untagged is already used by link 'l' b (line 5)",
    };
    EXPECT_EQ(errors, want);
    try {
        parse_config(text, "t.conf");
        FAIL() << "no error";
    } catch (const config_error &e) {
        EXPECT_EQ(std::string(e.what()), want[0] + "\n" + want[1] + "\n" + want[2] + "\n" + want[3] +
                                             "\n" + want[4]);
    }
}

TEST(Errors, SeveralRulesOfOnePipeAreAllReported) {
    const std::vector<std::string> errors =
        errors_of(link_with("  a_to_b { plr: 2 queue_slots: 0 red { q_weight: 0 } }\n"));
    EXPECT_EQ(errors, (std::vector<std::string>{
                          "t.conf:5: link 'l' a_to_b.queue_slots: 0 is not in 1..1048576",
                          "t.conf:5: link 'l' a_to_b.plr: 2 is not in [0, 1]",
                          "t.conf:5: link 'l' a_to_b.red.q_weight: 0 is not in (0, 1]",
                      }));
}

TEST(Errors, CheckPipeAppliesTheSameRulesToExactParameters) {
    pipe_params p;
    EXPECT_TRUE(check_pipe(p).empty());
    p.plr = 0.5;  // no loss kind: inconsistent unless built by the parser
    p.fifo_slots = 1000;
    p.delay_ns = -1;
    EXPECT_EQ(check_pipe(p), (std::vector<std::string>{
                                 "delay: negative duration '-1ns'",
                                 "plr: plr 0.5 with no loss model",
                                 "fifo_slots: 1000 is not 0 or a power of two up to 16777216",
                             }));
}

}  // namespace
}  // namespace stasis::dataplane

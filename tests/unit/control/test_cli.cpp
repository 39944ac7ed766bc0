// The `stasis` command against a fake agent: output, requests it builds, exit codes, help.
#include <atomic>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <google/protobuf/util/json_util.h>

#include <mutex>

#include "fake_agent.hpp"
#include "run_cli.hpp"

namespace stasis::control {
namespace {

using namespace std::chrono_literals;
using testing::cli_result;
using testing::fake_agent;
using testing::hello_reply;
using testing::run_cli;

// True when every token appears in `line`, in this order.
bool in_order(const std::string &line, std::initializer_list<std::string_view> tokens)
{
    size_t at = 0;
    for (auto t : tokens) {
        at = line.find(t, at);
        if (at == std::string::npos)
            return false;
        at += t.size();
    }
    return true;
}

std::vector<std::string> lines_of(const std::string &text)
{
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

LinkList two_way_link()
{
    LinkList list;
    auto *info = list.add_links();
    auto *link = info->mutable_link();
    link->set_name("lan0");
    link->mutable_a()->set_port("net_ring0");
    link->mutable_a()->set_vlan(10);
    link->mutable_b()->set_port("net_ring1");
    auto *ab = link->mutable_a_to_b();
    ab->set_delay("10ms");
    ab->set_jitter("1ms");
    ab->set_jitter_dist(config::NORMAL);
    ab->set_rate("100Mbit");
    ab->set_queue_slots(50);
    ab->set_queue_bytes("0");
    ab->set_plr(0.01);
    auto *ba = link->mutable_b_to_a();
    ba->set_delay("20ms");
    ba->set_jitter("0");
    ba->set_rate("0");
    ba->set_queue_bytes("64KiB");
    ba->mutable_gilbert_elliott()->set_p(0.01);
    ba->mutable_gilbert_elliott()->set_r(0.3);
    ba->mutable_gilbert_elliott()->set_loss_good(0);
    ba->mutable_gilbert_elliott()->set_loss_bad(1);
    ba->set_aqm(config::RED);
    ba->mutable_red()->set_thresh(5);
    ba->mutable_red()->set_maxthresh(15);
    ba->mutable_red()->set_q_weight(0.002);
    ba->mutable_red()->set_linterm(10);
    return list;
}

// An agent that answers link operations from canned data and records the last request.
struct link_agent {
    std::mutex lock;
    Request last;
    zmq::context_t ctx;
    fake_agent agent{ctx, [this](const Request &r) {
                         std::lock_guard g(lock);
                         last = r;
                         Reply reply;
                         if (r.has_hello())
                             return hello_reply(r);
                         if (r.has_link_show() && r.link_show().link() == "nope") {
                             reply.set_status(NOT_FOUND);
                             reply.set_message("no link named 'nope'");
                         } else if (r.has_link_show() || r.has_link_set()) {
                             *reply.mutable_links() = two_way_link();
                             if (r.has_link_set())
                                 reply.set_message("link 'lan0' updated");
                         } else if (r.has_link_stats()) {
                             auto *l = reply.mutable_stats()->add_links();
                             l->set_link("lan0");
                             l->mutable_a_to_b()->set_rx_packets(1000);
                             l->mutable_a_to_b()->set_tx_packets(990);
                             l->mutable_a_to_b()->set_drop_loss(7);
                             l->mutable_a_to_b()->set_drop_queue(3);
                             l->mutable_a_to_b()->set_lateness_p50_ns(12'340);
                             l->mutable_a_to_b()->set_lateness_p99_ns(1'250'000);
                             l->mutable_a_to_b()->set_lateness_max_ns(2'000'000'000);
                             auto *p = reply.mutable_stats()->add_ports();
                             p->set_port("net_ring0");
                             p->set_rx_unmatched(42);
                         }
                         return reply;
                     }};

    Request last_request()
    {
        std::lock_guard g(lock);
        return last;
    }
};

cli_result stasis(link_agent &a, std::vector<std::string> words)
{
    words.insert(words.begin(), {"--control", a.agent.endpoint()});
    return run_cli(words);
}

TEST(cli, hello)
{
    link_agent a;
    auto r = stasis(a, {"hello"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(in_order(r.out, {"fake-agent", "0.0.1", a.agent.endpoint()})) << r.out;
}

TEST(cli, link_show_prints_both_directions)
{
    link_agent a;
    auto r = stasis(a, {"link", "show"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 3u) << r.out;
    EXPECT_TRUE(in_order(lines[0], {"LINK", "ENDPOINTS", "DIR", "DELAY", "JITTER", "RATE", "QUEUE", "LOSS", "AQM"}))
        << lines[0];
    EXPECT_TRUE(in_order(lines[1], {"lan0", "net_ring0.10 <-> net_ring1", "a2b", "10ms", "1ms normal",
                                    "100Mbit", "50 pkts", "0.01", "droptail"}))
        << lines[1];
    EXPECT_TRUE(in_order(lines[2], {"b2a", "20ms", "-", "unlimited", "64KiB", "ge p=0.01 r=0.3 1-k=0 1-h=1",
                                    "red 5/15 w=0.002 1/p=10"}))
        << lines[2];
    EXPECT_EQ(lines[2].find("lan0"), std::string::npos) << "the name is printed once per link";
    EXPECT_EQ(a.last_request().link_show().link(), "");
}

TEST(cli, link_show_json_is_the_reply)
{
    link_agent a;
    auto r = stasis(a, {"link", "show", "lan0", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    Reply parsed;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &parsed).ok()) << r.out;
    EXPECT_EQ(parsed.links().SerializeAsString(), two_way_link().SerializeAsString());
    EXPECT_NE(parsed.request_id(), 0u);
    EXPECT_EQ(a.last_request().link_show().link(), "lan0");
}

TEST(cli, link_set_sends_the_parsed_changes)
{
    link_agent a;
    auto r = stasis(a, {"link", "set", "lan0", "--dir", "a2b", "delay=20ms", "plr=0.01"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(in_order(r.out, {"link 'lan0' updated", "lan0"})) << r.out;
    Request sent = a.last_request();
    ASSERT_TRUE(sent.has_link_set());
    EXPECT_EQ(sent.link_set().link(), "lan0");
    EXPECT_EQ(sent.link_set().direction(), LinkSet::A_TO_B);
    EXPECT_EQ(sent.link_set().changes().delay(), "20ms");
    EXPECT_DOUBLE_EQ(sent.link_set().changes().plr(), 0.01);
    EXPECT_FALSE(sent.link_set().changes().has_rate()) << "only the keys given change";
}

TEST(cli, link_set_refuses_bad_words_before_sending)
{
    link_agent a;
    auto r = stasis(a, {"link", "set", "lan0", "colour=blue"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("colour"), std::string::npos) << r.err;
    r = stasis(a, {"link", "set", "lan0", "--dir", "sideways", "delay=1ms"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("sideways"), std::string::npos) << r.err;
    r = stasis(a, {"link", "set", "lan0"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("nothing to change"), std::string::npos) << r.err;
    EXPECT_EQ(a.agent.calls(), 0);
}

TEST(cli, link_stats_prints_counters_and_ports)
{
    link_agent a;
    auto r = stasis(a, {"link", "stats"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto lines = lines_of(r.out);
    ASSERT_GE(lines.size(), 3u) << r.out;
    EXPECT_TRUE(in_order(lines[1], {"lan0", "a2b", "1000", "0", "990", "0", "7", "3", "12.3us", "1.25ms", "2s"}))
        << lines[1];
    EXPECT_TRUE(in_order(r.out, {"PORT", "UNMATCHED", "net_ring0", "42"})) << r.out;
}

TEST(cli, refusal_is_exit_1_with_status_and_message)
{
    link_agent a;
    auto r = stasis(a, {"link", "show", "nope"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("NOT_FOUND: no link named 'nope'"), std::string::npos) << r.err;
}

TEST(cli, no_answer_is_exit_1_naming_the_endpoint)
{
    zmq::context_t ctx;
    zmq::socket_t silent(ctx, zmq::socket_type::router);
    silent.set(zmq::sockopt::linger, 0);
    silent.bind("tcp://127.0.0.1:*");
    const std::string endpoint = silent.get(zmq::sockopt::last_endpoint);
    auto r = run_cli({"--control", endpoint, "--timeout", "50", "--tries", "2", "hello"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no answer from " + endpoint + " after 2 tries of 50 ms: it is connected, so it is busy"),
              std::string::npos)
        << r.err;

    silent.close();  // nothing listens there now
    r = run_cli({"--control", endpoint, "--timeout", "50", "--tries", "2", "hello"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no answer from " + endpoint + " after 2 tries of 50 ms: not connected"), std::string::npos)
        << r.err;
}

// A save is answered when it is done: longer than --timeout x --tries is fine, up to --long-timeout.
TEST(cli, save_waits_for_an_agent_that_is_still_saving)
{
    zmq::context_t ctx;
    std::atomic<int> saves{0};
    fake_agent agent(ctx, [&saves](const Request &r) {
        Reply reply;
        if (r.has_save()) {
            saves++;
            std::this_thread::sleep_for(std::chrono::milliseconds(600));
            reply.mutable_snapshot()->set_path(r.save().path());
            reply.mutable_snapshot()->set_packets(7);
        }
        return reply;
    });
    auto r = run_cli({"--control", agent.endpoint(), "--timeout", "50", "--tries", "2", "save", "/snap/x"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("saved /snap/x: 7 frames"), std::string::npos) << r.out;
    EXPECT_EQ(saves, 1);

    zmq::socket_t silent(ctx, zmq::socket_type::router);
    silent.set(zmq::sockopt::linger, 0);
    silent.bind("tcp://127.0.0.1:*");
    const std::string endpoint = silent.get(zmq::sockopt::last_endpoint);
    r = run_cli({"--control", endpoint, "--timeout", "50", "--tries", "2", "--long-timeout", "400", "save", "/snap/y"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(endpoint + " is connected but has not answered after 400 ms"), std::string::npos) << r.err;
}

TEST(cli, endpoint_comes_from_the_environment_unless_given)
{
    link_agent a;
    auto r = run_cli({"hello"}, {"STASIS_CONTROL=" + a.agent.endpoint()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    r = run_cli({"--control", a.agent.endpoint(), "hello"}, {"STASIS_CONTROL=tcp://127.0.0.1:1"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(a.agent.calls(), 2);
}

TEST(cli, usage_errors_are_exit_2)
{
    for (const auto &words : std::vector<std::vector<std::string>>{
             {},
             {"frobnicate"},
             {"link"},
             {"link", "frobnicate"},
             {"link", "show", "a", "b"},
             {"link", "show", "--colour"},
             {"--timeout", "soon", "hello"},
             {"--control"},
         }) {
        auto r = run_cli(words);
        std::string line;
        for (const auto &w : words)
            line += w + " ";
        EXPECT_EQ(r.exit_code, 2) << "stasis " << line << "\n" << r.err;
        EXPECT_NE(r.err.find("--help"), std::string::npos) << r.err;
        EXPECT_TRUE(r.out.empty()) << r.out;
    }
}

TEST(cli, help_at_every_level)
{
    auto top = run_cli({"--help"});
    EXPECT_EQ(top.exit_code, 0);
    EXPECT_TRUE(in_order(top.out, {"usage: stasis", "--control", "STASIS_CONTROL", "hello", "link"})) << top.out;

    auto link = run_cli({"link", "--help"});
    EXPECT_EQ(link.exit_code, 0);
    EXPECT_TRUE(in_order(link.out, {"usage: stasis link COMMAND", "show", "set", "stats"})) << link.out;

    auto set = run_cli({"link", "set", "-h"});
    EXPECT_EQ(set.exit_code, 0);
    EXPECT_TRUE(in_order(set.out, {"usage: stasis link set LINK [--dir both|a2b|b2a]", "delay=20ms"})) << set.out;
}

}  // namespace
}  // namespace stasis::control

// Clock probes: the NTP arithmetic of one exchange, the skew summary, and probe_clock keeping the
// exchange with the smallest round trip against a fake agent whose clock runs ahead.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "fake_agent.hpp"
#include "fake_protocol_agent.hpp"
#include "stasis/control/clock_probe.hpp"

namespace stasis::control {
namespace {

using namespace std::chrono_literals;
using testing::fake_agent;
using testing::fake_protocol_agent;
using testing::realtime_now_ns;

constexpr int64_t ms = 1'000'000, us = 1'000;

TEST(Clock, sample_offset_and_round_trip_from_four_instants)
{
    // The agent is 1000 ahead; 60 out, 10 in the agent, 50 back.
    const auto s = clock_sample(100, 1160, 1170, 220);
    EXPECT_EQ(s.offset_ns, ((1160 - 100) + (1170 - 220)) / 2);
    EXPECT_EQ(s.offset_ns, 1005);  // half the path asymmetry (60 vs 50) is the error
    EXPECT_EQ(s.rtt_ns, 110);      // 120 in all minus the agent's 10
    EXPECT_EQ(s.samples, 1);
    const auto behind = clock_sample(1000, 500, 500, 1020);  // 510 behind, symmetric
    EXPECT_EQ(behind.offset_ns, -510);
    EXPECT_EQ(behind.rtt_ns, 20);
}

TEST(Clock, summarize_skew_worst_rtt_and_bound)
{
    EXPECT_EQ(summarize({}).skew_ns, 0);
    EXPECT_EQ(summarize({}).bound_ns, 0);
    const clock_estimate one[] = {{4 * ms, 300 * us, 8}};
    EXPECT_EQ(summarize(one).skew_ns, 0);
    EXPECT_EQ(summarize(one).max_rtt_ns, 300 * us);
    EXPECT_EQ(summarize(one).bound_ns, 300 * us);
    const clock_estimate three[] = {{0, 100 * us, 8}, {3 * ms, 400 * us, 8}, {-2 * ms, 200 * us, 8}};
    const auto s = summarize(three);
    EXPECT_EQ(s.skew_ns, 5 * ms);
    EXPECT_EQ(s.max_rtt_ns, 400 * us);
    EXPECT_EQ(s.bound_ns, 5 * ms + 400 * us);
}

TEST(Clock, probe_finds_a_fixed_offset)
{
    fake_protocol_agent agent({.name = "d1", .offset_ns = 3 * ms});
    agent_client client(agent.endpoint());
    auto c = probe_clock(client, 8, 500ms, 1);
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_NEAR(double(c->offset_ns), double(3 * ms), double(1 * ms));
    EXPECT_GT(c->rtt_ns, 0);
    EXPECT_LT(c->rtt_ns, 50 * ms);
    EXPECT_EQ(c->samples, 8);
    EXPECT_EQ(agent.requests_of(Request::kClockProbe).size(), 8u);
}

// An agent 3 ms ahead whose request path is slow (20 ms) on every probe but one: the fast exchange
// is kept wherever it comes, and its offset is the least disturbed (the slow ones are 10 ms off).
TEST(Clock, probe_keeps_the_smallest_round_trip)
{
    for (int fast : {0, 3, 5}) {
        std::atomic<int> n{0};
        zmq::context_t ctx;
        fake_agent agent(ctx, [&](const Request &q) {
            if (q.has_hello())
                return testing::hello_reply(q);
            if (n++ != fast)
                std::this_thread::sleep_for(20ms);  // before the agent notes its receive instant
            Reply r;
            const int64_t t = realtime_now_ns() + 3 * ms;
            r.mutable_clock()->set_receive_ns(t);
            r.mutable_clock()->set_transmit_ns(t);
            return r;
        });
        agent_client client(agent.endpoint());
        // Connect first, as the controller does (Subscribe): a handshake would slow the first probe.
        ASSERT_TRUE(client.call(testing::hello_request(), 500ms, 1));
        auto c = probe_clock(client, 6, 500ms, 1);
        ASSERT_TRUE(c) << c.error().message;
        // The fast exchange was kept (a slow one has a round trip of 20 ms or more), and its offset
        // is within the NTP bound of half its round trip (a slow one is 10 ms off).
        EXPECT_LT(c->rtt_ns, 15 * ms) << "fast probe " << fast;
        EXPECT_LE(std::abs(c->offset_ns - 3 * ms), c->rtt_ns / 2 + 100 * us) << "fast probe " << fast;
        EXPECT_LT(std::abs(c->offset_ns - 3 * ms), 5 * ms) << "fast probe " << fast;
        EXPECT_EQ(c->samples, 6);
    }
}

TEST(Clock, probe_of_an_agent_without_clock_is_an_error)
{
    zmq::context_t ctx;
    fake_agent agent(ctx, testing::hello_reply);
    agent_client client(agent.endpoint());
    auto c = probe_clock(client, 3, 500ms, 1);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().what, call_error::kind::bad_reply);
    EXPECT_NE(c.error().message.find(agent.endpoint()), std::string::npos) << c.error().message;
}

TEST(Clock, probe_of_a_silent_agent_times_out)
{
    fake_protocol_agent agent({.name = "d1"});
    agent.set_silent(true);
    agent_client client(agent.endpoint());
    auto c = probe_clock(client, 3, 50ms, 1);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().what, call_error::kind::timeout);
}

}  // namespace
}  // namespace stasis::control

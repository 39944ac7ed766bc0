// What a peer can throw at an agent: retries, garbage, oversized and malformed messages.
#include <gtest/gtest.h>

#include <zmq_addon.hpp>

#include "fake_agent.hpp"
#include "stasis/control/agent_client.hpp"
#include "stasis/control/envelope.hpp"

namespace stasis::control {
namespace {

using namespace std::chrono_literals;
using testing::fake_agent;
using testing::hello_reply;
using testing::hello_request;

// A bare DEALER that sends whatever frames a test wants.
struct raw_peer {
    zmq::socket_t socket;

    raw_peer(zmq::context_t &ctx, const std::string &endpoint) : socket(ctx, zmq::socket_type::dealer)
    {
        socket.set(zmq::sockopt::linger, 0);
        socket.connect(endpoint);
    }

    void send(std::initializer_list<std::string_view> parts)
    {
        std::vector<zmq::message_t> frames;
        for (auto p : parts)
            frames.emplace_back(p.data(), p.size());
        ASSERT_TRUE(zmq::send_multipart(socket, frames));
    }

    // The reply body, or nothing after `timeout`.
    std::optional<Reply> receive(std::chrono::milliseconds timeout)
    {
        socket.set(zmq::sockopt::rcvtimeo, static_cast<int>(timeout.count()));
        std::vector<zmq::message_t> frames;
        if (!zmq::recv_multipart(socket, std::back_inserter(frames)))
            return std::nullopt;
        auto body = dealer_body(frames);
        EXPECT_TRUE(body.has_value());
        if (!body)
            return std::nullopt;
        auto reply = decode_reply(**body);
        EXPECT_TRUE(reply.has_value());
        return reply ? std::optional(*reply) : std::nullopt;
    }
};

std::string serialized(const Request &r) { return r.SerializeAsString(); }

TEST(agent, retried_request_runs_once_and_gets_the_same_reply)
{
    zmq::context_t ctx;
    std::atomic<int> n{0};
    fake_agent agent(ctx, [&](const Request &r) {
        Reply reply = hello_reply(r);
        reply.set_message("call " + std::to_string(++n));  // a second run would say "call 2"
        return reply;
    });
    raw_peer peer(ctx, agent.endpoint());
    Request request = hello_request();
    request.set_request_id(42);

    peer.send({"", serialized(request)});
    auto first = peer.receive(2000ms);
    peer.send({"", serialized(request)});
    auto second = peer.receive(2000ms);
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->request_id(), 42u);
    EXPECT_EQ(second->SerializeAsString(), first->SerializeAsString());
    EXPECT_EQ(first->message(), "call 1");
    EXPECT_EQ(agent.calls(), 1);

    request.set_request_id(43);  // a new id is a new request
    peer.send({"", serialized(request)});
    auto third = peer.receive(2000ms);
    ASSERT_TRUE(third);
    EXPECT_EQ(third->message(), "call 2");
    agent.stop();
    EXPECT_EQ(agent.counters().replayed, 1u);
}

TEST(agent, client_retry_after_timeout_is_deduplicated)
{
    zmq::context_t ctx;
    fake_agent agent(ctx, [](const Request &r) {
        std::this_thread::sleep_for(300ms);  // longer than the client's timeout: it will resend
        return hello_reply(r);
    });
    agent_client client(ctx, agent.endpoint());
    auto reply = client.call(hello_request(), 100ms, 10);
    ASSERT_TRUE(reply.has_value()) << reply.error().message;
    EXPECT_EQ(reply->status(), OK);
    // Let the queued retries reach the agent before counting.
    std::this_thread::sleep_for(100ms);
    agent.stop();
    EXPECT_EQ(agent.calls(), 1);
    EXPECT_GE(agent.counters().replayed, 1u) << "the client never resent";

    // The stale duplicate answers are skipped by the next call.
}

TEST(agent, a_late_answer_to_an_abandoned_call_is_not_taken_for_the_next)
{
    zmq::context_t ctx;
    std::atomic<int> n{0};
    fake_agent agent(ctx, [&](const Request &r) {
        Reply reply = hello_reply(r);
        if (++n == 1) {
            std::this_thread::sleep_for(300ms);
            reply.set_message("late");
        } else {
            reply.set_message("fresh");
        }
        return reply;
    });
    agent_client client(ctx, agent.endpoint());
    auto abandoned = client.call(hello_request(), 100ms, 1);
    ASSERT_FALSE(abandoned.has_value());
    EXPECT_EQ(abandoned.error().what, call_error::kind::timeout);

    std::this_thread::sleep_for(300ms);  // the late answer is now waiting in the client's socket
    auto next = client.call(hello_request(), 2000ms, 1);
    ASSERT_TRUE(next.has_value()) << next.error().message;
    EXPECT_EQ(next->message(), "fresh");
}

TEST(agent, garbage_gets_bad_request_and_the_agent_keeps_serving)
{
    zmq::context_t ctx;
    fake_agent agent(ctx, hello_reply);
    raw_peer peer(ctx, agent.endpoint());

    peer.send({"", "garbage\xff\xff"});
    auto reply = peer.receive(2000ms);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status(), BAD_REQUEST);
    EXPECT_EQ(reply->message(), "the 9-byte body is not a stasis.control.Request protobuf");

    peer.send({"", "one", "two"});
    reply = peer.receive(2000ms);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status(), BAD_REQUEST);
    EXPECT_NE(reply->message().find("one body frame"), std::string::npos) << reply->message();

    Request no_op;
    no_op.set_request_id(7);
    peer.send({"", serialized(no_op)});
    reply = peer.receive(2000ms);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status(), BAD_REQUEST);
    EXPECT_EQ(reply->request_id(), 7u);
    EXPECT_NE(reply->message().find("no operation"), std::string::npos) << reply->message();

    agent_client client(ctx, agent.endpoint());
    auto hello = client.call(hello_request(), 2000ms, 1);
    ASSERT_TRUE(hello.has_value()) << hello.error().message;
    EXPECT_EQ(hello->status(), OK);
    EXPECT_EQ(agent.calls(), 1) << "the handler saw a malformed request";
}

TEST(agent, oversized_message_is_refused_and_the_agent_keeps_serving)
{
    zmq::context_t ctx;
    fake_agent agent(ctx, hello_reply, {.endpoint = "tcp://127.0.0.1:*", .max_message_bytes = 4096});
    raw_peer peer(ctx, agent.endpoint());

    // A valid request, only too big: were the limit not applied it would be answered.
    Request big;
    big.set_request_id(1);
    big.mutable_link_show()->set_link(std::string(64 * 1024, 'x'));
    peer.send({"", serialized(big)});
    EXPECT_FALSE(peer.receive(500ms).has_value()) << "an oversized request was answered";

    agent_client client(ctx, agent.endpoint());
    auto hello = client.call(hello_request(), 2000ms, 1);
    ASSERT_TRUE(hello.has_value()) << hello.error().message;
    EXPECT_EQ(hello->status(), OK);
    EXPECT_EQ(agent.calls(), 1);
}

TEST(agent, client_timeout_names_the_endpoint)
{
    zmq::context_t ctx;
    // A ROUTER that never answers.
    zmq::socket_t silent(ctx, zmq::socket_type::router);
    silent.set(zmq::sockopt::linger, 0);
    silent.bind("tcp://127.0.0.1:*");
    const std::string endpoint = silent.get(zmq::sockopt::last_endpoint);

    agent_client client(ctx, endpoint);
    const auto start = std::chrono::steady_clock::now();
    auto reply = client.call(hello_request(), 50ms, 3);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(reply.has_value());
    EXPECT_EQ(reply.error().what, call_error::kind::timeout);
    EXPECT_EQ(reply.error().message, "no answer from " + endpoint +
                                         " after 3 tries of 50 ms: it is connected, so it is busy with a long "
                                         "request (a save or a load) or hung");
    EXPECT_GE(elapsed, 150ms);
    EXPECT_LT(elapsed, 2s);
}

TEST(agent, malformed_client_endpoint_throws_at_construction)
{
    EXPECT_THROW(agent_client("tcp://no-port-here"), std::runtime_error);
}

}  // namespace
}  // namespace stasis::control

// A client and a server with a fake handler: answers, request ids, failures, stopping.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <future>
#include <pthread.h>

#include "fake_agent.hpp"
#include "stasis/control/agent_client.hpp"

namespace stasis::control {
namespace {

using namespace std::chrono_literals;
using testing::fake_agent;
using testing::hello_reply;
using testing::hello_request;

class round_trip : public ::testing::TestWithParam<std::string> {
protected:
    // ZeroMQ leaves the file of an ipc:// endpoint it was given by name when the socket closes.
    void TearDown() override
    {
        const std::string ep = GetParam(), ipc = "ipc://";
        if (ep.rfind(ipc, 0) == 0)
            std::filesystem::remove(ep.substr(ipc.size()));
    }
};

TEST_P(round_trip, hello_is_answered_with_the_request_id)
{
    zmq::context_t ctx;
    std::atomic<uint64_t> seen_id{0};
    fake_agent agent(ctx, [&](const Request &r) {
        seen_id = r.request_id();
        return hello_reply(r);
    }, server_options{.endpoint = GetParam()});
    agent_client client(ctx, agent.endpoint());

    auto reply = client.call(hello_request(), 2000ms, 1);
    ASSERT_TRUE(reply.has_value()) << reply.error().message;
    EXPECT_EQ(reply->status(), OK);
    EXPECT_EQ(reply->hello().agent(), "fake-agent");
    EXPECT_NE(reply->request_id(), 0u);
    EXPECT_EQ(reply->request_id(), seen_id.load());

    auto second = client.call(hello_request(), 2000ms, 1);
    ASSERT_TRUE(second.has_value()) << second.error().message;
    EXPECT_NE(second->request_id(), reply->request_id()) << "every call gets a fresh id";
    EXPECT_EQ(agent.calls(), 2);
}

INSTANTIATE_TEST_SUITE_P(transports, round_trip,
                         ::testing::Values("tcp://127.0.0.1:*", "inproc://stasis-round-trip",
                                           "ipc:///tmp/stasis-unit-control-" + std::to_string(getpid())),
                         [](const auto &info) { return info.param.substr(0, info.param.find(':')); });

TEST(agent, handler_exception_becomes_failed_with_its_message)
{
    zmq::context_t ctx;
    fake_agent agent(ctx, [](const Request &) -> Reply { throw std::runtime_error("disk on fire"); });
    agent_client client(ctx, agent.endpoint());

    Request request;
    request.mutable_link_set()->set_link("lan0");
    auto reply = client.call(request, 2000ms, 1);
    ASSERT_TRUE(reply.has_value()) << reply.error().message;
    EXPECT_EQ(reply->status(), FAILED);
    EXPECT_EQ(reply->message(), "disk on fire");
    EXPECT_NE(reply->request_id(), 0u);

    // and the agent is still up
    auto again = client.call(request, 2000ms, 1);
    ASSERT_TRUE(again.has_value()) << again.error().message;
    EXPECT_EQ(again->status(), FAILED);
    agent.stop();
    EXPECT_EQ(agent.counters().failed, 2u);
}

TEST(agent, non_standard_exception_becomes_failed)
{
    zmq::context_t ctx;
    fake_agent agent(ctx, [](const Request &) -> Reply { throw 42; });
    agent_client client(ctx, agent.endpoint());
    auto reply = client.call(hello_request(), 2000ms, 1);
    ASSERT_TRUE(reply.has_value()) << reply.error().message;
    EXPECT_EQ(reply->status(), FAILED);
    EXPECT_NE(reply->message().find("not a std::exception"), std::string::npos) << reply->message();
}

TEST(agent, handler_status_and_message_pass_through)
{
    zmq::context_t ctx;
    fake_agent agent(ctx, [](const Request &r) {
        Reply reply;
        reply.set_status(NOT_FOUND);
        reply.set_message("no link '" + r.link_show().link() + "'");
        reply.set_request_id(12345);  // the server stamps the real id over whatever the handler set
        return reply;
    });
    agent_client client(ctx, agent.endpoint());
    Request request;
    request.mutable_link_show()->set_link("wan9");
    auto reply = client.call(request, 2000ms, 1);
    ASSERT_TRUE(reply.has_value()) << reply.error().message;
    EXPECT_EQ(reply->status(), NOT_FOUND);
    EXPECT_EQ(reply->message(), "no link 'wan9'");
    EXPECT_NE(reply->request_id(), 12345u);
}

TEST(agent, bind_failure_names_the_endpoint)
{
    zmq::context_t ctx;
    fake_agent first(ctx, hello_reply);
    try {
        agent_server second(ctx, {.endpoint = first.endpoint()}, hello_reply);
        FAIL() << "binding twice to " << first.endpoint() << " succeeded";
    } catch (const std::runtime_error &e) {
        EXPECT_NE(std::string(e.what()).find(first.endpoint()), std::string::npos) << e.what();
    }
}

TEST(agent, stop_from_another_thread_ends_run_within_a_tick)
{
    zmq::context_t ctx;
    agent_server server(ctx, {.endpoint = "tcp://127.0.0.1:*"}, hello_reply);
    auto done = std::async(std::launch::async, [&] { server.run(50ms); });
    std::this_thread::sleep_for(20ms);
    server.stop();
    ASSERT_EQ(done.wait_for(2s), std::future_status::ready);
    EXPECT_NO_THROW(done.get());
    EXPECT_TRUE(server.stopped());
}

agent_server *signalled_server = nullptr;
extern "C" void stop_on_signal(int) { signalled_server->stop(); }

TEST(agent, stop_from_a_signal_handler_interrupts_a_long_poll)
{
    zmq::context_t ctx;
    agent_server server(ctx, {.endpoint = "tcp://127.0.0.1:*"}, hello_reply);
    signalled_server = &server;
    struct sigaction action = {}, old = {};
    action.sa_handler = stop_on_signal;
    sigemptyset(&action.sa_mask);
    ASSERT_EQ(sigaction(SIGUSR1, &action, &old), 0);

    std::promise<pthread_t> started;
    auto thread_id = started.get_future();
    auto done = std::async(std::launch::async, [&] {
        started.set_value(pthread_self());
        server.run(30s);  // only the signal can end this in time
    });
    pthread_t target = thread_id.get();
    std::this_thread::sleep_for(50ms);  // let it enter the poll
    pthread_kill(target, SIGUSR1);
    const auto status = done.wait_for(3s);
    EXPECT_EQ(status, std::future_status::ready) << "run() did not return after the signal";
    if (status != std::future_status::ready) {
        server.stop();  // the tick is long; give up on a clean join rather than hang the suite
        std::abort();
    }
    EXPECT_NO_THROW(done.get()) << "EINTR escaped from run()";
    sigaction(SIGUSR1, &old, nullptr);
}

}  // namespace
}  // namespace stasis::control
